"""Notify users in the app and by email. Every app above uses this; nothing here imports them.

`notify(recipient, …)` is called by the other apps' services (the recipient is its target; the
caller's service has already recorded who acted); `mark_read(*, actor, …)` acts on the actor's own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from core.cache import bump_version_now, cached_for

from .models import Notification, SentEmail
from .signals import unread_changed

SCOPE = "notifications"
logger = logging.getLogger(__name__)


def notify(
    user: User, kind: str, text: str, *, link: str = "", email: bool = True, context: dict[str, Any] | None = None
) -> Notification:
    """Create an in-app notification and, after commit, email it.

    The email uses templates/emails/<kind>_{subject.txt,body.txt,body.html} when they exist,
    else the generic notification templates.
    """
    notification = Notification.objects.create(user=user, kind=kind, text=text[:300], link=link)
    _announce_unread_change(user.pk)
    if email and user.email:
        from .tasks import send_notification_email

        transaction.on_commit(lambda: send_notification_email.delay(notification.pk, context or {}))
    return notification


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


def _announce_unread_change(user_id: int) -> None:
    bump_version_now(SCOPE, user_id)

    def after_commit() -> None:
        bump_version_now(SCOPE, user_id)  # again: a reader in between cached the rows before ours
        unread_changed.send(sender=Notification, user_id=user_id)

    transaction.on_commit(after_commit)


def unread_count(user: User) -> int:
    """The bell on every page: one indexed count (cheaper to keep exact than to cache)."""
    return Notification.objects.for_user(user).unread().count()


def recent(user, limit: int = 5) -> list[Notification]:
    """The user's latest notifications (dashboards), cached until they change (or are read)."""
    return cached_for(SCOPE, user.pk, f"recent:{limit}", lambda: list(Notification.objects.for_user(user)[:limit]))
