"""Write audit rows; called inside the same transaction as the change they describe."""

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import models

from .models import AuditLog


def record(
    action: str,
    target: models.Model,
    *,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    details: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditLog:
    return AuditLog.objects.create(
        actor_id=getattr(actor, "pk", None),  # AnonymousUser has pk None
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_repr=str(target)[:200],
        details=details or {},
        ip_address=ip_address,
    )
