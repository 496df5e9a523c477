"""Celery jobs for uploads: scan each one, and remove deleted or quarantined bytes from storage."""

import logging

from celery import shared_task
from django.conf import settings

from . import services
from .scanner import ScannerUnavailable

logger = logging.getLogger(__name__)


def _backoff(retries: int) -> int:
    return min(settings.FILE_SCAN_RETRY_MAX_DELAY, settings.FILE_SCAN_RETRY_BASE_DELAY * 2**retries)


@shared_task(bind=True, acks_late=True, max_retries=None)
def scan_file(self, asset_id: int) -> str | None:
    """Scan an upload; a scanner error retries with exponential backoff, then ends as `error`."""
    try:
        asset = services.scan(asset_id)
    except ScannerUnavailable as exc:
        if self.request.retries >= settings.FILE_SCAN_MAX_RETRIES:
            return services.mark_scan_error(asset_id, str(exc)).scan_status
        logger.warning("scan of upload %s failed (attempt %d): %s", asset_id, self.request.retries + 1, exc)
        if self.request.is_eager:
            # Eager mode (embedded default, tests) has no broker to schedule a later retry on, and
            # an eager Retry propagates as an error: try again in-process at once instead.
            return self.apply(args=[asset_id], retries=self.request.retries + 1).result
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    return asset.scan_status if asset else None


# Storage backends raise their own errors (OSError locally, botocore's on S3): retry any of them.
@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=30, max_retries=6)
def remove_from_storage(asset_id: int) -> bool:
    return services.remove_stored(asset_id)


@shared_task
def requeue_stale_scans() -> int:
    """Beat job: uploads still pending long after their scan should have finished are scanned again."""
    return services.requeue_stale_scans(older_than_minutes=settings.FILE_SCAN_STALE_MINUTES)


@shared_task
def sweep_orphans() -> int:
    """Beat job: bytes left in storage by an upload whose database row was rolled back."""
    return services.sweep_orphans()


@shared_task(acks_late=True)
def build_export(export_id: int) -> str | None:
    """Idempotent: a redelivered task finds the export no longer `building` and leaves it."""
    export = services.build_export(export_id)
    return export.status if export else None


@shared_task
def expire_exports() -> int:
    """Beat job: data export ZIPs older than FILE_EXPORT_DAYS are erased."""
    return services.expire_exports()
