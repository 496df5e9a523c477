"""Business metrics from the apps' own signals and saves: not one line in their services.

Every count is taken in `transaction.on_commit`, so a change that rolled back is not counted. The
sources are what each app already records: orders' `order_status_changed`, the audit rows payments
write for each capture, failure, flag and refund, WebhookEvent's status, FileAsset's scan verdict.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_save

from audit.models import AuditLog
from core import metrics
from core.money import minor_to_decimal
from files.models import FileAsset, ScanStatus
from orders.signals import order_status_changed
from payments.models import Payment, WebhookEvent

PAYMENT_OUTCOMES = {"payment.captured": "captured", "payment.failed": "failed", "payment.flagged": "flagged"}
REFUND_OUTCOMES = {
    "payment.refund_requested": "requested",
    "payment.refunded": "confirmed",
    "payment.refund_failed": "failed",
}
VERDICTS: dict[str, str] = {ScanStatus.CLEAN: "clean", ScanStatus.INFECTED: "infected", ScanStatus.ERROR: "error"}


def _status_changed(update_fields, created: bool, field: str) -> bool:
    return created or (update_fields is not None and field in update_fields)


def on_order_status_changed(sender, *, from_status, to_status, **kwargs) -> None:
    transaction.on_commit(lambda: metrics.ORDER_TRANSITIONS.labels(from_status or "none", to_status).inc())


def _count_payment(outcome: str, payment_id: str, details: dict) -> None:
    """A capture's audit row carries the provider, amount and currency (one SELECT less per webhook);
    for the others (failed, flagged: their amounts are not the payment's) the payment row is read."""
    if outcome == "captured" and {"provider", "amount_minor", "currency"} <= details.keys():
        provider, amount_minor, currency = details["provider"], int(details["amount_minor"]), details["currency"]
    else:
        row = Payment.objects.filter(pk=payment_id).values_list("provider", "amount_minor", "currency").first()
        if row is None:
            return
        provider, amount_minor, currency = row
    metrics.PAYMENTS.labels(provider, outcome).inc()
    metrics.PAYMENT_AMOUNT.labels(outcome, currency).inc(float(minor_to_decimal(amount_minor, currency)))


def _count_refund(outcome: str, details: dict) -> None:
    metrics.REFUNDS.labels(outcome).inc()
    currency = str(details.get("currency") or "")
    if currency and "amount_minor" in details:
        amount = minor_to_decimal(int(details["amount_minor"]), currency)
        metrics.REFUND_AMOUNT.labels(outcome, currency.upper()).inc(float(amount))


def on_audit_row(sender, instance: AuditLog, created: bool, **kwargs) -> None:
    if not created:
        return
    if instance.action in PAYMENT_OUTCOMES:
        outcome, target, details = PAYMENT_OUTCOMES[instance.action], instance.target_id, dict(instance.details or {})
        transaction.on_commit(lambda: _count_payment(outcome, target, details))
    elif instance.action in REFUND_OUTCOMES:
        outcome, details = REFUND_OUTCOMES[instance.action], dict(instance.details or {})
        transaction.on_commit(lambda: _count_refund(outcome, details))


def on_webhook_saved(sender, instance: WebhookEvent, created: bool, update_fields=None, **kwargs) -> None:
    if not _status_changed(update_fields, created, "status"):
        return
    labels = (instance.provider, instance.event_type, instance.status)
    transaction.on_commit(lambda: metrics.WEBHOOK_EVENTS.labels(*labels).inc())


def on_file_saved(sender, instance: FileAsset, created: bool, update_fields=None, **kwargs) -> None:
    verdict = VERDICTS.get(instance.scan_status)
    if verdict is None or not _status_changed(update_fields, created, "scan_status"):
        return
    transaction.on_commit(lambda: metrics.UPLOADS_SCANNED.labels(verdict).inc())


def _create_failure_series() -> None:
    """Zero series for every handled event type's failures, so an alert sees the first one as an increase."""
    from payments.webhooks import HANDLERS

    for provider, event_type in HANDLERS:
        for status in ("failed", "flagged"):
            metrics.WEBHOOK_EVENTS.labels(provider, event_type, status)


def connect() -> None:
    _create_failure_series()
    order_status_changed.connect(on_order_status_changed, dispatch_uid="ops.order_transitions")
    post_save.connect(on_audit_row, sender=AuditLog, dispatch_uid="ops.audit_metrics")
    post_save.connect(on_webhook_saved, sender=WebhookEvent, dispatch_uid="ops.webhook_metrics")
    post_save.connect(on_file_saved, sender=FileAsset, dispatch_uid="ops.upload_metrics")
