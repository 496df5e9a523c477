"""Notify users in the app and by email. Every app above uses this; nothing here imports them.

`notify(recipient, …)` is called by the other apps' services (the recipient is its target; the
caller's service has already recorded who acted); `mark_read(*, actor, …)` acts on the actor's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.cache import bump_version_now, cached_for

from .models import Notification
from .signals import unread_changed

SCOPE = "notifications"


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
