"""Per-stage timestamps for bench/chat.py (CHAT_BENCH_TRACE=1): the ASGI app with the chat path stamped.

uvicorn serves `bench.chat_trace:application` instead of `elite.asgi:application`; the product code is
unchanged, its functions are wrapped here. Each stamp is time.time() (one clock for every process on
the machine). The stamps ride on the frames the bench already receives:

- the sender's `message:ack` carries `_trace` with every stage on the sending worker:
  recv (the frame reached ThreadConsumer.receive), checked (the session re-check's queries done, in a
  database thread), db_start (the save's database call started), rate (rate limit checked), inserted (INSERT, UPDATE and the version bump done), rendered
  (the payload's two HTML forms rendered), committed (COMMIT done, on_commit running), push_start (the live-channel lookup done, group_send handed to the loop), published
  (group_send returned), ack (the ack frame handed to the websocket);
- the partner's `message:new` carries the sending worker's stamps up to push_start, plus handler (the
  receiving consumer's chat_message started) and out (the frame handed to the websocket).

Each worker also writes its garbage-collector pauses and event-loop lag to CHAT_BENCH_TRACE_DIR/<pid>.json
when it stops (ASGI lifespan shutdown).
"""

from __future__ import annotations

import asyncio
import contextvars
import cProfile
import gc
import json
import os
import sys
import threading
import time

from elite.asgi import application  # what uvicorn serves, wrapped below
from messaging import consumers, realtime, services

# An experiment knob, not a product setting: the GIL's switch interval in the servers (default 5 ms).
if os.environ.get("CHAT_BENCH_SWITCH_INTERVAL"):
    sys.setswitchinterval(float(os.environ["CHAT_BENCH_SWITCH_INTERVAL"]))

_trace: contextvars.ContextVar[dict | None] = contextvars.ContextVar("chat_trace", default=None)


def _stamp(name: str) -> None:
    trace = _trace.get()
    if trace is not None:
        trace[name] = time.time()


_receive = consumers._JsonSocket.receive


async def receive(self, text_data=None, bytes_data=None):
    _trace.set({"recv": time.time()})
    return await _receive(self, text_data, bytes_data)


_session_is_live = consumers._JsonSocket._session_is_live


def session_is_live(self):
    live = _session_is_live(self)
    _stamp("checked")
    return live


_save = consumers.ThreadConsumer.__dict__["_save"].func


def save(self, body, token, attachment_ids):
    _stamp("db_start")
    return _save(self, body, token, attachment_ids)


_check_rate_limit = services.check_rate_limit


def check_rate_limit(user):
    _check_rate_limit(user)
    _stamp("rate")


_message_data = realtime.message_data


def message_data(*args, **kwargs):
    _stamp("inserted")  # send_message builds the payload after its INSERT, UPDATE and version bump
    data = _message_data(*args, **kwargs)
    _stamp("rendered")
    return data


_message_created = realtime.message_created


def message_created(data, thread):
    trace = _trace.get()
    if trace is not None:
        trace["committed"] = time.time()
        data["_trace"] = trace  # the same dict: later stamps land in the ack too
    _message_created(data, thread)


_send = realtime._send


def send(*pushes):
    trace = _trace.get()
    if trace is not None:
        trace["push_start"] = time.time()
        for _group, event in pushes:
            if "message" in event:
                event["message"] = {**event["message"], "_trace": dict(trace)}  # a copy: frozen at push_start
    _send(*pushes)
    _stamp("published")


_send_json = consumers._JsonSocket.send_json


async def send_json(self, data):
    if data.get("type") == "message:ack":
        trace = _trace.get()
        if trace is not None:
            trace["ack"] = time.time()
            data = {**data, "_trace": trace}
    elif data.get("type") == "message:new" and "_trace" in data["message"]:
        data["message"]["_trace"]["out"] = time.time()
    return await _send_json(self, data)


_chat_message = consumers.ThreadConsumer.chat_message


async def chat_message(self, event):
    if "_trace" in event["message"]:
        event["message"]["_trace"]["handler"] = time.time()
    return await _chat_message(self, event)


# setattr: these replace methods and functions on purpose (mypy's method-assign).
for owner, name, replacement in (
    (consumers._JsonSocket, "receive", receive),
    (consumers._JsonSocket, "_session_is_live", session_is_live),
    (consumers.ThreadConsumer, "_save", consumers.db_call(save)),
    (services, "check_rate_limit", check_rate_limit),
    (realtime, "message_created", message_created),
    (realtime, "message_data", message_data),
    (realtime, "_send", send),
    (consumers._JsonSocket, "send_json", send_json),
    (consumers.ThreadConsumer, "chat_message", chat_message),
):
    setattr(owner, name, replacement)

# --- Garbage-collector pauses and event-loop lag, per worker ---------------------------------------
_gc_pauses: list[tuple[int, float, float]] = []  # (generation, started at, ms)
_gc_started: list[float] = [0.0]
_loop_lag: list[tuple[float, float]] = []  # (at, ms late)


def _on_gc(phase, info):
    if phase == "start":
        _gc_started[0] = time.perf_counter()
    else:
        _gc_pauses.append((info["generation"], time.time(), (time.perf_counter() - _gc_started[0]) * 1000))


gc.callbacks.append(_on_gc)


async def _watch_loop():
    period = 0.01
    while True:
        before = time.perf_counter()
        await asyncio.sleep(period)
        late = (time.perf_counter() - before - period) * 1000
        if late > 2:
            _loop_lag.append((time.time(), late))


_watcher: list[asyncio.Task] = []
_asgi = application

# CHAT_BENCH_PROFILE=1: a cProfile of each worker's event-loop thread and of each database thread,
# from its first websocket on, written beside the GC figures (<pid>-<thread>.prof).
PROFILE = os.environ.get("CHAT_BENCH_PROFILE", "") not in ("", "0")
_profiles: dict[str, cProfile.Profile] = {}


def _profile_this_thread() -> None:
    name = threading.current_thread().name
    if name not in _profiles:
        _profiles[name] = cProfile.Profile(time.thread_time)  # CPU, not wall: load-independent
        _profiles[name].enable()


if PROFILE:
    _thread_handler = consumers._PooledDatabaseSyncToAsync.thread_handler

    def thread_handler(self, loop, *args, **kwargs):
        _profile_this_thread()
        return _thread_handler(self, loop, *args, **kwargs)

    consumers._PooledDatabaseSyncToAsync.thread_handler = thread_handler  # type: ignore[method-assign]


async def application(scope, receive, send):  # type: ignore[no-redef]
    if scope["type"] == "lifespan":  # uvicorn's workers end with os._exit (multiprocessing): no atexit
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                _dump()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if not _watcher:
        _watcher.append(asyncio.ensure_future(_watch_loop()))
        if PROFILE:
            _profile_this_thread()
    return await _asgi(scope, receive, send)


def _dump():
    folder = os.environ.get("CHAT_BENCH_TRACE_DIR")
    if not folder:
        return
    with open(os.path.join(folder, f"{os.getpid()}.json"), "w") as out:
        json.dump({"gc": _gc_pauses, "loop_lag": _loop_lag, "thresholds": gc.get_threshold()}, out)
    for name, profile in list(_profiles.items()):
        profile.disable()
        profile.dump_stats(os.path.join(folder, f"{os.getpid()}-{name}.prof"))
