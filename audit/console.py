"""Console helper that needs the audit table (so it sits in the audit layer, above core)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models, transaction

from core.http import client_ip

from .models import AuditLog
from .services import record


def run_audited(
    request,
    action: str,
    target: models.Model,
    call: Callable[[], Any],
    *,
    details: dict[str, Any] | None = None,
) -> Any:
    """Run `call` (a service call for `target`) and leave exactly one audit row with the caller's IP.

    Services that take `ip_address` record it themselves; some (orders.cancel_order) write their
    row without it, and some (allauth's verification mail, files.rescan) write none. Inside one
    transaction: if the service wrote rows for this target by this actor, they get the IP;
    otherwise we record `action` ourselves.
    """
    ip = client_ip(request)
    with transaction.atomic():
        marker = AuditLog.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        result = call()
        written = AuditLog.objects.filter(
            pk__gt=marker,
            actor=request.user,
            target_type=target._meta.label_lower,
            target_id=str(target.pk),
        )
        if written.exists():
            written.filter(ip_address__isnull=True).update(ip_address=ip)
        else:
            record(action, target, actor=request.user, details={"via": "console", **(details or {})}, ip_address=ip)
    return result
