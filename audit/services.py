"""Write audit rows; called inside the same transaction as the change they describe."""

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import models
from django.utils import timezone

from core import writes

from .models import AuditLog


def _row(action: str, target: models.Model, actor, details: dict[str, Any] | None, ip_address: str | None) -> dict:
    return {
        "actor_id": getattr(actor, "pk", None),  # AnonymousUser has pk None
        "action": action,
        "target_type": target._meta.label_lower,
        "target_id": str(target.pk),
        "target_repr": str(target)[:200],
        "details": details or {},
        "ip_address": ip_address,
    }


def record(
    action: str,
    target: models.Model,
    *,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    details: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditLog:
    return AuditLog.objects.create(**_row(action, target, actor, details, ip_address))


def record_write(name: str, action: str, target: models.Model, *, after: str, details: dict[str, Any]) -> writes.Write:
    """`record(action, target, details=…)` (no actor) as one CTE of a caller's statement (core.writes),
    with the same post_save once it ran."""
    row = {**_row(action, target, None, details, None), "created_at": timezone.now()}
    values = {("actor" if key == "actor_id" else key): value for key, value in row.items()}

    def done(results: writes.Results) -> None:
        writes.saved(AuditLog(pk=results[name][0], **row), created=True)

    return writes.insert(name, AuditLog, values, after=after, done=done)
