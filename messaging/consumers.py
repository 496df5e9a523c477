"""Websockets: one conversation (ws/threads/<id>/) and the per-user live counters (ws/live/).

Frames are JSON objects {"type": ..., ...}. A bad frame gets an error event and the connection
stays open; a refused connection (no session, not a participant, foreign Origin) is closed before
it is accepted, so nothing is sent.
"""

from __future__ import annotations

import json
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404

from elite.exceptions import DomainError, InvalidState, NotPermitted, RateLimited

from . import realtime, services

MAX_FRAME_CHARS = 16_000
TYPING_MIN_INTERVAL_SECONDS = 2.0


def _user_allowed(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and not getattr(user, "is_suspended", False))


class _JsonSocket(AsyncWebsocketConsumer):
    """Shared frame parsing, error events, heartbeat and presence."""

    handlers: dict[str, str] = {}

    async def send_json(self, data: dict) -> None:
        await self.send(text_data=json.dumps(data, separators=(",", ":")))

    async def send_error(self, code: str, message: str, **extra) -> None:
        await self.send_json({"type": "error", "code": code, "message": message, **extra})

    async def mark_present(self) -> None:
        await cache.aset(realtime.presence_key(self.user.pk), 1, timeout=realtime.PRESENCE_TTL_SECONDS)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None:
            await self.send_error("bad_frame", "Frames must be JSON text.")
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self.send_error("too_large", "That frame is too large.")
            return
        try:
            data = json.loads(text_data)
        except ValueError:
            await self.send_error("bad_json", "That frame is not valid JSON.")
            return
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            await self.send_error("bad_frame", 'A frame must be a JSON object with a "type".')
            return
        if data["type"] == "ping":
            await self.mark_present()
            await self.send_json({"type": "pong"})
            return
        handler = self.handlers.get(data["type"])
        if handler is None:
            await self.send_error("unknown_type", f"Unknown event type “{data['type'][:40]}”.")
            return
        await getattr(self, handler)(data)


class ThreadConsumer(_JsonSocket):
    handlers = {
        "message:send": "on_send",
        "message:read": "on_read",
        "thread:typing": "on_typing",
    }

    async def connect(self):
        self.user = self.scope.get("user")
        self.thread_id = int(self.scope["url_route"]["kwargs"]["thread_id"])
        self.group = realtime.thread_group(self.thread_id)
        self.last_typing = 0.0
        if not _user_allowed(self.user) or not await self._load_thread():
            await self.close(code=4403)
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.mark_present()

    async def disconnect(self, code):
        if getattr(self, "group", None) and getattr(self, "channel_name", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    @database_sync_to_async
    def _load_thread(self) -> bool:
        try:
            thread = services.thread_for(self.user, self.thread_id)
        except Http404:
            return False
        self.is_participant = services.is_participant(thread, self.user)
        return True

    # --- Client events -------------------------------------------------------------------

    async def on_send(self, data: dict) -> None:
        token = data.get("client_token")
        token = token[:64] if isinstance(token, str) else ""
        body = data.get("body", "")
        ids = data.get("attachment_ids") or []
        if not isinstance(body, str) or not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            await self.send_error("invalid", "A message needs a text body.", client_token=token)
            return
        try:
            payload = await self._save(body, token, ids)
        except RateLimited as exc:
            await self.send_error("rate_limited", exc.message, client_token=token)
        except InvalidState as exc:
            await self.send_error("read_only", exc.message, client_token=token)
        except NotPermitted as exc:
            await self.send_error("forbidden", exc.message, client_token=token)
        except DomainError as exc:
            await self.send_error("invalid", exc.message, client_token=token)
        except ValidationError as exc:
            await self.send_error("invalid", " ".join(exc.messages), client_token=token)
        except Http404:
            await self.send_error("forbidden", "You no longer have access to this conversation.")
            await self.close(code=4403)
        else:
            await self.send_json({"type": "message:ack", "client_token": token, "message": payload})

    @database_sync_to_async
    def _save(self, body: str, token: str, attachment_ids: list[int]) -> dict:
        thread = services.thread_for(self.user, self.thread_id)
        attachments = services.attachments_from_ids(self.user, attachment_ids) if attachment_ids else []
        message = services.send_message(
            thread, sender=self.user, body=body, attachments=attachments, client_token=token
        )
        # A fresh save carries its payload; a resend returns the stored message.
        return getattr(message, "payload", None) or realtime.message_data(message)

    async def on_read(self, data: dict) -> None:
        message_id = data.get("message_id")
        if message_id is not None and (not isinstance(message_id, int) or isinstance(message_id, bool)):
            await self.send_error("invalid", "message_id must be a number.")
            return
        if self.is_participant:
            await self._mark_read(message_id)

    @database_sync_to_async
    def _mark_read(self, message_id: int | None) -> int:
        thread = services.thread_for(self.user, self.thread_id)
        return services.mark_read(thread, self.user, message_id)

    async def on_typing(self, data: dict) -> None:
        now = time.monotonic()
        if now - self.last_typing < TYPING_MIN_INTERVAL_SECONDS:
            return
        self.last_typing = now
        await self.channel_layer.group_send(
            self.group,
            {"type": "chat.typing", "user_id": self.user.pk, "name": self.user.display_name},
        )

    # --- Channel layer events ------------------------------------------------------------

    async def chat_message(self, event):
        await self.send_json({"type": "message:new", "message": event["message"]})

    async def chat_read(self, event):
        await self.send_json({"type": "message:read", "user_id": event["user_id"], "message_id": event["message_id"]})

    async def chat_typing(self, event):
        if event["user_id"] != self.user.pk:
            await self.send_json({"type": "thread:typing", "user_id": event["user_id"], "name": event["name"]})


class LiveConsumer(_JsonSocket):
    """The per-user channel behind the navbar badge and the dashboard chat panel."""

    handlers: dict[str, str] = {}

    async def connect(self):
        self.user = self.scope.get("user")
        self.group = None
        if not _user_allowed(self.user):
            await self.close(code=4403)
            return
        self.group = realtime.user_group(self.user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.mark_present()
        total = await database_sync_to_async(services.unread_total)(self.user)
        await self.send_json({"type": "unread", "total": total})

    async def disconnect(self, code):
        if self.group and getattr(self, "channel_name", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def live_unread(self, event):
        counts = await database_sync_to_async(services.unread_counts)(self.user, event["thread"])
        await self.send_json({**event, **counts, "type": "unread"})
