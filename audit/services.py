"""Write audit rows; called inside the same transaction as the change they describe."""

from typing import Any

from django.db import models

from .models import AuditLog


def record(
    action: str,
    target: models.Model,
    *,
    actor=None,
    details: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditLog:
    return AuditLog.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_repr=str(target)[:200],
        details=details or {},
        ip_address=ip_address,
    )


def client_ip(request) -> str | None:
    """The caller's address as the load balancer saw it (first X-Forwarded-For hop)."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded:
        return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None
