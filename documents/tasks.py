"""Celery jobs of documents: read a file's text; announce, then delete, documents past retention."""

from celery import shared_task
from django.conf import settings

from . import services


@shared_task(
    acks_late=True,
    soft_time_limit=settings.DOCUMENTS_EXTRACT_SECONDS + 10,
    time_limit=settings.DOCUMENTS_EXTRACT_SECONDS + 30,
)
def extract_text(asset_id: int) -> str | None:
    """Idempotent: a redelivered task finds the extraction already recorded and returns its status."""
    extraction = services.extract_file(asset_id)
    return extraction.status if extraction else None


@shared_task
def warn_before_purge() -> int:
    """Beat job: tell the parties DOCUMENTS_RETENTION_WARNING_DAYS ahead (once per order)."""
    return services.warn_before_purge()


@shared_task
def purge_expired() -> int:
    """Beat job: the files and documents data of orders past DOCUMENTS_RETENTION_DAYS, once announced."""
    return services.purge_expired()
