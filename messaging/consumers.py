"""Websockets: one conversation (ws/threads/<id>/) and the per-user live counters (ws/live/).

Frames are JSON objects {"type": ..., ...}. A bad frame gets an error event and the connection
stays open; a refused connection (no session, not a participant, foreign Origin) is closed before
it is accepted, so nothing is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from importlib import import_module
from types import SimpleNamespace

from asgiref.sync import SyncToAsync
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib import auth
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.http import Http404
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from core import metrics
from core.exceptions import DomainError, InvalidState, NotPermitted, RateLimited
from notifications.services import unread_count as unread_notifications

from . import realtime, services

logger = logging.getLogger(__name__)

MAX_FRAME_CHARS = 16_000
# Close code of a socket whose session ended (logout, password change elsewhere, suspension, expiry).
SESSION_ENDED = 4401
# The engine whose store reads the session rows themselves, for an engine that caches them.
FRESH_SESSION_ENGINES = {"django.contrib.sessions.backends.cached_db": "django.contrib.sessions.backends.db"}


class _PooledDatabaseSyncToAsync(SyncToAsync):
    """channels' DatabaseSyncToAsync on a small pool, checking each thread's connection every few seconds.

    channels checks (and with CONN_HEALTH_CHECKS pings) the connection around every call; on a
    dedicated pool that is one more round trip per message for nothing. A failed call still drops
    its connection, so the next call reconnects.
    """

    CHECK_EVERY_SECONDS = 10.0
    _local = threading.local()

    def thread_handler(self, loop, *args, **kwargs):
        now = time.monotonic()
        if now - getattr(self._local, "checked_at", 0.0) > self.CHECK_EVERY_SECONDS:
            close_old_connections()
            self._local.checked_at = now
        try:
            return super().thread_handler(loop, *args, **kwargs)
        except (InterfaceError, OperationalError):
            connection.close()
            raise


def _db_calls():
    """How consumers run their (synchronous) database work.

    Channels' default runs every such call of a process on one thread, so each message waits for
    the previous one's database round trips: with PostgreSQL, a small pool overlaps them (each
    thread keeps its own connection). SQLite allows one writer at a time anyway: keep the default.
    """
    threads = settings.CHAT_DB_THREADS
    if threads <= 0 or connection.vendor == "sqlite":
        return database_sync_to_async
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="chat-db")
    return lambda func: _PooledDatabaseSyncToAsync(func, thread_sensitive=False, executor=pool)


db_call = _db_calls()
TYPING_MIN_INTERVAL_SECONDS = 2.0


def _user_allowed(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and not getattr(user, "is_suspended", False))


DB_SESSION_ENGINE = "django.contrib.sessions.backends.db"
# django.contrib.sessions' and accounts.User's tables (a test checks the names against the models).
SESSION_AND_USER_SQL = (
    "SELECT s.session_data, u.password, u.is_active, u.account_status FROM django_session s, accounts_user u "
    "WHERE s.session_key = %s AND s.expire_date > %s AND u.id = %s"
)


def db_session_logs_in(session_key: str, user_pk: int) -> bool:
    """Whether the database session logs this user in now (db_session_signed_in)."""
    return db_session_signed_in(session_key, user_pk) is not None


def db_session_signed_in(session_key: str, user_pk: int) -> services.SignedIn | None:
    """What auth.get_user decides for a database session, in one statement for both rows: the socket
    knows whose session it is, so the session row (unexpired) and that user's row are read together, each
    as it is now. Then Django's checks on them: the session names this user and a configured backend, its
    password hash matches the user's (or a fallback secret's), and the user may log in. The rows as
    accepted, or None.

    auth.get_user made two ORM queries, about 1.2 ms of CPU a frame (issue 13); a message:send whose
    socket holds the rows accepted last needs not even this statement (services.SignedIn).
    A hash matching only a fallback secret is accepted without cycling the session key: the browser's next
    page does that (a socket cannot set the cookie)."""
    from django.contrib.sessions.backends.db import SessionStore

    user_model = auth.get_user_model()
    with connection.cursor() as cursor:
        cursor.execute(SESSION_AND_USER_SQL, [session_key, timezone.now(), user_pk])
        row = cursor.fetchone()
    if row is None:
        return None
    data = SessionStore().decode(row[0])
    if (
        str(data.get(auth.SESSION_KEY)) != str(user_pk)
        or data.get(auth.BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS
    ):
        return None
    user = user_model(pk=user_pk, password=row[1], is_active=row[2], account_status=row[3])
    session_hash = data.get(auth.HASH_SESSION_KEY)
    if not session_hash:
        return None
    verified = constant_time_compare(session_hash, user.get_session_auth_hash()) or any(
        constant_time_compare(session_hash, fallback) for fallback in user.get_session_auth_fallback_hash()
    )
    if not (verified and _user_allowed(user)):
        return None
    return services.SignedIn(session_key, row[0], user_pk, row[1], row[2], row[3])


class _JsonSocket(AsyncWebsocketConsumer):
    """Shared frame parsing, error events, heartbeat and presence.

    The client's frames are handled one after the other by a task of their own, not by channels'
    dispatch loop: that loop also forwards the channel layer's events (the other party's messages), and
    while it awaited this socket's own save (a database round trip or more) every message for this socket
    waited behind it. Measured under load as the largest stage of a delivery (issue 13).
    """

    handlers: dict[str, str] = {}
    # Handlers that re-check the session themselves, in the database call they make anyway.
    checks_session: frozenset[str] = frozenset()

    async def __call__(self, scope, receive, send):
        self._frames: asyncio.Queue[dict | None] = asyncio.Queue()
        self._frame_task: asyncio.Task | None = None
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self._frame_task is not None and not self._frame_task.done():
                self._frame_task.cancel()

    async def websocket_receive(self, message):
        """Queue the frame for this socket's frame task (started with the first frame)."""
        if self._frame_task is None:
            realtime.push_without_waiting()  # the task's database calls inherit it
            self._frame_task = asyncio.create_task(self._handle_frames())
        self._frames.put_nowait(message)

    async def _handle_frames(self) -> None:
        while (message := await self._frames.get()) is not None:
            try:
                await super().websocket_receive(message)
            except Exception:
                # As an exception in dispatch would: logged, and the socket closed (1011).
                logger.exception("websocket frame failed")
                await self.close(code=1011)
                return

    async def websocket_disconnect(self, message):
        """The frames the client sent before it closed are handled first (a message sent just before
        closing is still saved), then channels leaves the groups and stops the consumer."""
        if self._frame_task is not None:
            self._frames.put_nowait(None)
            with contextlib.suppress(Exception):
                await self._frame_task
        await super().websocket_disconnect(message)

    async def dispatch(self, message):
        """channels' dispatch without its per-event database connection check.

        channels 4.2+ hops to a thread to check the connections before *every* event, even a
        message:new that only forwards a frame: measured at 17% of a busy worker's CPU. Every
        database call here goes through db_call, which looks after its own connection.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        metrics.observe_fanout(message.get("pushed_at"))
        await handler(message)

    async def send_json(self, data: dict) -> None:
        await self.send(text_data=json.dumps(data, separators=(",", ":")))

    async def send_error(self, code: str, message: str, **extra) -> None:
        await self.send_json({"type": "error", "code": code, "message": message, **extra})

    async def mark_present(self) -> None:
        await cache.aset(realtime.presence_key(self.user.pk), 1, timeout=realtime.PRESENCE_TTL_SECONDS)

    # --- The session behind the socket ---------------------------------------------------------

    async def join_account_group(self) -> None:
        """Logouts, password changes and suspensions of the user reach this socket through this group."""
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
        self.account_group = realtime.account_group(self.user.pk)
        await self.channel_layer.group_add(self.account_group, self.channel_name)

    async def leave_account_group(self) -> None:
        if getattr(self, "account_group", None) and getattr(self, "channel_name", None):
            await self.channel_layer.group_discard(self.account_group, self.channel_name)

    def _session_is_live(self) -> bool:
        """The socket's session still logs its user in: not logged out, expired, suspended or left with a
        stale password hash. Read afresh from the session store, not the copy loaded at connect. With the
        database store, the rows it accepted are kept (`signed_in`) for the next message's guard."""
        self.signed_in: services.SignedIn | None = None
        if not self.session_key:
            return False
        # The database itself, not cached_db's cache: a row deleted without the store (by hand, a sweep)
        # still ends the socket at its next frame.
        engine = FRESH_SESSION_ENGINES.get(settings.SESSION_ENGINE, settings.SESSION_ENGINE)
        if engine == DB_SESSION_ENGINE:
            self.signed_in = db_session_signed_in(self.session_key, self.user.pk)
            return self.signed_in is not None
        store = import_module(engine).SessionStore(session_key=self.session_key)
        user = auth.get_user(SimpleNamespace(session=store))  # type: ignore[arg-type]
        return user.pk == self.user.pk and _user_allowed(user)

    async def closed_for_ended_session(self) -> bool:
        if await db_call(self._session_is_live)():
            return False
        await self.close(code=SESSION_ENDED)
        return True

    async def account_sessions(self, event):
        """accounts.signals.sessions_changed, relayed by messaging.realtime."""
        if event.get("ended_session_key") and event["ended_session_key"] == self.session_key:
            await self.close(code=SESSION_ENDED)
            return
        await self.closed_for_ended_session()

    async def receive(self, text_data=None, bytes_data=None):
        data, error = _parse_frame(text_data)
        handler = self.handlers.get(data["type"]) if data else None
        # Every frame, whatever it is: a socket never outlives its session. A message:send checks it in
        # the database call that saves it (one thread hop per message instead of two).
        if handler not in self.checks_session and await self.closed_for_ended_session():
            return
        if error is not None:
            await self.send_error(*error)
            return
        assert data is not None
        if data["type"] == "ping":
            await self.mark_present()
            await self.send_json({"type": "pong"})
            return
        if handler is None:
            await self.send_error("unknown_type", f"Unknown event type “{data['type'][:40]}”.")
            return
        await getattr(self, handler)(data)


def _parse_frame(text_data: str | None) -> tuple[dict | None, tuple[str, str] | None]:
    """(the frame, None) or (None, (error code, message))."""
    if text_data is None:
        return None, ("bad_frame", "Frames must be JSON text.")
    if len(text_data) > MAX_FRAME_CHARS:
        return None, ("too_large", "That frame is too large.")
    try:
        data = json.loads(text_data)
    except ValueError:
        return None, ("bad_json", "That frame is not valid JSON.")
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return None, ("bad_frame", 'A frame must be a JSON object with a "type".')
    return data, None


class ThreadConsumer(_JsonSocket):
    REFRESH_SECONDS = 30.0
    handlers = {
        "message:send": "on_send",
        "message:read": "on_read",
        "thread:typing": "on_typing",
    }
    checks_session = frozenset({"on_send"})

    async def connect(self):
        self.user = self.scope.get("user")
        self.thread_id = int(self.scope["url_route"]["kwargs"]["thread_id"])
        self.group = realtime.thread_group(self.thread_id)
        self.last_typing = 0.0
        self._acked: deque[int] = deque(maxlen=64)  # ids of messages this socket sent and was acked for
        if not _user_allowed(self.user) or not await self._load_thread():
            await self.close(code=4403)
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.join_account_group()
        await self.accept()
        await self.mark_present()

    async def disconnect(self, code):
        if getattr(self, "group", None) and getattr(self, "channel_name", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)
        await self.leave_account_group()

    @db_call
    def _load_thread(self) -> bool:
        try:
            self.thread = services.thread_for(self.user, self.thread_id)
        except Http404:
            return False
        self.is_participant = services.is_participant(self.thread, self.user)
        self.loaded_at = time.monotonic()
        return True

    def _current_thread(self):
        """The thread loaded at connect, re-read (with the user's status) at most every half minute.

        Saves a query per message; a lost access or a closed order still takes effect within
        REFRESH_SECONDS on an open socket (an ended session or a suspension at the next frame, or at once
        through the account group).
        """
        if time.monotonic() - self.loaded_at > self.REFRESH_SECONDS:
            self.user.refresh_from_db(fields=["is_active", "account_status", "role", "is_staff"])
            self.thread = services.thread_for(self.user, self.thread_id)
            self.loaded_at = time.monotonic()
        return self.thread

    # --- Client events -------------------------------------------------------------------

    async def on_send(self, data: dict) -> None:
        token = data.get("client_token")
        token = token[:64] if isinstance(token, str) else ""
        body = data.get("body", "")
        ids = data.get("attachment_ids") or []
        if not isinstance(body, str) or not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            if not await self.closed_for_ended_session():  # _save, which checks it, is not called
                await self.send_error("invalid", "A message needs a text body.", client_token=token)
            return
        try:
            payload = await self._save(body, token, ids)
            if payload is None:
                await self.close(code=SESSION_ENDED)
                return
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
            self._acked.append(payload["id"])
            await self.send_json({"type": "message:ack", "client_token": token, "message": payload})

    def _save_now(self, body: str, token: str, attachment_ids: list[int]) -> dict | None:
        """The message saved and its payload for the sender; None (nothing saved) if the socket's session ended.

        The session is checked by the message's own statement where it can be (services.SignedIn: the rows
        the last full check accepted, still so): one statement less per message. A save that it stopped,
        or that was refused before its statement, checks the session in full first, so an ended session
        is always answered by closing the socket, never by another error."""
        signed_in = getattr(self, "signed_in", None) if services.sends_in_one_statement() else None
        if signed_in is None and not self._session_is_live():
            return None
        try:
            thread = self._current_thread()
            attachments = services.attachments_from_ids(self.user, attachment_ids) if attachment_ids else []
            message = services.send_message(
                thread, actor=self.user, body=body, attachments=attachments, client_token=token, signed_in=signed_in
            )
        except services.SignedInChanged:
            if not self._session_is_live():
                return None
            # Still signed in (the session row changed otherwise, or the thread is gone): as without a guard.
            message = services.send_message(
                thread, actor=self.user, body=body, attachments=attachments, client_token=token
            )
        except Exception:
            if signed_in is not None and not self._session_is_live():
                return None
            raise
        # A fresh save carries its payload; a resend returns the stored message.
        payload = message.payload or realtime.message_data(message, viewer_id=self.user.pk)
        return realtime.as_seen_by(payload, self.user.pk)

    _save = db_call(_save_now)

    async def on_read(self, data: dict) -> None:
        message_id = data.get("message_id")
        if message_id is not None and (not isinstance(message_id, int) or isinstance(message_id, bool)):
            await self.send_error("invalid", "message_id must be a number.")
            return
        if self.is_participant:
            await self._mark_read(message_id)

    @db_call
    def _mark_read(self, message_id: int | None) -> int:
        thread = self._current_thread()
        return services.mark_read(thread, actor=self.user, up_to_message_id=message_id)

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
        if event["message"]["id"] in self._acked:
            # The socket that sent it has it (chat.js confirms a message by its ack or by this event):
            # one frame less per message. The sender's other tabs still get it.
            self._acked.remove(event["message"]["id"])
            return
        await self.send_json({"type": "message:new", "message": realtime.as_seen_by(event["message"], self.user.pk)})

    async def chat_read(self, event):
        await self.send_json({"type": "message:read", "user_id": event["user_id"], "message_id": event["message_id"]})

    async def chat_typing(self, event):
        if event["user_id"] != self.user.pk:
            await self.send_json({"type": "thread:typing", "user_id": event["user_id"], "name": event["name"]})


class LiveConsumer(_JsonSocket):
    """The per-user channel behind the navbar badge and the dashboard chat panel."""

    handlers: dict[str, str] = {}

    async def mark_present(self) -> None:
        await super().mark_present()
        await cache.aset(realtime.live_key(self.user.pk), 1, timeout=realtime.PRESENCE_TTL_SECONDS)

    async def connect(self):
        self.user = self.scope.get("user")
        self.group = None
        if not _user_allowed(self.user):
            await self.close(code=4403)
            return
        self.group = realtime.user_group(self.user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.join_account_group()
        await self.accept()
        await self.mark_present()
        total = await db_call(services.unread_total)(self.user)
        await self.send_json({"type": "unread", "total": total})

    async def disconnect(self, code):
        if self.group and getattr(self, "channel_name", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)
        await self.leave_account_group()

    async def live_unread(self, event):
        counts = await db_call(services.unread_counts)(self.user, event["thread"])
        await self.send_json({**event, **counts, "type": "unread"})

    async def live_notifications(self, event):
        unread = await db_call(unread_notifications)(self.user)
        await self.send_json({"type": "notifications", "unread": unread})
