"""Figures for the console's index page: today's queues and the latest audited actions."""

from django import template

from accounts.models import AccountStatus, User
from audit.models import AuditLog
from coaches.models import CoachProfile
from files.models import ScanStatus
from orders.models import Order, OrderStatus

register = template.Library()


@register.simple_tag
def console_queues() -> dict:
    """How many items wait in each queue the index links to (one COUNT each, all indexed columns)."""
    return {
        "disputes": Order.objects.filter(status=OrderStatus.DISPUTED).count(),
        "unverified": CoachProfile.objects.filter(is_verified=False).count(),
        "scan_errors": _files().filter(scan_status=ScanStatus.ERROR, deleted_at__isnull=True).count(),
        "suspended": User.objects.filter(account_status=AccountStatus.SUSPENDED).count(),
    }


def _files():
    from files.models import FileAsset

    return FileAsset.objects


@register.simple_tag
def recent_audit(limit: int = 10) -> list[AuditLog]:
    return list(AuditLog.objects.select_related("actor")[:limit])
