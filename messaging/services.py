"""Every change to a conversation goes through here: threads, messages, read state, digests.

Views, the websocket consumer and Celery tasks call these functions, so the rules (who may
post, length, rate limit, read-only threads, idempotent resend) are enforced once. Pushes to
the channel layer happen after commit (messaging.realtime), so nobody is told about a message
that was then rolled back.

Signature: `verb(thread, *, actor, …)`: the target is the thread instance the view or consumer
already loaded (and checked access to); `actor` is the participant or staff member acting.
Queries take the viewer as `user`; jobs (digests) take only `now`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.signals import pre_save
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from core import sqlmemo, writes
from core.cache import bump_version, cached_for, deferred_bumps
from core.exceptions import DomainError, InvalidState, NotPermitted, RateLimited
from core.pages import users_changed
from files.models import FileAsset
from orders.models import Order, OrderStatus

from . import realtime
from .models import Message, MessageThread, ThreadReadState

CLOSED_STATUSES = (OrderStatus.COMPLETED, OrderStatus.CANCELLED)


# --- Threads and access -----------------------------------------------------------------

THREADS_SCOPE = "messaging:threads"


def threads_changed(*user_ids: int) -> None:
    """What these users' thread lists show changed (a thread, a message, a read mark)."""
    bump_version(THREADS_SCOPE, *user_ids)


class Sender:
    """A last message's sender as the threads box names them: User.display_name over the three columns it reads."""

    __slots__ = ("first_name", "last_name", "email")
    get_full_name = User.get_full_name

    @property
    def display_name(self) -> str:
        return User.display_name.fget(self)  # type: ignore[attr-defined]  # the User's rule, duck-typed

    def __init__(self, first_name: str, last_name: str, email: str) -> None:
        self.first_name, self.last_name, self.email = first_name, last_name, email


@dataclass(frozen=True, slots=True)
class LastMessage:
    sender_id: int
    sender: Sender
    body: str


@dataclass(frozen=True, slots=True)
class ThreadPreview:
    """One conversation as the dashboard's threads box shows it (MessageThread's pk and title, the reader's
    unread count, the last message)."""

    pk: int
    title: str
    unread: int
    last_message: LastMessage | None


def recent_threads(user, limit: int) -> list[ThreadPreview]:
    """The user's latest conversations with unread counts and last message, newest activity first: one
    statement, then cached until one of their threads changes (threads_changed). A thread opens with its
    order; one nobody has written in yet is no conversation to show."""

    def compute() -> list[tuple]:
        given = {"client": user.pk, "coach": user.pk, "unread_mark": user.pk, "sender": user.pk}
        shape = ("messaging: recent threads", int(limit))
        return [
            tuple(row) for row in sqlmemo.rows(shape, lambda given: _box_threads(given)[:limit], given, prepare=True)
        ]

    # The rows, not instances (a cold dashboard's box pickled six models per thread); "box:", not the
    # "recent:" of the instances cached before, so a value of the old form is never read as the new one.
    found = cached_for(THREADS_SCOPE, user.pk, f"box:{limit}", compute)
    return [_preview(*row) for row in found]


def _preview(pk, order_id, order_title, unread, sender_id, body, first_name, last_name, email) -> ThreadPreview:
    title = order_title if order_id is not None else "Before an order"  # MessageThread.title
    last = LastMessage(sender_id, Sender(first_name, last_name, email), body) if sender_id is not None else None
    return ThreadPreview(pk, title, unread, last)


def _box_threads(given) -> QuerySet:
    """The threads box's rows: threads_for_list(user).filter(participant_q(user), last_message_at__isnull=False)
    with each thread's last message (by id, as attach_last_messages took it) and its sender's name read in
    the same statement, only what the box shows, and the user's id given once per place it is used
    (core.sqlmemo). visible_to(user) and participant_q(user) together are the participant's threads for staff
    too, so the one condition here."""
    mine = MessageThread.objects.filter(
        Q(client_id=given["client"]) | Q(coach_id=given["coach"]), last_message_at__isnull=False
    )
    last = Message.objects.filter(thread=OuterRef("pk")).order_by("-id")
    return (
        mine.annotate(
            unread=_unread(_read_mark(OuterRef(OuterRef("pk")), given["unread_mark"]), given["sender"]),
            activity=Coalesce("last_message_at", "created_at"),
            last_sender_id=Subquery(last.values("sender_id")[:1]),
            last_body=Subquery(last.values("body")[:1]),
            last_first_name=Subquery(last.values("sender__first_name")[:1]),
            last_last_name=Subquery(last.values("sender__last_name")[:1]),
            last_email=Subquery(last.values("sender__email")[:1]),
        )
        .order_by("-activity", "-pk")
        .values_list(
            "pk",
            "order_id",
            "order__title",
            "unread",
            "last_sender_id",
            "last_body",
            "last_first_name",
            "last_last_name",
            "last_email",
        )
    )


CARD_FIELDS = ("pk", "unread", "last_message_at")


@dataclass(frozen=True)
class ThreadCard:
    """What the order page's Conversation card shows of the order's thread: a link, the unread count or the
    last message's time."""

    pk: int
    unread: int
    last_message_at: datetime | None


def order_thread_card(order: Order, user: User) -> ThreadCard | None:
    """The order's thread as `user`'s lists count it (unread count, last message time), None before it
    opens. Cached for the order's two parties until threads_changed; staff, whom no change is announced
    to, ask each time. Compiled once per process and kept prepared (core.sqlmemo, a lookup by the order's
    unique thread): building and compiling threads_for_list was ~1/3 of a first order page (issue 13). The
    three values, not the thread with its order, client and coach: building and pickling those four rows
    was most of the card's cost on a miss."""

    if CARD_UNREAD in order.__dict__ and Order.thread.is_cached(order):
        return _card_read_with(order, user)

    def compute() -> ThreadCard | None:
        if not user.is_authenticated or not isinstance(order.pk, int):
            found = list(threads_for_list(user).filter(order=order).values_list(*CARD_FIELDS)[:1])
        else:
            staff = bool(user.is_staff)
            given = {"order": order.pk, "unread_mark": user.pk, "sender": user.pk}
            if not staff:
                given |= {"client": user.pk, "coach": user.pk}
            found = sqlmemo.rows(("messaging: order thread card", staff), _orders_thread_card, given, prepare=True)
        return ThreadCard(*found[0]) if found else None

    if user.pk not in (order.client_id, order.coach_id):
        return compute()
    return cached_for(THREADS_SCOPE, user.pk, f"order-card:{order.pk}", compute)


# The card read with the order by the order page (orders.pages.read_with_order_page, messaging.apps): the
# order's thread by its one-to-one, and this annotation on the order with the viewer's id in these names.
CARD_UNREAD = "thread_card_unread"
CARD_VIEWER = ("thread_card_mark", "thread_card_sender")


def card_unread(given: Mapping[str, int]) -> Subquery:
    """The order's thread's unread count for the viewer, as _orders_thread_card counts it (None: no thread)."""
    thread = MessageThread.objects.filter(order_id=OuterRef("pk"))
    unread = _unread(_read_mark(OuterRef(OuterRef("pk")), given[CARD_VIEWER[0]]), given[CARD_VIEWER[1]])
    return Subquery(thread.annotate(unread=unread).values("unread")[:1])


def _card_read_with(order: Order, user: User) -> ThreadCard | None:
    """The card from the thread and count the order was read with: visible to its parties and staff, as
    _orders_thread_card's condition has it."""
    thread = cast(MessageThread | None, Order.thread.related.get_cached_value(order))
    if thread is None or not (user.is_staff or user.pk in (thread.client_id, thread.coach_id)):
        return None
    return ThreadCard(thread.pk, getattr(order, CARD_UNREAD), thread.last_message_at)


def _orders_thread_card(given: Mapping[str, int]) -> QuerySet:
    """threads_for_list(user).filter(order=order)'s card values with the user's id given once per place it is
    used: visible_to(user) is the participant condition for everyone but staff (no "client" in `given`). The
    order has one thread at most (a one-to-one), so no order is needed."""
    visible = MessageThread.objects.filter(order_id=given["order"])
    if "client" in given:
        visible = visible.filter(Q(client_id=given["client"]) | Q(coach_id=given["coach"]))
    unread = _unread(_read_mark(OuterRef(OuterRef("pk")), given["unread_mark"]), given["sender"])
    return visible.annotate(unread=unread).values_list(*CARD_FIELDS).order_by()[:1]


def get_or_create_thread(order: Order) -> MessageThread:
    """The order's thread; made on order creation (signal) and lazily for older orders.

    If the client asked the coach something before ordering, that pre-order thread becomes the
    order's thread, so the conversation carries on where it started.
    """
    thread = MessageThread.objects.filter(order=order).first()
    if thread is not None:
        return thread
    try:
        with transaction.atomic():
            preorder = (
                MessageThread.objects.select_for_update()
                .filter(order__isnull=True, client_id=order.client_id, coach_id=order.coach_id)
                .first()
            )
            if preorder is not None:
                preorder.order = order
                preorder.save(update_fields=["order", "updated_at"])
                thread = preorder
            else:
                thread = MessageThread.objects.create(order=order, client_id=order.client_id, coach_id=order.coach_id)
            threads_changed(order.client_id, order.coach_id)
            return thread
    except IntegrityError:  # created by a concurrent request in between
        return MessageThread.objects.get(order=order)


def open_preorder_thread(coach: User, *, actor: User) -> MessageThread:
    """The client's one conversation with `coach` before an order (made on first use).

    Once an order follows, that order's thread is the conversation: the client is sent there.
    Only a listed coach can be asked, and not by themselves; staff moderate, they do not ask.
    """
    if actor.pk == coach.pk or actor.is_staff:
        raise NotPermitted("You cannot start a conversation with this coach.")
    existing = MessageThread.objects.filter(client=actor, coach=coach, order__isnull=True).first()
    if existing is None:
        existing = (
            MessageThread.objects.filter(client=actor, coach=coach, order__isnull=False)
            .select_related("order")
            .order_by("-order_id")
            .first()
        )
        if existing is not None and is_read_only(existing):
            existing = None  # that order is long over: a new question starts a new conversation
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            thread = MessageThread.objects.create(client=actor, coach=coach)
    except IntegrityError:  # a double click: the first request made it
        return MessageThread.objects.get(client=actor, coach=coach, order__isnull=True)
    threads_changed(actor.pk, coach.pk)
    return thread


def _participants_thread(given: Mapping[str, int]) -> QuerySet:
    """visible_to(user) for a participant, the user's id given once per place it is used (core.sqlmemo)."""
    mine = Q(client_id=given["as_client"]) | Q(coach_id=given["as_coach"])
    return MessageThread.objects.filter(mine).select_related("order", "client", "coach").filter(pk=given["thread"])[:1]


def thread_for(user: User | AnonymousUser, thread_id: int, *, for_update: bool = False) -> MessageThread:
    """The thread if `user` may read it (a participant or staff), else 404: strangers learn nothing.

    A participant's read is compiled once per process and kept prepared (core.sqlmemo; a lookup by primary
    key): the thread page on a miss spent more on building this queryset than on running it (issue 13)."""
    if for_update or not user.is_authenticated or user.is_staff or not isinstance(thread_id, int):
        queryset = MessageThread.objects.visible_to(user).select_related("order", "client", "coach")
        if for_update:
            queryset = queryset.select_for_update(of=("self",))
        thread = queryset.filter(pk=thread_id).first()
    else:
        given = {"as_client": user.pk, "as_coach": user.pk, "thread": thread_id}
        found = sqlmemo.instances("thread_for: participant", _participants_thread, given, prepare=True)
        thread = found[0] if found else None
    if thread is None:
        raise Http404("No such conversation.")
    return thread


def is_participant(thread: MessageThread, user: User | AnonymousUser) -> bool:
    return user.pk in (thread.client_id, thread.coach_id)


def participant_ids(thread: MessageThread) -> tuple[int, int]:
    return (thread.client_id, thread.coach_id)


def can_access(thread: MessageThread, user: User | AnonymousUser) -> bool:
    active = user.is_authenticated and user.is_active and not getattr(user, "is_suspended", False)
    return bool(active and (is_participant(thread, user) or user.is_staff))


def read_only_since(thread: MessageThread) -> datetime | None:
    """When the thread became read-only, or None while it is open for new messages."""
    order = thread.order
    if order is None or order.status not in CLOSED_STATUSES:  # a pre-order thread stays open
        return None
    closed_at = order.completed_at if order.status == OrderStatus.COMPLETED else order.cancelled_at
    closed_at = closed_at or order.updated_at
    since = closed_at + timedelta(days=settings.THREAD_READ_ONLY_AFTER_DAYS)
    return since if since <= timezone.now() else None


def is_read_only(thread: MessageThread) -> bool:
    return read_only_since(thread) is not None


# --- Sending ----------------------------------------------------------------------------


def _count_in_window(key: str, timeout: int) -> int:
    """Add one to a counter in the shared cache and return it (one round trip on Redis, and a per-process
    counter while Redis is down: core.cache.RedisCache)."""
    if hasattr(cache, "count_in_window"):
        return cache.count_in_window(key, timeout)
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


def check_rate_limit(user: User) -> None:
    """A fixed-window counter per user in the shared cache, so it holds across web and ASGI machines."""
    window = settings.CHAT_RATE_LIMIT_WINDOW_SECONDS
    bucket = int(timezone.now().timestamp()) // window
    count = _count_in_window(f"chat:rate:{user.pk}:{bucket}", window + 5)
    if count > settings.CHAT_RATE_LIMIT_COUNT:
        raise RateLimited(
            f"You are sending messages too quickly. Please wait a moment (limit: "
            f"{settings.CHAT_RATE_LIMIT_COUNT} per {window} seconds)."
        )


def _clean_body(body: str) -> str:
    body = (body or "").replace("\r\n", "\n").replace("\x00", "").strip()
    limit = settings.CHAT_MAX_MESSAGE_LENGTH
    if len(body) > limit:
        raise DomainError(f"A message can be at most {limit} characters long (yours has {len(body)}).")
    return body


def check_can_send(thread: MessageThread, *, actor: User, body: str, has_attachments: bool) -> str:
    """The checks before saving (also run by the form view before it stores uploads). Returns the clean body."""
    if not can_access(thread, actor):
        raise NotPermitted("You are not part of this conversation.")
    if is_read_only(thread):
        raise InvalidState("This conversation is closed: the order ended, so no new messages can be sent.")
    body = _clean_body(body)
    if not body and not has_attachments:
        raise DomainError("Write a message or attach a file before sending.")
    return body


def _record_activity(thread: MessageThread, message: Message) -> None:
    """The thread's activity time is the message's (never moved backwards when two messages commit out
    of order)."""
    MessageThread.objects.filter(pk=thread.pk).filter(
        Q(last_message_at__isnull=True) | Q(last_message_at__lt=message.created_at)
    ).update(last_message_at=message.created_at, updated_at=message.created_at)


@dataclass(frozen=True)
class SignedIn:
    """A socket's session row and its user's row exactly as a full session check accepted them
    (messaging.consumers). Django's verdict is a function of these columns (and settings), so while both
    rows are still so and the session unexpired it holds: a message saved with them (send_message's
    `signed_in`) is written only then, and its frame needs no session statement of its own (issue 13)."""

    session_key: str
    session_data: str
    user_pk: int
    password: str
    is_active: bool
    account_status: str


class SignedInChanged(Exception):
    """send_message(signed_in=…) wrote nothing: the rows are no longer as accepted (or the thread is gone,
    or this save cannot carry the guard). The caller checks the session afresh."""


def sends_in_one_statement() -> bool:
    """Whether send_message takes the one-statement path (_create_with_activity), the only one that can
    carry a `signed_in` guard."""
    return bool(
        settings.MESSAGING_ONE_STATEMENT_SEND
        and connection.vendor == "postgresql"
        and not pre_save.has_listeners(Message)
    )


def _thread_guard(thread: MessageThread, signed_in: SignedIn | None) -> writes.Write:
    """The statement's guard: the thread row, and with `signed_in` the unexpired session and user rows as
    they were accepted."""
    quote = connection.ops.quote_name
    sql = f"SELECT id FROM {quote(MessageThread._meta.db_table)} WHERE id = %s"  # noqa: S608 - name from meta  # nosec B608
    params: list[Any] = [thread.pk]
    if signed_in is not None:
        sql += (
            f" AND EXISTS (SELECT 1 FROM {quote(Session._meta.db_table)} s, {quote(User._meta.db_table)} u "  # noqa: S608 - names from meta  # nosec B608
            "WHERE s.session_key = %s AND s.session_data = %s AND s.expire_date > %s "
            "AND u.id = %s AND u.password = %s AND u.is_active = %s AND u.account_status = %s)"
        )
        params += [
            signed_in.session_key,
            signed_in.session_data,
            timezone.now(),
            signed_in.user_pk,
            signed_in.password,
            signed_in.is_active,
            signed_in.account_status,
        ]
    return writes.Write("thread_row", sql, params)


def _create_with_activity(message: Message, signed_in: SignedIn | None = None) -> Message | None:
    """`Message.objects.create` and `_record_activity` in one statement (core.writes), for the hot path
    of a chat message (issue 13: the ORM's compiler cost more than both statements): the same row, the
    same post_save, the same thread update, and a unique violation (a resend's client_token) raises the
    same IntegrityError. None, having written nothing, where the ORM path must do it: off
    (MESSAGING_ONE_STATEMENT_SEND), not PostgreSQL, a pre_save receiver on Message (this path sends
    none), or the guard's rows gone (the thread; with `signed_in`, the session as accepted).
    Prepared on the server: its text is the same for every message of a shape and its rows are found by
    their keys. messaging/tests/test_one_statement_send.py compares both paths."""
    if not sends_in_one_statement():
        return None
    meta = Message._meta
    values = {
        field.name: field.pre_save(message, True)
        for field in meta.local_concrete_fields
        if field is not meta.auto_field
    }
    thread = message.thread
    when = message.created_at

    def inserted(results: writes.Results) -> None:
        message.pk = results["message"][0]
        writes.saved(message, created=True)

    done = writes.run(
        _thread_guard(thread, signed_in),
        [
            writes.insert("message", Message, values, after="thread_row", done=inserted),
            writes.update(
                "activity",
                MessageThread,
                thread.pk,
                {"last_message_at": when, "updated_at": when},
                after="thread_row",
                where="last_message_at IS NULL OR last_message_at < %s",
                where_params=[when],
                expect=None,
            ),
        ],
        prepare=True,
    )
    return message if done is not None else None


def send_message(
    thread: MessageThread,
    *,
    actor: User,
    body: str,
    attachments: Iterable[FileAsset] = (),
    client_token: str = "",
    signed_in: SignedIn | None = None,
) -> Message:
    """Save a message from a participant (or staff, marked as moderator) and broadcast it after commit.

    A resend with the same `client_token` (after a dropped connection) returns the message saved
    the first time instead of saving it twice (the unique constraint decides, so no extra query).
    `signed_in`: written only while the actor's session and user rows are as accepted, else
    SignedInChanged with nothing written (the checks before the statement, the rate limit among them,
    have run).
    """
    if signed_in is not None and not sends_in_one_statement():
        raise SignedInChanged("Only the one-statement save carries the session guard.")
    sender = actor
    client_token = (client_token or "")[:64]
    attachments = list(attachments)
    body = check_can_send(thread, actor=sender, body=body, has_attachments=bool(attachments))
    for asset in attachments:
        if asset.owner_id != sender.pk or asset.deleted_at is not None:
            raise NotPermitted("You can only attach your own files.")
    check_rate_limit(sender)
    participant = is_participant(thread, sender)
    try:
        # Nothing here reads a cached value after the bumps: their immediate half joins the after-commit
        # half, one round trip for the message's version bumps instead of two (issue 13).
        with deferred_bumps(), transaction.atomic():
            fields = {"thread": thread, "sender": sender, "body": body, "client_token": client_token}
            message = _create_with_activity(Message(**fields, is_moderator=not participant), signed_in)
            if message is None and signed_in is not None:
                raise SignedInChanged("The session, its user or the thread is no longer as it was accepted.")
            if message is None:  # the ORM path
                message = Message.objects.create(**fields, is_moderator=not participant)
                _record_activity(thread, message)
            if attachments:
                message.attachments.set(attachments)
                # Fresh rows: an upload stored a moment ago may have been scanned since it was loaded.
                attachments = list(message.attachments.all())
            thread.last_message_at = message.created_at
            threads_changed(*participant_ids(thread))
            # Built now from what is in hand, so the push after commit needs no queries.
            payload = message.payload = realtime.message_data(message, attachments)
            transaction.on_commit(lambda: realtime.message_created(payload, thread))
    except IntegrityError:
        # A resend, or the same client_token racing in on a second connection: the first save wins.
        existing = Message.objects.filter(sender=sender, client_token=client_token, thread=thread).first()
        if existing is None:
            raise DomainError("This message id was already used. Reload the page and send it again.") from None
        return existing
    return message


def attachments_from_ids(user: User, ids: Iterable[int | str]) -> list[FileAsset]:
    """The sender's own uploaded message attachments (files service rules), else ValidationError."""
    from files.models import FileCategory
    from files.services import assets_for_attach

    return assets_for_attach(user, ids, FileCategory.MESSAGE_ATTACHMENT)


def store_attachments(uploaded_files: Iterable[UploadedFile], *, actor: User) -> list[FileAsset]:
    """Plain (no-JavaScript) uploads from the message form, stored and queued for scanning."""
    from files.models import FileCategory
    from files.services import store_upload

    return [store_upload(f, actor=actor, category=FileCategory.MESSAGE_ATTACHMENT) for f in uploaded_files]


# --- Read state ---------------------------------------------------------------------------


def _advance_read_state(thread: MessageThread, user, message_id: int) -> bool:
    """Move the reader's mark forward (never back). Returns whether it moved."""
    now = timezone.now()
    moved = ThreadReadState.objects.filter(thread=thread, user=user, last_read_message_id__lt=message_id).update(
        last_read_message_id=message_id, last_read_at=now
    )
    if not moved:
        _, moved = ThreadReadState.objects.get_or_create(
            thread=thread, user=user, defaults={"last_read_message_id": message_id, "last_read_at": now}
        )
    if moved:
        threads_changed(user.pk)
        users_changed(thread.client_id, thread.coach_id)  # the other's page shows the read receipt
    return bool(moved)


def mark_read(thread: MessageThread, *, actor: User, up_to_message_id: int | None = None) -> int:
    """Mark the thread read by a participant up to a message (default: the latest) and tell the others.

    Staff reading as moderators leave no read mark, so a read receipt always means the other party.
    Returns the id the reader's mark now stands at (0 if nothing to read).
    """
    user = actor
    if not is_participant(thread, user):
        return 0
    latest = Message.objects.filter(thread=thread).order_by("-id").values_list("pk", flat=True).first() or 0
    target = latest if up_to_message_id is None else min(int(up_to_message_id), latest)
    if target <= 0:
        return 0
    with transaction.atomic():
        moved = _advance_read_state(thread, user, target)
        if moved:
            thread_id, user_id = thread.pk, user.pk
            transaction.on_commit(lambda: realtime.thread_read(thread_id, user_id, target))
    return target


def other_party_read_up_to(thread: MessageThread, user: User) -> int:
    """How far the other participant has read (for 'Read' marks on the viewer's own messages)."""
    others = [pk for pk in participant_ids(thread) if pk != user.pk]
    return (
        ThreadReadState.objects.filter(thread=thread, user_id__in=others)
        .order_by("-last_read_message_id")
        .values_list("last_read_message_id", flat=True)
        .first()
        or 0
    )


# --- Counts and lists ------------------------------------------------------------------------


def _read_mark(thread: Any, user: Any) -> Coalesce:
    """How far `user` (a User or an id) has read `thread` (a reference to the outer query's thread), 0 before
    they read it."""
    marks = ThreadReadState.objects.filter(thread=thread, user=user).values("last_read_message_id")
    return Coalesce(Subquery(marks[:1], output_field=IntegerField()), Value(0))


def _unread(read_mark: Any, sender: Any) -> Coalesce:
    """The outer query's thread's messages after `read_mark` not sent by `sender` (a User or an id), 0 for
    none: the one unread count of threads_for_list and of its memoised forms (which give the read mark
    written out, the ORM compiling a reference to the annotation there again)."""
    unread = (
        Message.objects.filter(thread=OuterRef("pk"), pk__gt=read_mark)
        .exclude(sender=sender)
        .order_by()
        .values("thread")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(unread, output_field=IntegerField()), Value(0))


def _listed(threads: QuerySet[MessageThread], reader: Any, unread_mark: Any, sender: Any) -> QuerySet[MessageThread]:
    """`threads` as the lists show them: `reader`'s read mark, unread count (messages after `unread_mark` not
    by `sender`), last message id, newest activity first."""
    last_id = Message.objects.filter(thread=OuterRef("pk")).order_by("-id").values("pk")[:1]
    return (
        threads.select_related("order", "client", "coach")
        .annotate(
            read_mark=_read_mark(OuterRef("pk"), reader),
            unread=_unread(unread_mark, sender),
            last_message_id=Subquery(last_id),
            activity=Coalesce("last_message_at", "created_at"),
        )
        .order_by("-activity", "-pk")
    )


def threads_for_list(user: User) -> QuerySet[MessageThread]:
    """The user's threads with unread count and last message id, newest activity first (bounded queries)."""
    return _listed(MessageThread.objects.visible_to(user), user, OuterRef("read_mark"), user)


def attach_last_messages(threads: Iterable[Any]) -> None:  # threads annotated with last_message_id
    """Set `thread.last_message` on a page of threads with one query."""
    ids = [t.last_message_id for t in threads if t.last_message_id]
    by_id = {m.pk: m for m in Message.objects.filter(pk__in=ids).select_related("sender")} if ids else {}
    for thread in threads:
        thread.last_message = by_id.get(thread.last_message_id)


def participant_q(user: User) -> Q:
    return Q(client=user) | Q(coach=user)


def participant_threads(user: User) -> QuerySet[MessageThread]:
    return MessageThread.objects.filter(participant_q(user))


def unread_total(user: User) -> int:
    """Unread messages from others across the user's own threads (what the navbar badge shows)."""
    if not user.is_authenticated:
        return 0
    mark = Subquery(
        ThreadReadState.objects.filter(thread=OuterRef("thread"), user=user).values("last_read_message_id")[:1],
        output_field=IntegerField(),
    )
    return (
        Message.objects.filter(thread__in=participant_threads(user).values("pk"))
        .exclude(sender=user)
        .annotate(mark=Coalesce(mark, Value(0)))
        .filter(pk__gt=F("mark"))
        .count()
    )


def unread_in_thread(thread_id: int, user: User) -> int:
    mark = (
        ThreadReadState.objects.filter(thread_id=thread_id, user=user)
        .values_list("last_read_message_id", flat=True)
        .first()
        or 0
    )
    return Message.objects.filter(thread_id=thread_id, pk__gt=mark).exclude(sender=user).count()


def unread_counts(user: User, thread_id: int) -> dict[str, int]:
    """What the live channel pushes: the user's total and the one thread's unread count."""
    return {"total": unread_total(user), "thread_unread": unread_in_thread(thread_id, user)}


# --- Email digests ---------------------------------------------------------------------------


def _is_online(user_id: int) -> bool:
    return bool(cache.get(realtime.presence_key(user_id)))


def send_digests(now: datetime | None = None) -> int:
    """Email each offline participant one digest per thread with the messages they have not read.

    Idempotent: the reader's ThreadReadState row is locked and `last_emailed_at` moved in the same
    transaction, and a participant is mailed about a thread at most once per CHAT_EMAIL_DIGEST_MINUTES.
    """
    from notifications.emails import send_templated_email
    from notifications.kinds import Category
    from notifications.services import wants_category_email

    now = now or timezone.now()
    interval = timedelta(minutes=settings.CHAT_EMAIL_DIGEST_MINUTES)
    # Only threads with a message in the recent past can have something new to mail.
    horizon = now - max(interval * 4, timedelta(days=1))
    sent = 0
    threads = MessageThread.objects.filter(last_message_at__gte=horizon).select_related("order", "client", "coach")
    for thread in threads:
        for user in (thread.client, thread.coach):
            if not user.is_active or not user.email or _is_online(user.pk):
                continue
            if not wants_category_email(user, Category.MESSAGE):  # switched off on the email choices page
                continue
            with transaction.atomic():
                state, _ = ThreadReadState.objects.get_or_create(thread=thread, user=user)
                state = ThreadReadState.objects.select_for_update().get(pk=state.pk)
                if state.last_emailed_at and state.last_emailed_at > now - interval:
                    continue
                new = (
                    Message.objects.filter(thread=thread, pk__gt=state.last_read_message_id)
                    .exclude(sender=user)
                    .select_related("sender")
                    .order_by("id")
                )
                if state.last_emailed_at:
                    new = new.filter(created_at__gt=state.last_emailed_at)
                messages = list(new[:20])
                if not messages:
                    continue
                total = new.count() if len(messages) == 20 else len(messages)
                state.last_emailed_at = now
                state.save(update_fields=["last_emailed_at"])
                context = {
                    "user": user,
                    "thread": thread,
                    "order": thread.order,
                    "chat_messages": messages,
                    "total": total,
                    "thread_url": settings.SITE_URL + reverse("messaging:detail", args=[thread.pk]),
                }
                transaction.on_commit(
                    partial(
                        send_templated_email, user.email, "chat_digest", context, unsubscribe=(user, Category.MESSAGE)
                    )
                )
                sent += 1
    return sent
