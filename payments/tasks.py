"""Celery beat job for payments (scheduled in settings.CELERY_BEAT_SCHEDULE); safe to run twice."""

import time
from datetime import datetime

from celery import shared_task
from django.urls import reverse

from core import metrics

from . import ledger, provider_reconcile, services


@shared_task
def reconcile_ledger(until: str = "") -> int:
    """The nightly check of `manage.py reconcile_ledger --providers`: the ledger against itself and
    against what Stripe and PayPal say for the two days before `until` (ISO time; default now, less
    the settling time); any mismatch alerts staff at once."""
    end = datetime.fromisoformat(until) if until else None
    problems = ledger.reconcile() + provider_reconcile.compare_with_providers(*provider_reconcile.recent_window(end))
    metrics.LEDGER_MISMATCHES.set(len(problems))
    metrics.LEDGER_RECONCILED_AT.set(time.time())
    if problems:
        listed = "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
        services.alert_staff(
            "ledger_mismatch",
            f"The ledger does not reconcile: {len(problems)} problem(s). {listed}",
            link=reverse("admin:payments_ledgerentry_changelist"),
        )
    return len(problems)


@shared_task
def settle_with_providers() -> dict[str, int]:
    """Every 5 minutes: ask Stripe/PayPal about refunds and captures whose answer was lost, and settle them."""
    return services.settle_with_providers()
