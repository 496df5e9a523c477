"""Celery beat jobs for requests (scheduled in settings.CELERY_BEAT_SCHEDULE); safe to run twice."""

from celery import shared_task

from . import services


@shared_task
def expire_requests() -> int:
    return services.expire_requests()


@shared_task
def send_expiry_reminders() -> int:
    return services.send_expiry_reminders()
