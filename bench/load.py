"""The load side of bench/marketplace.py: gunicorn, wrk with per-thread seeds, the access log
that proves how many distinct URLs a run asked for, worker RSS, and a signed-webhook sender.

Kept apart from the seeding and the table so each piece reads on its own.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# One line per request, easy to parse: status, method, path with its query string, and the Cookie header
# ("-" without one): the cold rows count the distinct sessions they sent, as the varied rows count URLs.
ACCESS_FORMAT = "ACCESS %(s)s %(m)s %(U)s%(q)s %({cookie}i)s"
ACCESS_LINE = re.compile(r"^ACCESS (\d{3}) (\w+) (\S+) (.*)$")

# Every wrk thread gets its own seed: setup() runs once per thread in wrk's main state and
# numbers the threads; init() runs in the thread with the run's salt passed after `--`.
# (Seeding both threads with os.time() made them ask for the same "random" URLs.)
SEEDED_LUA_PRELUDE = """
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("thread_number", counter)
end
function init(args)
  run_salt = tonumber(args[1])
  math.randomseed(tonumber(args[1]) * 7919 + thread_number * 104729)
  math.random(); math.random(); math.random()
end
"""


@dataclass
class Page:
    label: str
    path: str
    cookie: str = ""
    lua_request: str | None = None  # body of a wrk `request` function for varied URLs
    random_urls: bool = False
    # A cold row: each request one of these users' sessions, none twice in a run (COLD_LUA_REQUEST), and
    # their pages made stale (core.pages.users_changed) before the measured run, so every request is a miss.
    cold_users: tuple[int, ...] = ()

    def lua(self) -> str | None:
        if self.lua_request is None:
            return None
        return SEEDED_LUA_PRELUDE + self.lua_request


@dataclass
class Result:
    rps: float
    p50: float
    p99: float
    errors: int = 0
    socket: str = ""
    requests: int = 0  # counted in the access log
    distinct: int = 0  # distinct URLs; on a cold row distinct sessions (Cookie headers)
    not_ok: int = 0  # answers other than 200 in the access log (wrk counts a redirect to the login as a success)
    extra: dict = field(default_factory=dict)


# --- server ---------------------------------------------------------------------------------


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        # Like gunicorn: connections of an earlier run in TIME_WAIT do not block the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_server(port: int, env: dict, logfile) -> subprocess.Popen:
    """gunicorn, 2 sync workers as in the Procfile, never recycled: a restart (cold templates and
    connections) would land in whichever page is being measured."""
    if not port_is_free(port):
        sys.exit(f"Port {port} is in use by another program; set BENCH_PORT to a free port.")
    gunicorn = shutil.which("gunicorn", path=str(ROOT / ".venv" / "bin")) or "gunicorn"
    command = [gunicorn, "elite.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    command += ["--access-logfile", "-", "--access-logformat", ACCESS_FORMAT, "--chdir", str(ROOT)]
    server = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                if response.status == 200 and server.poll() is None:
                    return server
        except OSError:
            time.sleep(0.3)
    stop_server(server)
    sys.exit("gunicorn did not start; see its log.")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def worker_pids(server: subprocess.Popen) -> list[int]:
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    return sorted(int(pid) for pid in children.read_text().split()) if children.exists() else []


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def check_page(port: int, page: Page) -> None:
    headers = {"Cookie": page.cookie} if page.cookie else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{page.path}", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
        if response.status != 200 or "/accounts/login/" in response.url:
            sys.exit(f"{page.path} answered {response.status} ({response.url}); not benchmarking an error page.")
    # An API path answers 401/403 without a session (urlopen raises); a page shows "Log out".
    if page.cookie and not page.path.startswith("/api/") and b"Log out" not in body:
        sys.exit(f"{page.path}: the session cookie did not log in.")


def wait_until_idle(port: int, limit: float = 10.0) -> None:
    """Requests wrk gave up on (its timeout) are still queued in the workers when it exits; the
    next page must not be measured behind them. Idle = /health answers within 50 ms."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=limit) as response:
                response.read()
        except OSError:
            pass
        if time.monotonic() - started < 0.05:
            return


# --- wrk ------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"wrk printed no {pattern!r}:\n{text}")
    return match.group(1)


def _ms(text: str) -> float:
    number, unit = _found(r"([\d.]+)(us|ms|s|m)", text), _found(r"[\d.]+(us|ms|s|m)", text)
    return float(number) * _UNITS[unit]


class AccessLog:
    """Reads what the server logged since the last mark: the proof of distinct URLs."""

    def __init__(self, path: str):
        self.path = path
        self.offset = 0

    def mark(self) -> None:
        self.offset = os.path.getsize(self.path)

    def since_mark(self) -> list[tuple[str, str, str, str]]:
        time.sleep(0.2)  # the workers write their last lines after wrk's last response
        with open(self.path, encoding="utf-8", errors="replace") as log:
            log.seek(self.offset)
            lines = log.read().splitlines()
        return [m.groups() for line in lines if (m := ACCESS_LINE.match(line))]  # type: ignore[misc]


def run_wrk(
    port: int,
    page: Page,
    *,
    duration: int,
    threads: int,
    connections: int,
    salt: int,
    script: Path | None,
    timeout: int,
):
    """wrk drops a request after `timeout` s and does not count it: on an overloaded machine a
    page slower than connections × its service time / 2 workers shows as ~0 req/s, not as slow."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", f"{timeout}s"]
    if page.cookie:
        command += ["-H", f"Cookie: {page.cookie}"]
    if script is not None:
        command += ["-s", str(script)]
    command += [f"http://127.0.0.1:{port}{page.path}", "--", str(salt)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return Result(
        rps=float(_found(r"Requests/sec:\s+([\d.]+)", output)),
        p50=_ms(_found(r"\s50%\s+([\d.]+\w+)", output)),
        p99=_ms(_found(r"\s99%\s+([\d.]+\w+)", output)),
        errors=int(errors.group(1)) if errors else 0,
        socket=socket_errors.group(1) if socket_errors else "",
    )


# --- webhooks over HTTP -----------------------------------------------------------------------


def post_all(port: int, path: str, items: list[tuple[bytes, dict]], *, concurrency: int) -> tuple[float, int]:
    """POST every (body, headers) from `concurrency` senders; (events/s, failures: non-200 or no answer)."""
    chunks = [items[i::concurrency] for i in range(concurrency)]
    failures = [0] * concurrency

    def send(number: int) -> None:
        for body, headers in chunks[number]:
            # One connection per event: gunicorn's sync workers close it after each response.
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
                response = conn.getresponse()
                response.read()
                failures[number] += response.status != 200
            except OSError:
                failures[number] += 1
            finally:
                conn.close()

    workers = [threading.Thread(target=send, args=(n,)) for n in range(concurrency)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return len(items) / (time.perf_counter() - started), sum(failures)
