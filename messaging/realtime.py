"""What goes over the channel layer: group names, message payloads and the pushes after commit.

Services call `message_created` / `thread_read` from `transaction.on_commit`; with REDIS_URL set
the channel layer is channels-redis, so a push reaches the consumers on every ASGI machine.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, cast

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.template import Context
from django.template.base import render_value_in_context
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils.html import urlize
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

if TYPE_CHECKING:
    from .models import MessageThread

logger = logging.getLogger(__name__)

PRESENCE_TTL_SECONDS = 90


def thread_group(thread_id: int) -> str:
    return f"thread-{thread_id}"


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def account_group(user_id: int) -> str:
    """Every socket of the user, thread and live ones alike: told when the user's sessions change."""
    return f"account-{user_id}"


def presence_key(user_id: int) -> str:
    """Set while any of the user's sockets is open (refreshed by pings): digests skip them."""
    return f"chat:online:{user_id}"


def live_key(user_id: int) -> str:
    """Set while the user has a live-counts socket (navbar, dashboards) open (refreshed by pings)."""
    return f"chat:live:{user_id}"


def _with_live_channel(user_ids: list[int]) -> list[int]:
    """The users with a live-counts socket open: only they get count updates (one publish less otherwise)."""
    from django.core.cache import cache

    present = cache.get_many([live_key(user_id) for user_id in user_ids])
    return [user_id for user_id in user_ids if live_key(user_id) in present]


def render_body(body: str) -> SafeString:
    """Plain text to HTML: everything escaped, links made clickable (nofollow, noopener)."""
    html = urlize(body, nofollow=True, autoescape=True)
    # Only anchors urlize generated can carry this exact attribute: user text was escaped above.
    html = html.replace(' rel="nofollow"', ' rel="nofollow noopener noreferrer" target="_blank"')
    return mark_safe(html)  # noqa: S308 - built from escaped text by urlize


def attachment_data(message, asset) -> dict:
    url = None
    if asset.is_downloadable:
        url = reverse("files:download", args=[asset.pk])
    return {
        "id": asset.pk,
        "name": asset.original_name,
        "size": asset.size,
        "status": asset.scan_status,
        "status_label": asset.get_scan_status_display(),
        "url": url,
    }


MESSAGE_PARTIAL = "messaging/partials/message.html"
SHARED_PARTIAL = "messaging/partials/message_shared.html"  # the part that reads the same for every viewer


def _message_context(
    message, attachments, *, viewer_id: int | None, other_read_up_to: int, shared: str | None = None
) -> dict:
    return {
        "m": message,
        "assets": attachments,
        "user": {"pk": viewer_id} if viewer_id is not None else None,
        "other_read_up_to": other_read_up_to,
        "shared": shared,
    }


def message_html(
    message, attachments, *, viewer_id: int | None, other_read_up_to: int = 0, shared: str | None = None
) -> str:
    """The message as the viewer's page shows it, from the one template the thread page uses too (with
    `shared`, its viewer-independent part rendered already, for another viewer)."""
    return render_to_string(
        MESSAGE_PARTIAL,
        _message_context(message, attachments, viewer_id=viewer_id, other_read_up_to=other_read_up_to, shared=shared),
    )


# A broadcast's two forms differ from message.html rendered for a viewer only in what the partial's outer
# markup prints: the message's id, its sender's id and name, its client token, and the shared part. Each
# form is rendered once per process and shape with a slot for each of those, then filled in (issue 13:
# the two renders were a fifth of a message's CPU). The first fill of each shape is checked against a real
# render: a partial that prints anything else than these, or prints them otherwise, is rendered each time.
_SLOT = "@@chat-slot-{}@@"
_SLOTS = re.compile(r"@@chat-slot-(pk|sender|token|name|shared)@@")
_MISSING = object()
_forms: dict[tuple, str | None] = {}
_AS_THE_PARTIAL = Context(autoescape=True)  # how a {{ value }} of the partial prints (read only)


class _SlotMessage:
    """Stands for a fresh message in message.html: each value its outer markup prints is a slot."""

    def __init__(self, *, is_moderator: bool, has_token: bool) -> None:
        self.pk = _SLOT.format("pk")
        self.sender_id = _SLOT.format("sender")
        self.client_token = _SLOT.format("token") if has_token else ""
        self.sender = {"display_name": _SLOT.format("name")}
        self.is_moderator = is_moderator


def _broadcast_form(message, attachments, *, mine: bool, shared: SafeString) -> str:
    """message_html(message, attachments, viewer_id=the sender if mine else None, shared=shared) for a
    fresh message (other_read_up_to 0: the sender's form reads "Sent"), from the shape's slotted form."""
    template = get_template(MESSAGE_PARTIAL)
    # Its compiled template is a new object when the loaders are reset (autoreload after an edit).
    shape = (
        getattr(template, "template", template),
        get_language(),
        mine,
        bool(message.is_moderator),
        bool(message.client_token),
    )
    form: object = _forms.get(shape, _MISSING)
    if form is None:
        return message_html(message, attachments, viewer_id=message.sender_id if mine else None, shared=shared)
    values = {
        "pk": render_value_in_context(message.pk, _AS_THE_PARTIAL),
        "sender": render_value_in_context(message.sender_id, _AS_THE_PARTIAL),
        "token": render_value_in_context(message.client_token, _AS_THE_PARTIAL),
        "name": render_value_in_context(message.sender.display_name, _AS_THE_PARTIAL),
        "shared": shared,
    }
    if form is _MISSING:
        slots = _SlotMessage(is_moderator=bool(message.is_moderator), has_token=bool(message.client_token))
        sender = _SLOT.format("sender")
        slotted = template.render(
            {
                "m": slots,
                "assets": attachments,
                "user": {"pk": sender} if mine else None,
                "other_read_up_to": "",  # the slot is no id below it: "Sent", as for a fresh message
                "shared": _SLOT.format("shared"),
            }
        )
        real = message_html(message, attachments, viewer_id=message.sender_id if mine else None, shared=shared)
        usable = _SLOTS.sub(lambda match: values[match[1]], slotted) == real
        if not usable:
            logger.warning("%s prints more than the slots of a broadcast: rendered for each message", MESSAGE_PARTIAL)
        _forms[shape] = slotted if usable else None
        return real
    return mark_safe(_SLOTS.sub(lambda match: values[match[1]], cast(str, form)))  # noqa: S308 - the partial's own output, values escaped as it escapes them


def _message_key(message, attachments, *, viewer_id: int | None, other_read_up_to: int) -> tuple:
    """Everything the partial shows: the viewer (their own messages read "You" and carry Sent/Read), the
    message (its rows never change, but the body is in the key anyway), the sender's name and each
    attachment's state (core.fragments adds the time zone and the language)."""
    mine = message.sender_id == viewer_id
    return (
        viewer_id,
        message.pk,
        message.sender_id,
        mine and message.pk <= other_read_up_to,
        "" if mine else message.sender.display_name,
        message.is_moderator,
        message.client_token,
        message.body,
        message.created_at.isoformat(),
        tuple((a.pk, a.original_name, a.size, a.scan_status, a.deleted_at is None) for a in attachments),
    )


def messages_html(
    messages, *, attachments: dict[int, list], viewer_id: int | None, other_read_up_to: int = 0
) -> list[SafeString]:
    """message_html for each of a page of messages (`attachments`: each one's files, by message id), from the
    cache for those this viewer saw in this state before: the thread page's 30 partials were most of its
    time (issue 13)."""
    from core.fragments import rendered_each

    rows = [(m, attachments[m.pk]) for m in messages]
    return rendered_each(
        MESSAGE_PARTIAL,
        rows,
        key=lambda row: _message_key(*row, viewer_id=viewer_id, other_read_up_to=other_read_up_to),
        context=lambda row: _message_context(*row, viewer_id=viewer_id, other_read_up_to=other_read_up_to),
    )


def message_data(message, attachments=None, *, viewer_id: int | None = None, other_read_up_to: int = 0) -> dict:
    """The JSON form of a message (websocket events and the ?after= catch-up endpoint).

    With `viewer_id` it carries `html`, the message as that viewer sees it. Without it (a broadcast
    to everyone on the thread) it carries both forms, the sender's and everyone else's, and each
    receiver keeps its own with `as_seen_by`: no template is rendered after the commit.
    """
    sender = message.sender
    if attachments is None:
        attachments = list(message.attachments.all())
    data = {
        "id": message.pk,
        "thread": message.thread_id,
        "sender_id": message.sender_id,
        "sender_name": sender.display_name,
        "is_moderator": message.is_moderator,
        "body": message.body,
        "created_at": message.created_at.isoformat(),
        "client_token": message.client_token,
        "attachments": [attachment_data(message, a) for a in attachments],
    }
    if viewer_id is not None:
        data["html"] = message_html(message, attachments, viewer_id=viewer_id, other_read_up_to=other_read_up_to)
    else:
        # Body, attachments and time read the same for both: rendered once (they were most of a render).
        shared = render_to_string(SHARED_PARTIAL, {"m": message, "assets": attachments})  # a SafeString
        data["html_by_sender"] = _broadcast_form(message, attachments, mine=True, shared=shared)
        data["html_by_others"] = _broadcast_form(message, attachments, mine=False, shared=shared)
    return data


def as_seen_by(data: dict, viewer_id: int) -> dict:
    """A broadcast payload (both forms of the message) narrowed to what one viewer's page inserts."""
    if "html" in data:
        return data
    seen = {key: value for key, value in data.items() if key not in ("html_by_sender", "html_by_others")}
    seen["html"] = data["html_by_sender"] if viewer_id == data["sender_id"] else data["html_by_others"]
    return seen


# The event loop of the websocket consumer whose database call is running (set by push_without_waiting).
_push_loop: ContextVar[asyncio.AbstractEventLoop | None] = ContextVar("push_loop", default=None)


def push_without_waiting() -> None:
    """Called on a consumer's event loop: pushes made by its database calls (in their threads, after
    commit) are handed to this loop and the thread goes on. Waiting for the publish held a database
    thread for a round trip to the loop, which is busiest exactly when messages arrive fastest; the pushes
    of one process still reach Redis in the order they were handed over (FIFO loop, fair layer lock)."""
    _push_loop.set(asyncio.get_running_loop())


def _send(*pushes: tuple[str, dict]) -> None:
    """group_send each (group, event), in order, in one hop to the event loop."""
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_all():
        try:
            for group, event in pushes:
                await layer.group_send(group, {**event, "pushed_at": time.time()})  # for elite_ws_fanout_seconds
        except Exception:  # the message is saved; clients catch up on reconnect
            logger.exception("channel layer push to %s failed", [group for group, _ in pushes])

    loop = _push_loop.get()
    if loop is not None and not loop.is_closed():
        loop.call_soon_threadsafe(_start_push, send_all)
        return
    try:
        async_to_sync(send_all)()
    except Exception:  # e.g. called where an event loop already runs: the message is saved all the same
        logger.exception("channel layer push to %s failed", [group for group, _ in pushes])


_pushing: set[asyncio.Task] = set()  # the loop keeps only weak references to its tasks


def _start_push(send_all) -> None:
    task = asyncio.ensure_future(send_all())
    _pushing.add(task)
    task.add_done_callback(_pushing.discard)


def message_created(data: dict, thread: MessageThread) -> None:
    """After commit: the message to everyone viewing the thread, a nudge to the other party's live channel."""
    preview = {
        "sender_name": data["sender_name"],
        "body": data["body"][:140] or ("📎 " + ", ".join(a["name"] for a in data["attachments"])),
        "created_at": data["created_at"],
    }
    pushes = [(thread_group(data["thread"]), {"type": "chat.message", "message": data})]
    # The counts are read by each live consumer when it handles the event, not here: that way the
    # last event a consumer handles always shows the current state, whatever order events arrive in.
    recipients = [user_id for user_id in (thread.client_id, thread.coach_id) if user_id != data["sender_id"]]
    pushes += [
        (
            user_group(user_id),
            {"type": "live.unread", "thread": data["thread"], "title": thread.title, "last_message": preview},
        )
        for user_id in _with_live_channel(recipients)
    ]
    _send(*pushes)


def thread_read(thread_id: int, user_id: int, message_id: int) -> None:
    pushes = [(thread_group(thread_id), {"type": "chat.read", "user_id": user_id, "message_id": message_id})]
    if _with_live_channel([user_id]):
        pushes.append((user_group(user_id), {"type": "live.unread", "thread": thread_id}))
    _send(*pushes)


def notifications_changed(sender, *, user_ids: tuple[int, ...], **kwargs) -> None:
    """Receiver of notifications.signals.unread_changed (after commit): refresh the bell's count on
    the users' open pages (one cache read for all of them). The consumer reads the count itself, so
    the last push always shows it."""
    live = _with_live_channel(list(user_ids))
    if live:
        _send(*((user_group(user_id), {"type": "live.notifications"}) for user_id in live))


def sessions_changed(sender, *, user_id: int, ended_session_key: str | None = None, **kwargs) -> None:
    """Receiver of accounts.signals.sessions_changed (after commit): the user's sockets re-check their
    session now (logout, password change, suspension), not at their next frame."""
    _send((account_group(user_id), {"type": "account.sessions", "ended_session_key": ended_session_key}))
