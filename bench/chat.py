"""Chat benchmark: one command, `.venv/bin/python bench/chat.py`.

1. Creates the benchmark's own PostgreSQL database if missing (CHAT_BENCH_DATABASE_URL, default
   postgres://postgres@127.0.0.1:5432/ews_chatbench), migrates it, empties the chat tables and
   makes CLIENTS/2 orders (one client and one coach each) with their threads and login sessions.
2. Starts the production ASGI server: uvicorn with 2 workers, DEBUG off, channels-redis on REDIS_URL.
3. Connects CLIENTS websockets (each pair shares a thread; half of them on each worker, as the
   kernel spreads connections), then every client sends at RATE/CLIENTS messages per second for
   DURATION seconds through `message:send`. The sender stamps each message; its partner records
   when `message:new` arrives. Delivery latency = arrival at the partner − send time (one clock,
   one process). Also measured: the sender's ack latency and the delivered messages per second.

Targets: issue 6, p99 delivery < 100 ms; issue 13, p99 < 50 ms at 200 clients / 200 messages/s over
2 uvicorn processes in every one of CHAT_BENCH_RUNS (6) runs, each on a freshly started server and
emptied chat tables. Then one run at CHAT_BENCH_MORE_CLIENTS (1,000) clients, reported against the
same figures but not a target. One table row per run.
Environment: CHAT_BENCH_DATABASE_URL, REDIS_URL (redis://127.0.0.1:6379/0), CHAT_BENCH_CLIENTS (200),
CHAT_BENCH_RATE (200 messages/s in all), CHAT_BENCH_DURATION (20 s), CHAT_BENCH_PORT (8766),
CHAT_BENCH_WORKERS (2), CHAT_BENCH_RUNS (6), CHAT_BENCH_CACHE_PREFIX (chatbench), CHAT_BENCH_MORE_CLIENTS (1000; 0 skips that run),
CHAT_BENCH_TRACE (1: per-stage times from the servers, their GC pauses and loop lag; bench/chat_trace.py),
CHAT_BENCH_PROFILE (1, with TRACE: a CPU-time cProfile per server thread, in the trace folder).
Every run also reports the servers' CPU ms per message saved and the generator's per message sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get("CHAT_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ews_chatbench")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CLIENTS = int(os.environ.get("CHAT_BENCH_CLIENTS", "200")) // 2 * 2
RATE = float(os.environ.get("CHAT_BENCH_RATE", "200"))
DURATION = float(os.environ.get("CHAT_BENCH_DURATION", "20"))
RUNS = int(os.environ.get("CHAT_BENCH_RUNS", "6"))
MORE_CLIENTS = int(os.environ.get("CHAT_BENCH_MORE_CLIENTS", "1000")) // 2 * 2
PORT = int(os.environ.get("CHAT_BENCH_PORT", "8766"))
WORKERS = int(os.environ.get("CHAT_BENCH_WORKERS", "2"))
# Per-stage timestamps from the servers (bench/chat_trace.py) and their GC pauses; off by default.
TRACE = os.environ.get("CHAT_BENCH_TRACE", "") not in ("", "0")
WARMUP = 3.0
TARGET_P99_MS = 50.0  # issue 13 (issue 6 asked for 100 ms)
PREFIX = os.environ.get("CHAT_BENCH_CACHE_PREFIX", "chatbench")  # the servers' cache keys

SERVER_ENV = {
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "CACHE_KEY_PREFIX": PREFIX,
    "DEBUG": "false",
    "SECRET_KEY": "chat-bench-only-" + "k" * 60,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "CLAMD_URL": "tcp://127.0.0.1:3310",  # required with DEBUG off; never contacted (no uploads here)
    "EMAIL_URL": "dummymail://",
    "LOG_LEVEL": "WARNING",
    "CONN_MAX_AGE": "60",
    # The benchmark sends 1 message/s per client; the per-user limit is for people, not this.
    "CHAT_RATE_LIMIT_COUNT": "100000",
    "SENTRY_DSN": "",
}


def log(message: str) -> None:
    print(f"[chat-bench] {message}", flush=True)


def ensure_database() -> None:
    import psycopg

    url = urlparse(DATABASE_URL)
    name = url.path.lstrip("/")
    admin = DATABASE_URL.replace(f"/{name}", "/postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            log(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    os.environ.update({k: v for k, v in SERVER_ENV.items() if k != "DEBUG"})
    os.environ["DEBUG"] = "true"  # the seeding process itself needs no production checks
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "elite.settings")
    import django

    django.setup()


def seed(pairs: int) -> list[tuple[int, str, str]]:
    """(thread id, client session cookie, coach session cookie) for each pair, made with bulk inserts."""
    import datetime

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Role, User
    from messaging.models import Message, MessageThread, ThreadReadState
    from orders.models import Order
    from requests_app.models import RequestStatus, ServiceRequest

    log("migrating")
    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE messaging_message, messaging_message_attachments, messaging_threadreadstate, "
            "messaging_messagethread RESTART IDENTITY CASCADE"
        )
    Message.objects.all().delete()
    ThreadReadState.objects.all().delete()
    now = timezone.now()
    # Users are only ever added (orders protect them): a bigger run tops the set up.
    existing = set(User.objects.filter(email__startswith="chatbench-").values_list("email", flat=True))
    password = User().password  # unusable: sessions are made directly
    new = [
        User(email=email, role=role, first_name=first, last_name=str(n), password=password)
        for n in range(pairs)
        for role, first, email in (
            (Role.CLIENT, "Client", f"chatbench-client-{n:04d}@example.com"),
            (Role.COACH, "Coach", f"chatbench-coach-{n:04d}@example.com"),
        )
        if email not in existing
    ]
    if new:
        log(f"creating {len(new)} users")
        User.objects.bulk_create(new)
    clients = list(User.objects.filter(email__startswith="chatbench-client-").order_by("email")[:pairs])
    coaches = list(User.objects.filter(email__startswith="chatbench-coach-").order_by("email")[:pairs])
    orders = list(Order.objects.filter(client__in=clients).select_related("client", "coach"))
    if len(orders) < pairs:
        Order.objects.filter(client__in=clients).delete()
        ServiceRequest.objects.filter(client__in=clients).delete()
        requests = ServiceRequest.objects.bulk_create(
            ServiceRequest(
                client=c,
                service_type="cv",
                title=f"Bench CV {n}",
                requirements="bench",
                deadline=now.date() + datetime.timedelta(days=14),
                price_minor=10000,
                currency="GBP",
                status=RequestStatus.ACCEPTED,
                expires_at=now + datetime.timedelta(days=3),
            )
            for n, c in enumerate(clients)
        )
        orders = Order.objects.bulk_create(
            Order(
                request=r,
                client=c,
                coach=k,
                service_type="cv",
                title=r.title,
                amount_minor=10000,
                currency="GBP",
                status="in_progress",
                deadline=r.deadline,
            )
            for r, c, k in zip(requests, clients, coaches, strict=True)
        )
    threads = MessageThread.objects.bulk_create(
        MessageThread(order=o, client_id=o.client_id, coach_id=o.coach_id) for o in orders
    )

    def session_for(user) -> str:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        return f"sessionid={store.session_key}"

    by_id = {u.pk: u for u in clients + coaches}
    return [
        (t.pk, session_for(by_id[o.client_id]), session_for(by_id[o.coach_id]))
        for t, o in zip(threads, orders, strict=True)
    ]


@dataclasses.dataclass
class Server:
    process: subprocess.Popen[bytes]
    log_path: Path
    trace_dir: str = ""

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def cpu_seconds(self) -> float:
        """User + system CPU of the master and its workers so far (from /proc)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in [self.process.pid, *self.worker_pids()]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
        return total


def start_server() -> Server:
    env = {**os.environ, **SERVER_ENV, "DJANGO_SETTINGS_MODULE": "elite.settings"}
    trace_dir = tempfile.mkdtemp(prefix="chat-bench-trace-") if TRACE else ""
    env["CHAT_BENCH_TRACE_DIR"] = trace_dir
    logfile = tempfile.NamedTemporaryFile(prefix="chat-bench-uvicorn-", suffix=".log", delete=False)  # noqa: SIM115
    log(f"starting uvicorn ({WORKERS} workers) on :{PORT}, log {logfile.name}")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.chat_trace:application" if TRACE else "elite.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(PORT),
            "--workers",
            str(WORKERS),
            "--log-level",
            "warning",
            "--no-access-log",
            "--ws",
            "websockets-sansio",
            "--timeout-graceful-shutdown",
            "3",
        ],
        cwd=ROOT,
        env=env,
        stdout=logfile,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the workers are stopped with it
    )
    return Server(process, Path(logfile.name), trace_dir)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop uvicorn and its workers (a worker left behind would keep accepting on the port)."""
    import signal

    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        with contextlib.suppress(ProcessLookupError):  # the master is gone; no worker may survive it
            os.killpg(process.pid, signal.SIGKILL)
        return


def wait_for_port(server: Server, timeout: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"uvicorn exited:\n{server.log_path.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", PORT), timeout=0.5):
                time.sleep(1.0)  # let every worker finish booting
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("uvicorn did not start in time")


class Stats:
    """Shared by every client coroutine. The phase times are set once everybody is connected."""

    def __init__(self):
        self.sent: dict[str, float] = {}
        self.delivery: list[float] = []
        self.ack: list[float] = []
        self.errors: list[str] = []
        self.delivered = 0
        self.measure_from = float("inf")
        self.stop_at = float("inf")
        self.go = asyncio.Event()
        # CHAT_BENCH_TRACE: token -> (wall-clock send time, server stamps of the ack, of the delivery)
        self.sent_wall: dict[str, float] = {}
        self.ack_trace: dict[str, dict] = {}
        self.new_trace: dict[str, dict] = {}
        self.cpu: dict[str, float] = {}  # CPU seconds over the measured window: server, generator
        self.generator_lag: list[float] = []  # ms the bench's own loop woke late, every 10 ms


async def open_pair(thread_id, cookies, stats: Stats, interval: float):
    """Connect a thread's two participants; return their sockets and the reader and writer tasks."""
    from websockets.asyncio.client import connect
    from websockets.typing import Origin

    origin = Origin(f"http://127.0.0.1:{PORT}")
    url = f"ws://127.0.0.1:{PORT}/ws/threads/{thread_id}/"
    sockets = [
        await connect(url, origin=origin, additional_headers={"Cookie": cookie}, max_queue=None) for cookie in cookies
    ]

    async def reader(ws, me):
        async for raw in ws:
            now = time.perf_counter()
            wall = time.time()
            event = json.loads(raw)
            kind = event["type"]
            if kind == "message:new":
                token = event["message"]["client_token"]
                sent = stats.sent.get(token)
                if sent is not None and not token.startswith(me + "-") and sent >= stats.measure_from:
                    stats.delivery.append(now - sent)
                    stats.delivered += 1
                    if TRACE and "_trace" in event["message"]:
                        stats.new_trace[token] = {**event["message"]["_trace"], "arrived": wall}
            elif kind == "message:ack":
                sent = stats.sent.get(event["client_token"])
                if sent is not None and sent >= stats.measure_from:
                    stats.ack.append(now - sent)
                    if TRACE and "_trace" in event:
                        stats.ack_trace[event["client_token"]] = {**event["_trace"], "ack_arrived": wall}
            elif kind == "error":
                stats.errors.append(event.get("code", "?"))

    async def writer(ws, me):
        await stats.go.wait()
        await asyncio.sleep(random.random() * interval)  # spread the senders over the interval
        n = 0
        next_at = time.perf_counter()
        while time.perf_counter() < stats.stop_at:
            n += 1
            token = f"{me}-{n}"
            stats.sent[token] = time.perf_counter()
            if TRACE:
                stats.sent_wall[token] = time.time()
            await ws.send(json.dumps({"type": "message:send", "body": f"bench {token}", "client_token": token}))
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    names = [f"t{thread_id}a", f"t{thread_id}b"]
    tasks = [asyncio.create_task(reader(ws, name)) for ws, name in zip(sockets, names, strict=True)]
    tasks += [asyncio.create_task(writer(ws, name)) for ws, name in zip(sockets, names, strict=True)]
    return sockets, tasks


async def watch_generator_loop(stats: Stats) -> None:
    """How late this process's own event loop runs (a late loop stamps arrivals late: the generator's
    share of the tail, not the servers')."""
    period = 0.01
    while True:
        before = time.perf_counter()
        await asyncio.sleep(period)
        now = time.perf_counter()
        if stats.measure_from <= before < stats.stop_at:
            stats.generator_lag.append((now - before - period) * 1000)


async def run_clients(pairs, server: Server) -> tuple[Stats, float, int]:
    stats = Stats()
    interval = len(pairs) * 2 / RATE  # each client's seconds between messages
    connect_started = time.perf_counter()
    opened = []
    # Connect in batches so the handshake storm does not itself dominate the measurement.
    for start in range(0, len(pairs), 20):
        batch = pairs[start : start + 20]
        opened += await asyncio.gather(*(open_pair(t, (a, b), stats, interval) for t, a, b in batch))
    connect_seconds = time.perf_counter() - connect_started
    connected = sum(len(sockets) for sockets, _ in opened)
    log(
        f"{connected} websockets connected in {connect_seconds:.1f} s; sending {RATE:g} messages/s "
        f"({WARMUP:g} s warm-up + {DURATION:g} s measured)"
    )
    stats.measure_from = time.perf_counter() + WARMUP
    watcher = asyncio.create_task(watch_generator_loop(stats))
    stats.stop_at = stats.measure_from + DURATION
    stats.go.set()
    await asyncio.sleep(max(0.0, stats.measure_from - time.perf_counter()))
    cpu_from = (server.cpu_seconds(), time.process_time(), saved_count())
    await asyncio.sleep(max(0.0, stats.stop_at - time.perf_counter()))
    stats.cpu = {
        "server": server.cpu_seconds() - cpu_from[0],
        "generator": time.process_time() - cpu_from[1],
        "saved": saved_count() - cpu_from[2],
    }
    await asyncio.sleep(2.0)  # time for the last deliveries
    watcher.cancel()
    for _sockets, tasks in opened:
        for task in tasks:
            task.cancel()

    async def close(ws):
        with contextlib.suppress(TimeoutError, OSError):
            await asyncio.wait_for(ws.close(), 2)

    await asyncio.gather(*(close(ws) for sockets, _ in opened for ws in sockets))
    return stats, connect_seconds, connected


def saved_count() -> int:
    """Messages in the bench database now (a plain connection: this runs on the bench's event loop)."""
    import psycopg

    with psycopg.connect(DATABASE_URL) as conn:
        row = conn.execute("SELECT count(*) FROM messaging_message").fetchone()
    return int(row[0]) if row else 0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


@dataclasses.dataclass
class Run:
    label: str
    clients: int
    connected: int
    connect_seconds: float
    sent: int
    delivered_per_second: float
    saved: int
    p50: float
    p99: float
    worst: float
    ack_p99: float
    errors: list[str]
    load: tuple[float, float]
    cpu: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def cpu_ms_per_message(self) -> tuple[float, float]:
        """CPU ms in the measured window per message: the servers' (uvicorn master and workers, not
        PostgreSQL or Redis) per message they saved in it, the generator's per message it sent.
        Less load-dependent than the latencies."""
        saved, sent = max(1, int(self.cpu.get("saved", 0))), max(1, self.sent)
        return self.cpu.get("server", 0.0) * 1000 / saved, self.cpu.get("generator", 0.0) * 1000 / sent

    @property
    def met(self) -> bool:
        return (
            self.connected == self.clients
            and self.p99 < TARGET_P99_MS
            and self.delivered_per_second >= 0.95 * RATE
            and not self.errors
        )


def one_run(label: str, clients: int) -> Run:
    """Fresh chat tables and a freshly started server: runs do not warm each other."""
    load_at_start = os.getloadavg()[0]
    pairs = seed(clients // 2)
    server = start_server()
    try:
        wait_for_port(server)
        stats, connect_seconds, connected = asyncio.run(run_clients(pairs, server))
    finally:
        stop_server(server.process)
    from messaging.models import Message

    delivery_ms = [d * 1000 for d in stats.delivery]
    run = Run(
        label=label,
        clients=clients,
        connected=connected,
        connect_seconds=connect_seconds,
        sent=sum(1 for t in stats.sent.values() if stats.measure_from <= t < stats.stop_at),
        delivered_per_second=stats.delivered / DURATION,
        saved=Message.objects.count(),
        p50=percentile(delivery_ms, 50),
        p99=percentile(delivery_ms, 99),
        worst=max(delivery_ms, default=float("nan")),
        ack_p99=percentile([d * 1000 for d in stats.ack], 99),
        errors=stats.errors,
        load=(load_at_start, os.getloadavg()[0]),
        cpu=stats.cpu,
    )
    if TRACE:
        report_trace(stats, server.trace_dir)
    lag = stats.generator_lag
    log(
        f"{label}: {run.connected}/{clients} connected, p99 {run.p99:.1f} ms, {run.delivered_per_second:.0f} msg/s; "
        f"the generator's loop late by p99 {percentile(lag, 99):.1f} ms, max {max(lag, default=0):.1f} ms "
        f"({sum(v > 5 for v in lag)} of {len(lag)} wake-ups > 5 ms)"
    )
    return run


# The sending worker's stamps, in whatever order the code under test makes them (bench/chat_trace.py).
SENDER_STAMPS = (
    "sent",
    "recv",
    "checked",
    "db_start",
    "rate",
    "inserted",
    "rendered",
    "committed",
    "push_start",
    "published",
    "ack",
)
RECEIVER_STAGES = [
    ("push_start", "handler", "new"),  # pub/sub to the receiving worker, its queue, the consumer's dispatch
    ("handler", "out", "new"),
    ("out", "arrived", "new"),
    ("published", "ack_arrived", "ack"),
    ("sent", "arrived", "new"),
]


def report_trace(stats: Stats, trace_dir: str) -> None:
    """Per-stage p50/p99/max of the traced messages, what the slowest 1 % spent where, and GC pauses."""
    rows = []
    for token, new in stats.new_trace.items():
        ack = stats.ack_trace.get(token)
        if ack is None or token not in stats.sent_wall:
            continue
        rows.append({"new": {**new, "sent": stats.sent_wall[token]}, "ack": ack})
    if not rows:
        log("trace: no traced messages")
        return

    def span(row, start, end, frame):
        stamps = row[frame]
        if start not in stamps or end not in stamps:
            return None
        return (stamps[end] - stamps[start]) * 1000

    def stage_ms(row, start, end, frame):
        """A sender-side stage counts only where `end` is the stamp right after `start` in time."""
        if frame != "sender":
            return span(row, start, end, frame)
        stamps = {**row["ack"], "sent": row["new"]["sent"]}
        order = sorted((name for name in SENDER_STAMPS if name in stamps), key=lambda name: stamps[name])
        if start not in order or order[order.index(start) + 1 :][:1] != [end]:
            return None
        return (stamps[end] - stamps[start]) * 1000

    rows.sort(key=lambda row: span(row, "sent", "arrived", "new") or 0.0)
    tail = rows[-max(1, len(rows) // 100) :]
    log(f"trace files in {trace_dir}")
    print(f"\nper stage, ms, {len(rows)} traced messages (tail = the slowest {len(tail)}: their mean per stage)")
    print(f"| {'stage (sending worker, then receiving)':<34} | n | p50 | p99 | max | tail mean |")
    print("|---|---:|---:|---:|---:|---:|")
    stages: dict[tuple[str, str, str], None] = {}
    for row in rows:
        stamps = {**row["ack"], "sent": row["new"]["sent"]}
        order = sorted((name for name in SENDER_STAMPS if name in stamps), key=lambda name: stamps[name])
        for start, end in zip(order, order[1:], strict=False):
            stages.setdefault((start, end, "sender"), None)
    for start, end, frame in [*stages, *RECEIVER_STAGES]:
        values = [v for v in (stage_ms(row, start, end, frame) for row in rows) if v is not None]
        tail_values = [v for v in (stage_ms(row, start, end, frame) for row in tail) if v is not None]
        tail_mean = sum(tail_values) / len(tail_values) if tail_values else float("nan")
        label = f"{start} -> {end}"
        print(
            f"| {label:<34} | {len(values)} | {percentile(values, 50):.1f} | {percentile(values, 99):.1f} "
            f"| {max(values, default=float('nan')):.1f} | {tail_mean:.1f} |"
        )
    window = (min(r["new"]["sent"] for r in rows), max(r["new"]["arrived"] for r in rows))
    for name in sorted(Path(trace_dir).glob("[0-9]*[0-9].json")) if trace_dir else []:
        data = json.loads(name.read_text())
        pauses = [(g, at, ms) for g, at, ms in data["gc"] if window[0] <= at <= window[1]]
        lag = [ms for at, ms in data["loop_lag"] if window[0] <= at <= window[1]]
        by_gen = {g: [ms for gg, _, ms in pauses if gg == g] for g in (0, 1, 2)}
        print(
            f"worker {name.stem}: GC "
            + ", ".join(f"gen{g} {len(v)}× max {max(v, default=0):.1f} ms" for g, v in by_gen.items())
            + f"; loop late > 2 ms {len(lag)}×, > 20 ms {sum(ms > 20 for ms in lag)}×, max {max(lag, default=0):.1f} ms"
        )
        # Slow messages whose life overlaps a long pause of this worker.
        long_pauses = [(at, ms) for _, at, ms in pauses if ms > 5]
        hit = sum(
            any(r["new"]["sent"] <= at + ms / 1000 and at <= r["new"]["arrived"] for at, ms in long_pauses)
            for r in tail
        )
        print(f"  tail messages overlapping one of its GC pauses > 5 ms: {hit} of {len(tail)}")


def print_table(runs: list[Run]) -> None:
    header = (
        "| run | clients | connected | delivered/s | saved | p50 ms | p99 ms | max ms | ack p99 ms "
        "| errors | CPU ms/msg server, generator | load start/end | target |"
    )
    print()
    print(
        f"uvicorn {WORKERS} workers, channels-redis, {RATE:g} messages/s offered for {DURATION:g} s "
        f"after {WARMUP:g} s warm-up, {os.cpu_count()} CPUs; target p99 < {TARGET_P99_MS:g} ms"
    )
    print(header)
    print("|" + "|".join("-" * (len(cell) + 0) for cell in header.split("|")[1:-1]) + "|")
    for r in runs:
        target = (
            ("met" if r.met else "MISSED") if r.clients == CLIENTS else ("within" if r.met else "over") + " (report)"
        )
        errors = str(len(r.errors)) + (f" {sorted(set(r.errors))}" if r.errors else "")
        print(
            f"| {r.label} | {r.clients} | {r.connected} | {r.delivered_per_second:.0f} | {r.saved} "
            f"| {r.p50:.1f} | {r.p99:.1f} | {r.worst:.1f} | {r.ack_p99:.1f} | {errors} "
            f"| {r.cpu_ms_per_message[0]:.2f}, {r.cpu_ms_per_message[1]:.2f} "
            f"| {r.load[0]:.1f}/{r.load[1]:.1f} | {target} |"
        )


def main() -> int:
    started = time.monotonic()
    ensure_database()
    setup_django()
    runs = [one_run(f"{n + 1} of {RUNS}", CLIENTS) for n in range(RUNS)]
    if MORE_CLIENTS:
        runs.append(one_run("more clients", MORE_CLIENTS))
    print_table(runs)
    met = sum(r.met for r in runs if r.clients == CLIENTS)
    print(
        f"\ntarget: {CLIENTS} clients, p99 < {TARGET_P99_MS:g} ms at {RATE:g} messages/s in {RUNS} of {RUNS} runs "
        f"-> {met} of {RUNS} {'MET' if met == RUNS else 'NOT MET'}; wall time {time.monotonic() - started:.0f} s"
    )
    return 0 if met == RUNS else 1


if __name__ == "__main__":
    sys.exit(main())
