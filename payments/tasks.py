"""Celery beat job for payments (scheduled in settings.CELERY_BEAT_SCHEDULE); safe to run twice."""

import time

from celery import shared_task
from django.urls import reverse

from core import metrics

from . import ledger, services


@shared_task
def reconcile_ledger() -> int:
    """The nightly check of `manage.py reconcile_ledger`; any mismatch alerts staff at once."""
    problems = ledger.reconcile()
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
