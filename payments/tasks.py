"""Celery beat job for payments (scheduled in settings.CELERY_BEAT_SCHEDULE); safe to run twice."""

import time

from celery import shared_task

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
            link="/admin/payments/ledgerentry/",
        )
    return len(problems)
