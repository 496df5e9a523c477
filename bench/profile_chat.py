"""Profile one chat message's server work in one process, on bench/chat.py's database and settings.

    CHAT_BENCH_DATABASE_URL=postgres://…/ews_chatbench .venv/bin/python bench/profile_chat.py

What a `message:send` costs the worker that receives it, without the websocket: the consumer's
database call (`ThreadConsumer._save`: session check, rate limit, INSERT, UPDATE, COMMIT, payload,
version bumps) on the real pool, then the push after commit on the event loop (live lookup,
group_send), then what the partner's socket does with the event (`chat_message`: as_seen_by, JSON).
Prints the statements and Redis round trips of one message, then the CPU ms per message of an
unprofiled run of PROFILE_MESSAGES (300), and the top functions of a CPU-time cProfile
(PROFILE_TOP, 30). Run bench/chat.py once first: it creates and seeds the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import io
import os
import pstats
import sys
import threading
import time
import uuid
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.chat import setup_django  # noqa: E402
from bench.profile_webhooks import _counting_round_trips  # noqa: E402

MESSAGES = int(os.environ.get("PROFILE_MESSAGES", "300"))
TOP = int(os.environ.get("PROFILE_TOP", "30"))


class _Socket:
    """What the partner's socket sends, kept instead of written to a websocket."""

    def __init__(self) -> None:
        self.frames: list[str] = []

    async def __call__(self, message: dict) -> None:
        self.frames.append(message.get("text", ""))


async def _consumers():
    from asgiref.sync import sync_to_async
    from django.contrib.sessions.models import Session

    from accounts.models import User
    from messaging.consumers import ThreadConsumer
    from messaging.models import MessageThread

    def load():
        thread = MessageThread.objects.filter(client__email__startswith="chatbench-").order_by("pk").first()
        if thread is None:
            raise SystemExit("no bench thread: run bench/chat.py once first")
        users = {u.pk: u for u in User.objects.filter(pk__in=[thread.client_id, thread.coach_id])}
        keys = {}
        for session in Session.objects.all().iterator():
            data = session.get_decoded()
            pk = int(data.get("_auth_user_id", 0))
            if pk in users and session.expire_date.timestamp() > time.time():
                keys[pk] = session.session_key
        return thread, users, keys

    thread, users, keys = await sync_to_async(load)()
    made = []
    for pk in (thread.client_id, thread.coach_id):
        consumer = ThreadConsumer()
        consumer.scope = {
            "type": "websocket",
            "user": users[pk],
            "url_route": {"kwargs": {"thread_id": thread.pk}},
            "session": type("S", (), {"session_key": keys.get(pk)})(),
        }
        consumer.base_send = _Socket()
        consumer.user = users[pk]
        consumer.thread_id = thread.pk
        consumer._acked = deque(maxlen=64)
        consumer.session_key = keys.get(pk)
        assert await consumer._load_thread()
        made.append(consumer)
    return made


async def _one(sender, partner, events: asyncio.Queue) -> None:
    from messaging import realtime

    payload = await sender._save("bench message https://example.com/x " + "text " * 10, uuid.uuid4().hex, [])
    assert payload is not None, "the session check failed"
    sender._acked.append(payload["id"])
    await sender.send_json({"type": "message:ack", "client_token": payload["client_token"], "message": payload})
    while realtime._pushing:  # the push after commit, on this loop
        await asyncio.gather(*list(realtime._pushing))
    event = await events.get()
    await partner.chat_message(event)


def _database_backends_cpu_seconds() -> float | None:
    """CPU seconds used so far by every PostgreSQL backend on this database (the pool threads' connections
    and this one; nothing else connects to the bench's database while this runs), or None off PostgreSQL."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        pids = [pid for (pid,) in cursor.fetchall()]
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / os.sysconf("SC_CLK_TCK")


async def main() -> None:
    from asgiref.sync import sync_to_async
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from messaging import realtime

    sender, partner = await _consumers()
    realtime.push_without_waiting()
    events: asyncio.Queue = asyncio.Queue()
    layer = realtime.get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(realtime.thread_group(sender.thread_id), channel)

    async def receive_forever():
        while True:
            await events.put(await layer.receive(channel))

    receiver = asyncio.ensure_future(receive_forever())
    for _ in range(5):  # imports, connections, the subscription
        await _one(sender, partner, events)

    # Statements are counted on the pool thread that ran the save: count them there.
    from messaging import consumers

    seen: list = []
    original = consumers._PooledDatabaseSyncToAsync.thread_handler

    def counting_handler(self, loop, *args, **kwargs):
        with CaptureQueriesContext(connection) as captured:
            result = original(self, loop, *args, **kwargs)
        seen.extend(captured.captured_queries)
        return result

    consumers._PooledDatabaseSyncToAsync.thread_handler = counting_handler  # type: ignore[method-assign]
    with _counting_round_trips() as trips:
        await _one(sender, partner, events)
    consumers._PooledDatabaseSyncToAsync.thread_handler = original  # type: ignore[method-assign]
    print(f"statements for one message: {len(seen)}")
    for number, query in enumerate(seen, 1):
        print(f"  {number:2d}. {query['sql'][:140]}")
    print(
        f"Redis round trips for one message (sync client; the pub/sub publish on the loop is not counted): {len(trips['redis'])}: {', '.join(trips['redis'])}"
    )

    backends = await sync_to_async(_database_backends_cpu_seconds)()
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(MESSAGES):
        await _one(sender, partner, events)
    wall_ms = (time.perf_counter() - started) * 1000 / MESSAGES
    cpu_ms = (time.process_time() - cpu) * 1000 / MESSAGES
    backends_after = await sync_to_async(_database_backends_cpu_seconds)()
    postgres = (
        f", PostgreSQL backends {(backends_after - backends) * 1000 / MESSAGES:.2f} ms CPU"
        if backends is not None and backends_after is not None
        else ""
    )
    print(f"\n{cpu_ms:.2f} ms CPU per message{postgres} ({wall_ms:.2f} ms wall), {MESSAGES} messages, one at a time")

    # One CPU-time profiler for the loop's thread and one for each pool thread, merged.
    profilers: dict[str, cProfile.Profile] = {}

    def profiled_handler(self, loop, *args, **kwargs):
        profiler = profilers.setdefault(threading.current_thread().name, cProfile.Profile(time.thread_time))
        profiler.enable()
        try:
            return original(self, loop, *args, **kwargs)
        finally:
            profiler.disable()

    consumers._PooledDatabaseSyncToAsync.thread_handler = profiled_handler  # type: ignore[method-assign]
    main_profiler = profilers["loop"] = cProfile.Profile(time.thread_time)
    main_profiler.enable()
    for _ in range(MESSAGES):
        await _one(sender, partner, events)
    main_profiler.disable()
    consumers._PooledDatabaseSyncToAsync.thread_handler = original  # type: ignore[method-assign]
    receiver.cancel()
    stats = pstats.Stats(*profilers.values())
    print(f"function calls per message (profiled): {stats.total_calls / MESSAGES:,.0f}")  # type: ignore[attr-defined]
    print(f"load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    if os.environ.get("PROFILE_OUT"):
        stats.dump_stats(os.environ["PROFILE_OUT"])
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        stats.stream = out  # type: ignore[attr-defined]
        stats.strip_dirs().sort_stats(order).print_stats(TOP)
        print(out.getvalue())


if __name__ == "__main__":
    setup_django()
    asyncio.run(main())
