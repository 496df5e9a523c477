"""Celery beat jobs for orders (scheduled in settings.CELERY_BEAT_SCHEDULE); safe to run twice."""

from celery import shared_task

from . import services


@shared_task
def auto_complete_silent_deliveries() -> int:
    return services.auto_complete_silent_deliveries()


@shared_task
def escalate_overdue_orders() -> int:
    return services.escalate_overdue_orders()


@shared_task
def cancel_unpaid_orders() -> int:
    return services.cancel_unpaid_orders()


@shared_task
def chase_dispute_statements() -> int:
    return services.chase_dispute_statements()
