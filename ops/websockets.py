"""An ASGI wrapper round the websocket router: open sockets, frames in and out, and the request id.

Every log line of a socket (its consumer, the database calls it makes in threads) carries one id:
the handshake's X-Request-ID when the proxy sent a sane one, else a new one. It is bound before the
consumer starts, so the tasks and threads it spawns inherit it.
"""

from __future__ import annotations

import re
import uuid

from core import metrics
from core.http import bind_request_id, unbind_request_id

_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")


def _request_id(scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id" and _VALID_REQUEST_ID.match(value):
            return value.decode()
    return uuid.uuid4().hex


def _route(path: str) -> str:
    """/ws/threads/12/ → threads: one series per kind of socket, not per thread."""
    parts = [part for part in path.split("/") if part]
    return parts[1] if len(parts) > 1 and parts[0] == "ws" else "other"


class WebsocketMetrics:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        route = _route(scope.get("path", ""))
        opened = False

        async def counted_receive():
            message = await receive()
            if message["type"] == "websocket.receive":
                metrics.WS_MESSAGES.labels("in").inc()
            return message

        async def counted_send(message):
            nonlocal opened
            if message["type"] == "websocket.accept" and not opened:
                opened = True
                metrics.WS_OPEN.labels(route).inc()
            elif message["type"] == "websocket.send":
                metrics.WS_MESSAGES.labels("out").inc()
            await send(message)

        token = bind_request_id(_request_id(scope))
        try:
            return await self.app(scope, counted_receive, counted_send)
        finally:
            if opened:
                metrics.WS_OPEN.labels(route).dec()
            unbind_request_id(token)
