"""Account state changes. Staff tools (the operator console) call these; nothing else writes account_status.

Signature: `verb(user, *, actor, …, ip_address=None)`: the target is the User instance (re-read under
a lock where two staff could race); the service records actor and IP on its audit row.

Also the API's refresh tokens (issue, rotate with reuse detection, revoke) and token_version bumps.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from audit.services import record
from core.exceptions import DomainError, InvalidState, NotPermitted

from .models import AccountStatus, ApiRefreshToken, Role, User


def _is_staff_actor(actor: User | None) -> bool:
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


def suspend_user(user: User, *, actor: User, reason: str, ip_address: str | None = None) -> User:
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
        end_api_tokens(locked)
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


def reactivate_user(user: User, *, actor: User, ip_address: str | None = None) -> User:
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


PROFILE_FIELDS = ("first_name", "last_name", "phone")


def update_profile(user: User, *, actor: User, changes: dict[str, str]) -> User:
    """A user edits their own names and phone (the email is allauth's: changing it re-verifies)."""
    if actor is None or actor.pk != user.pk:
        raise NotPermitted("You can only edit your own profile.")
    fields = [name for name in PROFILE_FIELDS if name in changes]
    for name in fields:
        setattr(user, name, changes[name])
    user.save(update_fields=[*fields, "updated_at"])
    return user


def resend_verification(user: User, *, actor: User, request: HttpRequest, ip_address: str | None = None) -> bool:
    """Staff resend the verification mail to `user`'s unverified address. Audited with the IP.

    allauth builds the link from `request` and allows one mail per address every few minutes
    (ACCOUNT_RATE_LIMITS "confirm_email"): False means an earlier, still valid link was sent
    recently, and nothing is recorded. InvalidState if there is no address left to verify.
    """
    from allauth.account.internal.flows.email_verification import (
        get_address_for_user,
        send_verification_email_to_address,
    )

    if not _is_staff_actor(actor):
        raise NotPermitted("Only staff can resend verification emails.")
    address = get_address_for_user(user)
    if address is None:
        raise InvalidState("no address")
    if address.verified:
        raise InvalidState("already verified")
    with transaction.atomic():
        if not send_verification_email_to_address(request, address):
            return False
        record(
            "account.resend_verification",
            user,
            actor=actor,
            details={"via": "console", "email": address.email},
            ip_address=ip_address,
        )
    return True


def _email_on_commit(user: User, kind: str, context: dict[str, str]) -> None:
    from .tasks import send_account_email

    transaction.on_commit(lambda: send_account_email.delay(user.pk, kind, context))


# --- API tokens ---------------------------------------------------------------------------------


class TokenRefused(DomainError):
    """A refresh token that is unknown, expired, revoked or reused: the caller must log in again."""

    status = 401


REFUSED_MESSAGE = "This refresh token is not valid any more. Log in again."


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def may_use_api(user: User) -> bool:
    return user.is_active and user.account_status != AccountStatus.SUSPENDED


def issue_refresh_token(user: User, *, family: uuid.UUID | None = None, ip_address: str | None = None) -> str:
    """A new refresh token for `user` (a new family = a new login). Only its hash is stored."""
    raw = secrets.token_urlsafe(48)
    ApiRefreshToken.objects.create(
        user=user,
        family=family or uuid.uuid4(),
        token_hash=_digest(raw),
        expires_at=timezone.now() + datetime.timedelta(days=settings.API_REFRESH_TOKEN_DAYS),
        token_version=user.token_version,
        ip_address=ip_address,
    )
    return raw


def rotate_refresh_token(raw: str, *, ip_address: str | None = None) -> tuple[User, str]:
    """Use up `raw` and return its user with the next token of the same family.

    A token that was already used is a copy in someone else's hands: every refresh token of the user is
    revoked and their token_version bumped (their access tokens end too), then the call is refused.
    The revocation commits even though the caller gets an error.
    """
    now = timezone.now()
    with transaction.atomic():
        row = (
            ApiRefreshToken.objects.select_for_update()
            .select_related("user")
            .filter(token_hash=_digest(raw or ""))
            .first()
        )
        if row is None:
            raise TokenRefused(REFUSED_MESSAGE)
        user = row.user
        if row.used_at is not None:
            _revoke_after_reuse(row, now=now, ip_address=ip_address)
        elif (
            row.revoked_at is None
            and row.expires_at > now
            and row.token_version == user.token_version
            and may_use_api(user)
        ):
            row.used_at = now
            row.save(update_fields=["used_at"])
            return user, issue_refresh_token(user, family=row.family, ip_address=ip_address)
    raise TokenRefused(REFUSED_MESSAGE)


def _revoke_after_reuse(row: ApiRefreshToken, *, now, ip_address: str | None) -> None:
    revoked = ApiRefreshToken.objects.filter(user_id=row.user_id, revoked_at=None).update(revoked_at=now)
    end_api_tokens(row.user)
    record(
        "api.refresh_token_reused",
        row.user,
        actor=None,
        details={"family": str(row.family), "tokens_revoked": revoked},
        ip_address=ip_address,
    )


def owner_of_refresh_token(raw: str) -> User | None:
    """The user a live (unused, unrevoked, unexpired, current-version) refresh token belongs to."""
    row = (
        ApiRefreshToken.objects.select_related("user")
        .filter(token_hash=_digest(raw or ""), used_at=None, revoked_at=None, expires_at__gt=timezone.now())
        .first()
    )
    if row is None or row.token_version != row.user.token_version:
        return None
    return row.user


def revoke_refresh_family(raw: str, *, actor: User) -> int:
    """Log out one device: the family of `raw` (if it is the actor's) stops refreshing."""
    row = ApiRefreshToken.objects.filter(token_hash=_digest(raw or ""), user=actor).first()
    if row is None:
        return 0
    return ApiRefreshToken.objects.filter(family=row.family, revoked_at=None).update(revoked_at=timezone.now())


def end_api_tokens(user: User) -> None:
    """Bump token_version: every access and refresh token issued before now is refused at once."""
    User.objects.filter(pk=user.pk).update(token_version=F("token_version") + 1)
    user.refresh_from_db(fields=["token_version"])


def log_out_everywhere(user: User, *, actor: User, ip_address: str | None = None) -> None:
    """End every API token and every browser session of `user` (their own "log out everywhere")."""
    if actor.pk != user.pk:
        raise NotPermitted("You can only log yourself out everywhere.")
    with transaction.atomic():
        end_api_tokens(user)
        ApiRefreshToken.objects.filter(user=user, revoked_at=None).update(revoked_at=timezone.now())
        ended = end_sessions(user)
        record("account.logout_everywhere", user, actor=actor, details={"sessions_ended": ended}, ip_address=ip_address)
