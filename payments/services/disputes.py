"""Disputes: staff release the payment to the coach or refund the client, claiming the resolution first
so two staff members cannot both move the money."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.services import record as audit
from core.exceptions import DomainError, InvalidState, NotPermitted
from core.money import format_money
from orders import services as order_services
from orders.models import Order, OrderStatus

from ..models import Payment, PaymentStatus, Refund
from .refunds import refund, refundable_minor

logger = logging.getLogger(__name__)

# --- Disputes -----------------------------------------------------------------------------------


# A resolution claimed this long ago whose resolver never finished (a crash mid-way) may be taken over.
RESOLUTION_CLAIM_TIMEOUT = timedelta(minutes=10)


def resolve_dispute(
    order_id: int, *, actor: User, refund_minor: int, note: str, ip_address: str | None = None
) -> Order:
    """Staff settle a disputed order: 0 releases everything to the coach (→ completed); the full
    remaining amount refunds the client (→ cancelled); anything in between refunds that much and
    releases the rest (→ completed). The refund goes to the provider first; the order moves only
    if that succeeded.

    The order row is not locked across the provider call, so the resolution is claimed on the
    order first: a second resolver (say one refunding while another releases, which would pay
    both client and coach) is refused with 409 before anything is sent.
    """
    if actor is None or not actor.is_staff:
        raise NotPermitted("Only staff can resolve disputes.")
    if not isinstance(refund_minor, int) or refund_minor < 0:
        raise DomainError("The refund amount cannot be negative.")
    order, payment, refundable = _claim_for_resolution(order_id, actor=actor, refund_minor=refund_minor)
    full = refund_minor > 0 and refund_minor == refundable
    if refund_minor:
        assert payment is not None  # refund_minor <= refundable, which is 0 without a payment
        try:
            refund(
                payment.pk,
                amount_minor=refund_minor,
                actor=actor,
                reason=f"Dispute resolution: {note}"[:300],
                ip_address=ip_address,
            )
        except Exception:
            # Nothing reached the provider (or it refused): the dispute is open to resolve again.
            order_services.release_resolution(order.pk, actor=actor)
            raise
    outcome = "refund" if full else ("partial_refund" if refund_minor else "release")
    with transaction.atomic():
        result = order_services.resolve_dispute(
            order.pk,
            actor=actor,
            release=not full,
            refunded_minor=0 if full else refund_minor,
            note=note,
            ip_address=ip_address,
        )
        details = {"refund_minor": refund_minor, "currency": order.currency, "outcome": outcome, "note": note}
        audit("payment.dispute_resolved", result, actor=actor, ip_address=ip_address, details=details)
    return result


def _claim_for_resolution(order_id: int, *, actor: User, refund_minor: int) -> tuple[Order, Payment | None, int]:
    """Lock the disputed order, check the amount against what its payment can still refund, and claim
    the resolution so no second resolver can act meanwhile. Returns the order, its payment (None when
    it was never paid through us) and the refundable amount."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != OrderStatus.DISPUTED:
            raise InvalidState(f"This order is {order.get_status_display().lower()}, not disputed.")
        payment = (
            Payment.objects.filter(order=order, status__in=(PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED))
            .exclude(flagged_reason__startswith="Paid after")
            .order_by("captured_at")
            .first()
        )
        refundable = refundable_minor(payment) if payment else 0
        if refund_minor > refundable:
            raise DomainError(f"At most {format_money(refundable, order.currency)} can be refunded on this order.")
        _check_no_live_claim(order)
        order_services.claim_resolution(order.pk, actor=actor)
    return order, payment, refundable


def _check_no_live_claim(order: Order) -> None:
    """Refuse to resolve the (locked) disputed order if someone else is resolving it.

    A claim older than RESOLUTION_CLAIM_TIMEOUT belongs to a resolver that died mid-way; it may be
    taken over only when that resolver sent no refund (else the outcome is already half decided).
    """
    now = timezone.now()
    claimed = order.resolution_claimed_at
    if claimed is not None:
        if now - claimed < RESOLUTION_CLAIM_TIMEOUT:
            raise InvalidState(
                "Another staff member is resolving this dispute right now. Reload the order in a minute."
            )
        if Refund.objects.filter(payment__order=order, created_at__gte=claimed).exists():
            raise InvalidState(
                "An earlier resolution of this dispute sent a refund and did not finish. Check the refund "
                "with the provider before settling the order."
            )
