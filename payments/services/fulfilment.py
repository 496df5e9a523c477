"""Fulfilment: the one place a payment becomes captured (or authorized, failed, flagged), and the payout
entry when an order completes."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from audit.services import record as audit
from audit.services import record_write as audit_write
from core import sqlmemo, writes
from core.money import format_money
from notifications.services import notify
from orders import services as order_services
from orders.models import Order, OrderStatus

from .. import ledger
from ..models import Payment, PaymentStatus, WebhookEvent, WebhookStatus
from .common import CAPTURED_STATES, admin_link, alert_staff, lock_payment

logger = logging.getLogger(__name__)

# --- Fulfilment: the one place a payment becomes captured -------------------------------------------


class Outcome:
    CAPTURED = "captured"
    ALREADY = "already"
    FLAGGED = "flagged"
    UNALLOCATED = "unallocated"


def fulfil_payment(
    payment_id: int,
    *,
    amount_minor: int,
    currency: str,
    capture_id: str = "",
    source: str,
    locked: Payment | None = None,
) -> str:
    """The provider says this payment is paid: record it once, whoever calls first.

    Locked on the payment row, idempotent: the success page, the PayPal return and every webhook
    delivery call this; the first one captures, the others find it captured and change nothing.
    An amount or currency that differs from ours flags the payment for staff and does not pay the
    order. Money taken for an order that is no longer payable is held unallocated and flagged.
    `locked`: this payment as the caller found it with `lock_for_fulfilment` in its open transaction
    (a webhook looks the payment up and locks it in one query), so it is not read and locked again.
    Returns one of Outcome's values.
    """
    # No savepoint when nested (a webhook's processing): nothing here catches an error to carry
    # on, so the caller's own savepoint or transaction is the unit that rolls back.
    with transaction.atomic(savepoint=False):
        payment = locked if locked is not None and locked.pk == payment_id else lock_for_fulfilment(pk=payment_id)
        if payment is None:
            raise Payment.DoesNotExist(f"Payment {payment_id} does not exist.")
        if payment.status in CAPTURED_STATES:
            return Outcome.ALREADY
        currency = currency.upper()
        if amount_minor != payment.amount_minor or currency != payment.currency:
            _flag_mismatch(payment, amount_minor=amount_minor, currency=currency, source=source)
            return Outcome.FLAGGED
        if locked is not None and _capture_in_one_statement(payment, capture_id=capture_id, source=source):
            return Outcome.CAPTURED
        usable = _order_can_use(payment)
        _capture(payment, capture_id=capture_id, usable=usable)
        ledger.record_charge(payment, unallocated=not usable)
        audit("payment.captured", payment, details=_captured_details(payment, source))
        outcome = _start_the_order(payment) if usable else _hold_unallocated(payment)
        # Events that arrived before this one (a refund before the completion) can apply now.
        from ..webhooks import replay_deferred

        replay_deferred(payment.pk)
        return outcome


@dataclass
class Receipt:
    """The webhook event being processed (row locked, `attempts` counted): a one-statement capture also
    writes its final UPDATE (processed, this payment, processed_at) and says so in `written`."""

    event: WebhookEvent
    written: bool = False


_receipt: ContextVar[Receipt | None] = ContextVar("payments_receipt", default=None)


@contextmanager
def receipt_in_capture(event: WebhookEvent) -> Iterator[Receipt]:
    """Inside, a capture in one statement also marks `event` processed in that statement (webhooks)."""
    receipt = Receipt(event)
    token = _receipt.set(receipt)
    try:
        yield receipt
    finally:
        _receipt.reset(token)


RECEIPT_FIELDS = ("status", "error", "attempts", "payment", "processed_at")  # what webhooks._process saves


def _receipt_write(payment: Payment, now: datetime) -> list[writes.Write]:
    """The event's final UPDATE, as webhooks._process would save it for Result(PROCESSED, payment)."""
    receipt = _receipt.get()
    if receipt is None:
        return []
    event = receipt.event
    _receipt.set(None)  # one capture per event
    values = {"status": WebhookStatus.PROCESSED, "error": "", "attempts": event.attempts, "payment": payment}

    def processed(results: writes.Results) -> None:
        for field, value in values.items():
            setattr(event, field, value)
        event.processed_at = now
        receipt.written = True
        writes.saved(event, created=False, update_fields=RECEIPT_FIELDS)

    changes = {**values, "payment": payment.pk, "processed_at": now}
    return [writes.update("receipt", WebhookEvent, event.pk, changes, after="captured", done=processed)]


def _captured_details(payment: Payment, source: str) -> dict[str, object]:
    return {
        "amount_minor": payment.amount_minor,  # the provider's, which matched
        "currency": payment.currency,
        "source": source,
        "order": payment.order_id,
        "provider": payment.provider,  # ops counts the capture from this row, without a read
    }


def _capture_in_one_statement(payment: Payment, *, capture_id: str, source: str) -> bool:
    """The common case of a capture, written in one statement (issue 13): the payment, its charge row,
    its audit row, the order's move, its timeline row and both parties' notifications, each app's
    write built by its own services (core.writes), with the same signals and after-commit effects as
    the ORM path below. It applies when the amount and currency matched (checked by the caller), the
    order (locked with the payment) is pending, and, as the statement itself checks after the lock (a
    fresh snapshot), no other payment of the order is captured and no event waits for this one.
    Otherwise nothing is written and False sends the caller down the ORM path. PostgreSQL only."""
    order = payment.order
    if not (
        settings.PAYMENTS_ONE_STATEMENT_CAPTURE
        and connection.vendor == "postgresql"
        and order.status == OrderStatus.PENDING
        and order.client_id != order.coach_id  # notify_many: two recipients
    ):
        return False
    now = timezone.now()
    changes = {
        "status": PaymentStatus.CAPTURED,
        "captured_at": now,
        "provider_capture_id": capture_id or payment.provider_capture_id,
        "flagged_reason": payment.flagged_reason,
        "metadata": payment.metadata,
        "updated_at": now,
    }
    quote = connection.ops.quote_name
    guard = writes.Write(
        "usable",
        f"SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM {quote(Payment._meta.db_table)} WHERE order_id = %s"  # noqa: S608  # nosec B608
        f" AND status IN ({', '.join(['%s'] * len(CAPTURED_STATES))}) AND id <> %s)"
        f" AND NOT EXISTS (SELECT 1 FROM {quote(WebhookEvent._meta.db_table)} WHERE payment_id = %s AND status = %s)",
        [order.pk, *CAPTURED_STATES, payment.pk, payment.pk, WebhookStatus.DEFERRED],
    )

    def captured(results: writes.Results) -> None:
        for field, value in changes.items():
            setattr(payment, field, value)
        writes.saved(payment, created=False, update_fields=list(changes))

    done = writes.run(
        guard,
        [
            writes.update("captured", Payment, payment.pk, changes, after="usable", done=captured),
            ledger.charge_write("charge", payment, after="captured"),
            audit_write(
                "capture_audit",
                "payment.captured",
                payment,
                after="captured",
                details=_captured_details(payment, source),
            ),
            *order_services.mark_paid_writes(order, note=_paid_note(payment), after="captured"),
            *_receipt_write(payment, now),  # last: the ORM path saves the event after the handler
        ],
        prepare=True,  # one SQL text per shape (values are parameters), every row found by its key
    )
    return done is not None


def lock_for_fulfilment(**lookup: object) -> Payment | None:
    """The payment matching `lookup` (None if none does) and its order, both row-locked (payment first,
    the lock order everywhere), with the order's client and coach loaded but not locked: the order's
    move to in progress uses this locked row instead of reading it again. Call inside a transaction."""
    # Prepared on the server: PostgreSQL plans the 4-table locking join in ~0.7 ms, 5× what it takes to run.
    found = sqlmemo.instances(("lock for fulfilment", tuple(sorted(lookup))), _locking, lookup, prepare=True)
    if len(found) > 1:
        raise Payment.MultipleObjectsReturned(f"{len(found)} payments match {sorted(lookup)}.")
    return cast(Payment, found[0]) if found else None


def _locking(lookup: Mapping[str, Any]) -> QuerySet[Payment]:
    """lock_for_fulfilment's query: compiled once per process and lookup (core.sqlmemo), not per delivery.
    A unique lookup, no ORDER BY (first()'s cost more to compile)."""
    locking = Payment.objects.select_for_update(of=("self", "order")).select_related("order__client", "order__coach")
    return locking.filter(**lookup).order_by()


def _flag_mismatch(payment: Payment, *, amount_minor: int, currency: str, source: str) -> None:
    """The provider took a different amount or currency than the order's: staff decide, nothing is paid."""
    reason = (
        f"{source} reported {format_money(amount_minor, currency or payment.currency)} {currency}, "
        f"but the order is {format_money(payment.amount_minor, payment.currency)} {payment.currency}."
    )
    payment.flagged_reason = reason[:300]
    payment.metadata = {**payment.metadata, "mismatch": {"amount_minor": amount_minor, "currency": currency}}
    payment.save(update_fields=["flagged_reason", "metadata", "updated_at"])
    audit("payment.flagged", payment, details={"reason": reason, "source": source})
    alert_staff(
        "payment_flagged",
        f"Payment {payment.pk} for order #{payment.order_id} was flagged: {reason}",
        link=admin_link(payment),
    )


def _order_can_use(payment: Payment) -> bool:
    """The order still waits for its money and no other payment of it was captured."""
    if payment.order.status != OrderStatus.PENDING:
        return False
    others = Payment.objects.filter(order_id=payment.order_id, status__in=CAPTURED_STATES).exclude(pk=payment.pk)
    return not others.exists()


def _capture(payment: Payment, *, capture_id: str, usable: bool) -> None:
    payment.status = PaymentStatus.CAPTURED
    payment.captured_at = timezone.now()
    if capture_id:
        payment.provider_capture_id = capture_id
    if not usable:
        state = payment.order.get_status_display().lower()
        payment.flagged_reason = f"Paid after the order was already {state}: refund this payment."
    payment.save(
        update_fields=["status", "captured_at", "provider_capture_id", "flagged_reason", "metadata", "updated_at"]
    )


def _start_the_order(payment: Payment) -> str:
    order_services.mark_paid(payment.order_id, locked=payment.order, actor=None, note=_paid_note(payment))
    return Outcome.CAPTURED


def _paid_note(payment: Payment) -> str:
    return (
        f"Payment of {format_money(payment.amount_minor, payment.currency)} received "
        f"({payment.get_provider_display()})."
    )


def _hold_unallocated(payment: Payment) -> str:
    order = payment.order
    alert_staff(
        "payment_unallocated",
        f"Payment {payment.pk} was captured for order #{order.pk}, which is "
        f"{order.get_status_display().lower()}. Refund it.",
        link=admin_link(payment),
    )
    return Outcome.UNALLOCATED


def mark_authorized(payment_id: int, *, capture_id: str = "") -> None:
    """The client finished checkout but the money is not there yet (async methods, pending capture)."""
    with transaction.atomic():
        payment = lock_payment(payment_id)
        if payment.status in CAPTURED_STATES:
            return
        payment.status = PaymentStatus.AUTHORIZED
        if capture_id:
            payment.provider_capture_id = capture_id
        payment.save(update_fields=["status", "provider_capture_id", "updated_at"])


def mark_failed(payment_id: int, *, reason: str) -> bool:
    """The provider says the payment failed. A captured payment is never un-captured by this."""
    reason = reason.strip().rstrip(".") or "The payment was declined"
    with transaction.atomic():
        payment = lock_payment(payment_id)
        if payment.status in CAPTURED_STATES or payment.status == PaymentStatus.FAILED:
            return False
        payment.status = PaymentStatus.FAILED
        payment.metadata = {**payment.metadata, "failure": reason[:300]}
        payment.save(update_fields=["status", "metadata", "updated_at"])
        audit("payment.failed", payment, details={"reason": reason[:300]})
        notify(
            payment.client,
            "payment_failed",
            f"Your payment for order #{payment.order_id} did not go through: {reason[:200]}. You can try again.",
            link=reverse("orders:detail", args=[payment.order_id]),
        )
        return True


def flag_payment(payment_id: int, *, reason: str, kind: str = "payment_flagged", details: dict | None = None) -> None:
    """Something staff must look at (a dispute opened at the provider, an impossible refund...)."""
    with transaction.atomic():
        payment = lock_payment(payment_id)
        payment.flagged_reason = reason[:300]
        if details:
            payment.metadata = {**payment.metadata, **details}
        payment.save(update_fields=["flagged_reason", "metadata", "updated_at"])
        audit("payment.flagged", payment, details={"reason": reason, **(details or {})})
        alert_staff(kind, f"Payment {payment.pk} (order #{payment.order_id}): {reason}", link=admin_link(payment))


# --- Ledger hook: release the coach's share when an order completes --------------------------------


def on_order_status_changed(sender: type[Order], *, order: Order, to_status: str, **kwargs: object) -> None:
    """Receiver of orders.signals.order_status_changed (runs inside the order's transaction)."""
    if to_status != OrderStatus.COMPLETED:
        return
    entry = ledger.release_payout(order)
    if entry is not None:
        audit(
            "payment.payout_released",
            order,
            details={"amount_minor": entry.gross_minor, "currency": entry.currency, "coach": order.coach_id},
        )
