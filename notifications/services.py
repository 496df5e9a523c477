"""Notify users in the app and by email. Every app above uses this; nothing here imports them.

`notify(recipient, …)` is called by the other apps' services (the recipient is its target; the
caller's service has already recorded who acted); `mark_read(*, actor, …)` acts on the actor's own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.core import signing
from django.db import transaction
from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, F, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User, verified_addresses
from audit.services import record as audit
from core import sqlmemo, writes
from core.cache import bump_version, cached_for, missing_ahead
from core.exceptions import DomainError, NotPermitted
from core.pages import users_changed

from . import kinds
from .kinds import category_of
from .models import EmailPreference, Notification, SentEmail
from .signals import unread_changed

SCOPE = "notifications"
UNREAD = "unread"  # cached_for's name of the bell's count
logger = logging.getLogger(__name__)


def notify(
    user: User, kind: str, text: str, *, link: str = "", email: bool = True, context: dict[str, Any] | None = None
) -> Notification:
    """Create an in-app notification and, after commit, email it.

    The email uses templates/emails/<kind>_{subject.txt,body.txt,body.html} when they exist,
    else the generic notification templates. A user who switched the kind's category off gets the
    inbox row and no email (the task checks again when it runs, in case they switched it off since).
    """
    notification = Notification.objects.create(user=user, kind=kind, text=text[:300], link=link)
    _announce_unread_change(user.pk)
    if email and user.email and wants_email(user, kind):
        from .tasks import send_notification_email

        emailed = (notification.pk, context or {})
        transaction.on_commit(lambda: send_notification_email.apply_async(emailed, **_shown_as([emailed])))
    return notification


def notify_many(
    recipients: Sequence[tuple[User, dict[str, Any] | None]],
    kind: str,
    text: str,
    *,
    link: str = "",
    email: bool = True,
) -> list[Notification]:
    """`notify` for several users at once (an order's two parties, every staff member): the same rows
    and emails, in one INSERT, one cache round trip for their versions, one after-commit callback and
    one Celery task for all the emails. Each recipient comes with its email's template context."""
    if not recipients:
        return []
    if len(recipients) == 1:
        user, context = recipients[0]
        return [notify(user, kind, text, link=link, email=email, context=context)]
    notifications = Notification.objects.bulk_create(_rows(recipients, kind, text, link))
    _written(notifications, recipients, kind, email)
    return notifications


def _rows(recipients: Sequence[tuple[User, Any]], kind: str, text: str, link: str) -> list[Notification]:
    category = category_of(kind)
    return [Notification(user=user, kind=kind, category=category, text=text[:300], link=link) for user, _ in recipients]


def _written(
    notifications: list[Notification],
    recipients: Sequence[tuple[User, dict[str, Any] | None]],
    kind: str,
    email: bool,
) -> None:
    """What notify_many does once its rows are in: the versions, the live pages, the emails after commit."""
    _announce_unread_change(*(user.pk for user, _ in recipients))
    emails = [
        (notification.pk, context or {})
        for notification, (user, context) in zip(notifications, recipients, strict=True)
        if email and user.email and wants_email(user, kind)
    ]
    if emails:
        from .tasks import send_notification_emails

        transaction.on_commit(lambda: send_notification_emails.apply_async((emails,), **_shown_as(emails)))


def _shown_as(emails: Sequence[tuple[int, dict[str, Any]]]) -> dict[str, str]:
    """The email task's arguments as its message shows them (argsrepr, kwargsrepr: the worker's log, events,
    monitoring): the notification ids. Left to Celery, each publish would build a bounded repr of every
    email's context (a third of the publish's Python); the task still receives the contexts in full."""
    return {"argsrepr": f"(notifications {[pk for pk, _ in emails]!r})", "kwargsrepr": "{}"}


def notify_many_writes(
    prefix: str,
    recipients: Sequence[tuple[User, dict[str, Any] | None]],
    kind: str,
    text: str,
    *,
    link: str,
    after: str,
) -> list[writes.Write]:
    """`notify_many` (two or more recipients, emails on) as CTEs of a caller's statement (core.writes):
    the same rows, one INSERT each, and the same versions, live-page signal and email task once it ran."""
    if len(recipients) < 2:
        raise ValueError("notify_many writes one recipient's row through notify().")
    now = timezone.now()
    rows = _rows(recipients, kind, text, link)
    names = [f"{prefix}{number}" for number in range(len(rows))]

    def done(results: writes.Results) -> None:
        for name, row in zip(names, rows, strict=True):
            row.pk, row.created_at, row.updated_at = results[name][0], now, now
            row._state.adding = False
        _written(rows, recipients, kind, True)

    return [
        writes.insert(
            name,
            Notification,
            {
                "user": row.user_id,
                "kind": row.kind,
                "category": row.category,
                "text": row.text,
                "link": row.link,
                "created_at": now,
                "updated_at": now,
            },
            after=after,
            done=done if name == names[-1] else None,
        )
        for name, row in zip(names, rows, strict=True)
    ]


def deliver_once(key: str, send: Callable[[], object], *, description: str = "") -> bool:
    """Run `send` (an email, a push) unless the outbox records `key` as sent. Returns whether it sent.

    The row is written (and committed) before sending; the send runs under its row lock, so two
    deliveries of one task at once send once. A worker killed after the provider accepted but before
    `sent_at` commits is the one window left: that email may go out twice, never zero times.
    """
    SentEmail.objects.get_or_create(key=key, defaults={"description": description[:300]})
    # Counted outside the send's transaction, so an attempt whose worker died still shows (operators).
    SentEmail.objects.filter(key=key, sent_at__isnull=True).update(attempts=F("attempts") + 1)
    with transaction.atomic():
        entry = SentEmail.objects.select_for_update().get(key=key)
        if entry.sent_at is not None:
            logger.info("outbox: %s was already sent at %s; not sending again", key, entry.sent_at.isoformat())
            return False
        send()
        entry.sent_at = timezone.now()
        entry.save(update_fields=["sent_at", "updated_at"])
    return True


def mark_read(*, actor: User, notification_ids: Iterable[int] | None = None) -> int:
    """The actor marks their own notifications read (all of them, or only the given ids)."""
    user = actor
    queryset = Notification.objects.for_user(user).unread()
    if notification_ids is not None:
        queryset = queryset.filter(pk__in=list(notification_ids))
    marked = queryset.update(read_at=timezone.now())
    if marked:
        _announce_unread_change(user.pk)
    return marked


def _announce_unread_change(*user_ids: int) -> None:
    # Now and again after commit (core.cache.bump_version); the after-commit bump is registered first,
    # so the live pages that the signal tells to read the count read the new one.
    bump_version(SCOPE, *user_ids)
    users_changed(*user_ids)  # their cached pages show the bell and the rows (bulk_create, update: no signal)
    transaction.on_commit(lambda: unread_changed.send(sender=Notification, user_ids=user_ids))


def inbox(user: User, *, category: str | None = None, unread_only: bool = False) -> QuerySet[Notification]:
    """The inbox's rows: unread first, then newest first (the index on user, read_at, created_at)."""
    queryset = Notification.objects.for_user(user)
    if category:
        queryset = queryset.filter(category=category)
    if unread_only:
        queryset = queryset.unread()
    is_unread = ExpressionWrapper(Q(read_at__isnull=True), output_field=BooleanField())
    return queryset.alias(is_unread=is_unread).order_by("-is_unread", "-created_at", "-id")


def _unread_counted(given) -> QuerySet:
    # COUNT(*) as a row (no row: none unread), in a shape core.sqlmemo can keep
    unread = Notification.objects.filter(user_id=given["user"]).unread()
    return unread.order_by().values("user_id").annotate(n=Count("*")).values_list("n")


def _unread_and_verified(given) -> QuerySet:
    """The bell's count and the banner's verified email (accounts.models.verified_addresses) as one row: both are
    asked on every page's miss, and a statement each cost both sides more than the two scalar subqueries."""
    counted = Coalesce(Subquery(_unread_counted({"user": given["notified"]})), 0)
    verified = Exists(verified_addresses(given["owner"], given["email"]))
    found = User.objects.filter(pk=given["user"]).annotate(unread=counted, verified=verified)
    return found.values_list("unread", "verified")


def _counted_unread(user: User) -> int:
    """Notification.objects.for_user(user).unread().count(), compiled once per process and kept prepared
    (a lookup by the user's id, on the (user, read_at) index): a first visit's bell built and compiled it.
    On a page miss that is to ask the verified email afresh too, read with it in one statement."""
    keep_verified = user.verified_email_missing()
    if keep_verified is not None:
        values = {"user": user.pk, "notified": user.pk, "owner": user.pk, "email": user.email}
        found = sqlmemo.rows("notifications: unread count, verified email", _unread_and_verified, values, prepare=True)
        if found:  # no row: the user is gone
            unread, verified = found[0]
            keep_verified(verified)
            return unread
    counted = sqlmemo.rows("notifications: unread count", _unread_counted, {"user": user.pk}, prepare=True)
    return counted[0][0] if counted else 0


def unread_count(user: User) -> int:
    """The bell on every page, cached until notify or mark_read bumps the user's version: one cache
    round trip instead of a count (a SELECT and its ORM compilation)."""
    return cached_for(SCOPE, user.pk, UNREAD, lambda: _counted_unread(user))


def _unread_by_category(given) -> QuerySet:
    unread = Notification.objects.filter(user_id=given["user"]).unread()
    return unread.values_list("category").annotate(n=Count("id")).values_list("category", "n")


def unread_by_category(user: User) -> dict[str, int]:
    """The inbox tabs' unread counts, cached like the bell's (the same version). Compiled once per process and
    kept prepared (core.sqlmemo, the user's unread rows on the (user, read_at) index): a first visit's inbox built
    and compiled it (~1,500 Python calls, a sixth of the page; issue 13). Their sum is the bell's count: a miss
    that is to count the bell afresh too keeps it (one statement fewer)."""

    def count() -> dict[str, int]:
        rows = sqlmemo.rows("notifications: unread by category", _unread_by_category, {"user": user.pk}, prepare=True)
        counts: dict[str, int] = dict(rows)  # type: ignore[arg-type]  # (category, n) rows
        keep_unread = missing_ahead(SCOPE, user.pk, UNREAD)
        if keep_unread is not None:
            keep_unread(sum(counts.values()))
        return counts

    return cached_for(SCOPE, user.pk, "unread-by-category", count)


def _latest(user, limit: int) -> list[Notification]:
    """list(Notification.objects.for_user(user)[:limit]), compiled once per process and limit, kept prepared
    (the user's newest by the (user, read_at, -created_at) index's user column). On a page miss that is to count
    the bell or ask the verified email afresh too (a dashboard), read with them in one statement."""
    keep_unread = missing_ahead(SCOPE, user.pk, UNREAD)
    keep_verified = user.verified_email_missing()
    if keep_unread is not None or keep_verified is not None:
        found = _latest_and_asked(user, limit, keep_unread, keep_verified)
        if found is not None:
            return found
    latest: list[Any] = sqlmemo.instances(
        ("notifications: latest", int(limit)),
        lambda given: Notification.objects.filter(user_id=given["user"])[:limit],
        {"user": user.pk},
        prepare=True,
    )
    return latest


_NOTIFICATION_COLUMNS = tuple(field.attname for field in Notification._meta.concrete_fields)
_NOTIFICATION_ORDER = ("-notifications__created_at", "-notifications__id")  # Meta.ordering, from the user's row


def _latest_with(limit: int, counted: bool, verified: bool) -> Callable[[Any], QuerySet]:
    """The user's row LEFT JOINed to their newest notifications (one row of NULLs when they have none), with the
    bell's count and the verified email as scalar subqueries on it: a row whatever the user has."""

    def build(given) -> QuerySet:
        joined = User.objects.filter(pk=given["user"])
        asked = []
        if counted:
            joined = joined.annotate(bell_count=Coalesce(Subquery(_unread_counted({"user": given["notified"]})), 0))
            asked.append("bell_count")
        if verified:
            joined = joined.annotate(email_verified=Exists(verified_addresses(given["owner"], given["email"])))
            asked.append("email_verified")
        columns = [f"notifications__{column}" for column in _NOTIFICATION_COLUMNS]
        return joined.order_by(*_NOTIFICATION_ORDER).values_list(*columns, *asked)[:limit]

    return build


def _latest_and_asked(
    user, limit: int, keep_unread: Callable[[Any], None] | None, keep_verified: Callable[[bool], None] | None
) -> list[Notification] | None:
    """The latest notifications built as the plain query builds them (Model.from_db), and the bell's count and the
    verified email kept for this miss (core.cache.missing_ahead); None when the user's row is gone."""
    counted, verified = keep_unread is not None, keep_verified is not None
    values: dict[str, Any] = {"user": user.pk}
    if counted:
        values["notified"] = user.pk
    if verified:
        values.update(owner=user.pk, email=user.email)
    shape = ("notifications: latest, bell count, verified email", int(limit), counted, verified)
    found = sqlmemo.rows(shape, _latest_with(limit, counted, verified), values, prepare=True)
    if not found:
        return None
    width = len(_NOTIFICATION_COLUMNS)
    asked = list(found[0][width:])
    if keep_unread is not None:
        keep_unread(asked.pop(0))
    if keep_verified is not None:
        keep_verified(asked.pop(0))
    using = Notification.objects.db
    return [Notification.from_db(using, _NOTIFICATION_COLUMNS, row[:width]) for row in found if row[0] is not None]


def recent(user, limit: int = 5) -> list[Notification]:
    """The user's latest notifications (dashboards), cached until they change (or are read)."""
    return cached_for(SCOPE, user.pk, f"recent:{limit}", lambda: _latest(user, limit))


# --- Email preferences and unsubscribing ---------------------------------------------------------

UNSUBSCRIBE_SALT = "notifications.unsubscribe"
ALL_OPTIONAL = "all"  # the scope of the link in emails whose own category cannot be switched off


def email_preferences(user: User) -> dict[str, bool]:
    """Whether each category's emails go to the user; categories without a row are on."""
    stored = dict(EmailPreference.objects.filter(user=user).values_list("category", "enabled"))
    return {
        category: True if meta.always_email else stored.get(category, True)
        for category, meta in kinds.CATEGORIES.items()
    }


def wants_email(user: User, kind: str) -> bool:
    """Whether a notification of this kind may be emailed to the user (transactional ones always)."""
    category = kinds.category_of(kind)
    if kinds.always_emailed(kind, category):
        return True
    return not EmailPreference.objects.filter(user=user, category=category, enabled=False).exists()


def wants_category_email(user: User, category: str) -> bool:
    """The same question for emails that are not one notification (the chat digest: "message")."""
    if kinds.info(category).always_email:
        return True
    return not EmailPreference.objects.filter(user=user, category=category, enabled=False).exists()


def set_email_preferences(
    user: User, *, actor: User, choices: dict[str, bool], ip_address: str | None = None
) -> dict[str, bool]:
    """The user (or a signed unsubscribe link standing for them) chooses which emails they get.

    Only the optional categories can change; asking to switch off a transactional one is refused.
    Writes one audit row listing what changed (nothing changed: no row). Returns the new choices.
    """
    if actor.pk != user.pk:
        raise NotPermitted("You can only change your own email preferences.")
    unknown = set(choices) - set(kinds.CATEGORIES)
    if unknown:
        raise DomainError(f"Unknown email category: {', '.join(sorted(unknown))}.")
    locked = [c for c, on in choices.items() if not on and kinds.info(c).always_email]
    if locked:
        raise DomainError(f"{kinds.info(locked[0]).label} emails are always sent and cannot be switched off.")
    with transaction.atomic():
        before = email_preferences(user)
        changed = {c: on for c, on in choices.items() if before[c] != on}
        for category, enabled in changed.items():
            EmailPreference.objects.update_or_create(user=user, category=category, defaults={"enabled": enabled})
        if changed:
            audit(
                "notifications.email_preferences",
                user,
                actor=actor,
                details={"changed": changed},
                ip_address=ip_address,
            )
    return {**before, **changed}


def unsubscribe(user: User, *, scope: str, actor: User, ip_address: str | None = None) -> list[str]:
    """Switch off one optional category's emails, or all of them (`ALL_OPTIONAL`). Returns what is off now.

    Idempotent: a second click (or a mail app's one-click POST after the person's own) changes nothing.
    """
    categories = list(kinds.OPTIONAL_CATEGORIES) if scope == ALL_OPTIONAL else [scope]
    set_email_preferences(user, actor=actor, choices=dict.fromkeys(categories, False), ip_address=ip_address)
    return categories


def unsubscribe_token(user: User, scope: str) -> str:
    """A signed, timestamped token naming the user and what one click switches off. No login needed.

    A category that cannot be switched off (money) gets the "all optional emails" scope instead, so
    every email still carries a working link, and the page says what keeps coming and why.
    """
    if scope != ALL_OPTIONAL and kinds.info(scope).always_email:
        scope = ALL_OPTIONAL
    return signing.TimestampSigner(salt=UNSUBSCRIBE_SALT).sign_object({"u": user.pk, "s": scope}, compress=True)


def read_unsubscribe_token(token: str, *, max_age_days: int) -> tuple[User, str]:
    """The user and scope a token stands for.

    Raises signing.SignatureExpired (too old), signing.BadSignature (tampered, truncated, another
    salt) or User.DoesNotExist (the account is gone); the view answers 400 for each.
    """
    payload = signing.TimestampSigner(salt=UNSUBSCRIBE_SALT).unsign_object(token, max_age=max_age_days * 86400)
    if not isinstance(payload, dict):
        raise signing.BadSignature("Unexpected token payload.")
    user_id, scope = payload.get("u"), payload.get("s")
    if not isinstance(user_id, int) or not isinstance(scope, str):
        raise signing.BadSignature("Unexpected token payload.")
    if scope != ALL_OPTIONAL and scope not in kinds.OPTIONAL_CATEGORIES:
        raise signing.BadSignature("Unknown unsubscribe scope.")
    return User.objects.get(pk=user_id), scope
