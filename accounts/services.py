"""Account state changes. Staff tools (the operator console) call these; nothing else writes account_status."""

from django.db import transaction

from audit.services import record
from core.exceptions import InvalidState, NotPermitted

from .models import AccountStatus, Role, User


def _is_staff_actor(actor) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False) and actor.is_staff


def end_sessions(user: User) -> int:
    """Delete every tracked session of `user` from the session store. Returns how many were ended.

    Sessions are tracked by allauth.usersessions on each login. SuspendedUserMiddleware is the
    backstop for any session that was not tracked (it logs a suspended user out at the next request).
    """
    from allauth.usersessions.models import UserSession

    sessions = list(UserSession.objects.filter(user=user))
    for session in sessions:
        session.end()
    return len(sessions)


def announce_sessions_changed(user_id: int, *, ended_session_key: str | None = None) -> None:
    """After commit, tell the apps above (accounts.signals.sessions_changed) that the user's sessions changed."""
    from .signals import sessions_changed

    transaction.on_commit(
        lambda: sessions_changed.send(sender=User, user_id=user_id, ended_session_key=ended_session_key)
    )


def suspend_user(user: User, *, actor, reason: str, ip_address: str | None = None) -> User:
    """Suspend `user`: they cannot log in and their open sessions end now.

    Refuses a non-staff actor, suspending yourself and suspending the last active staff account.
    """
    reason = (reason or "").strip()
    if not _is_staff_actor(actor):
        raise NotPermitted("Only staff can suspend accounts.")
    if not reason:
        raise NotPermitted("Give a reason for the suspension; the user is told it.")
    if actor.pk == user.pk:
        raise NotPermitted("You cannot suspend your own account.")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.account_status == AccountStatus.SUSPENDED:
            raise InvalidState("This account is already suspended.")
        if locked.is_staff:
            # Lock every active staff row so two staff suspending each other at once cannot both succeed.
            active_staff = list(
                User.objects.select_for_update()
                .filter(role=Role.ADMIN, is_active=True)
                .exclude(account_status=AccountStatus.SUSPENDED)
                .values_list("pk", flat=True)
            )
            if not [pk for pk in active_staff if pk != locked.pk]:
                raise NotPermitted("This is the last active staff account; it cannot be suspended.")
        locked.account_status = AccountStatus.SUSPENDED
        locked.suspended_reason = reason[:500]
        locked.save(update_fields=["account_status", "suspended_reason", "updated_at"])
        ended = end_sessions(locked)
        announce_sessions_changed(locked.pk)
        record(
            "account.suspend",
            locked,
            actor=actor,
            details={"reason": locked.suspended_reason, "sessions_ended": ended},
            ip_address=ip_address,
        )
        _email_on_commit(locked, "account_suspended", {"reason": locked.suspended_reason})
    user.account_status, user.suspended_reason = locked.account_status, locked.suspended_reason
    return locked


def reactivate_user(user: User, *, actor, ip_address: str | None = None) -> User:
    """Lift a suspension. The user logs in again with their existing password."""
    if not _is_staff_actor(actor):
        raise NotPermitted("Only staff can reactivate accounts.")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.account_status != AccountStatus.SUSPENDED:
            raise InvalidState("This account is not suspended.")
        locked.account_status = AccountStatus.ACTIVE
        previous_reason, locked.suspended_reason = locked.suspended_reason, ""
        locked.save(update_fields=["account_status", "suspended_reason", "updated_at"])
        record(
            "account.reactivate",
            locked,
            actor=actor,
            details={"previous_reason": previous_reason},
            ip_address=ip_address,
        )
        _email_on_commit(locked, "account_reactivated", {})
    user.account_status, user.suspended_reason = locked.account_status, locked.suspended_reason
    return locked


def _email_on_commit(user: User, kind: str, context: dict) -> None:
    from .tasks import send_account_email

    transaction.on_commit(lambda: send_account_email.delay(user.pk, kind, context))
