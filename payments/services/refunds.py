"""Refunds: staff (or a dispute) send money back through the provider; the ledger changes only when the
provider confirms."""

from __future__ import annotations

import logging
import uuid

from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.services import record as audit
from core.exceptions import DomainError, InvalidState, NotPermitted
from core.money import format_money
from core.pages import users_changed
from notifications.services import notify

from .. import ledger
from ..models import Payment, PaymentStatus, Provider, Refund, RefundStatus
from ..providers import paypal_client, stripe_client, test_provider
from ..providers.errors import PaymentProviderError, ProviderNotConfigured, ProviderUnavailable
from .common import CAPTURED_STATES, lock_payment
from .fulfilment import flag_payment

logger = logging.getLogger(__name__)

# --- Refunds ------------------------------------------------------------------------------------


def refundable_minor(payment: Payment) -> int:
    """What can still be refunded: captured minus refunded minus refunds already in flight."""
    if payment.status not in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED):
        return 0
    in_flight = payment.refunds.filter(status=RefundStatus.REQUESTED).aggregate(total=Sum("amount_minor", default=0))
    return payment.amount_minor - payment.refunded_minor - in_flight["total"]


def refund(payment_id: int, *, actor: User, amount_minor: int, reason: str, ip_address: str | None = None) -> Refund:
    """Staff refund all or part of a captured payment.

    Checked and recorded as "requested" under the payment lock (so two staff cannot refund the
    same money twice), then sent to the provider under the refund's own idempotency key. The ledger
    changes only when the provider confirms the refund. Nothing is sent when the check fails; a
    refusal fails the refund (and raises); a lost answer leaves it requested for settle_refund.
    """
    if actor is None or not actor.is_staff:
        raise NotPermitted("Only staff can refund payments.")
    if not isinstance(amount_minor, int) or amount_minor <= 0:
        raise DomainError("Enter a refund amount greater than zero.")
    with transaction.atomic():
        payment = lock_payment(payment_id)
        if payment.status not in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED):
            raise InvalidState(
                f"Only a captured payment can be refunded; this one is {payment.get_status_display().lower()}."
            )
        remaining = refundable_minor(payment)
        if amount_minor > remaining:
            raise DomainError(
                f"At most {format_money(remaining, payment.currency)} of this payment can still be refunded "
                f"(refunds waiting for the provider count too)."
            )
        pending = Refund.objects.create(
            payment=payment,
            amount_minor=amount_minor,
            currency=payment.currency,
            reason=reason[:300],
            requested_by=actor,
            idempotency_key=f"ews-refund-{uuid.uuid4().hex}",
        )
        audit(
            "payment.refund_requested",
            payment,
            actor=actor,
            ip_address=ip_address,
            details={
                "refund": pending.pk,
                "amount_minor": amount_minor,
                "currency": payment.currency,
                "reason": reason,
            },
        )
    answer = _send(pending, actor=actor, ip_address=ip_address)
    if answer is not None and payment.provider == Provider.TEST:
        _deliver_test_refund(payment, pending, answer["id"])
    pending.refresh_from_db()
    return pending


def _send(pending: Refund, *, actor=None, ip_address: str | None = None) -> dict | None:
    """Send (or send again) a requested refund under its own key. Returns the provider's answer, or
    None when the answer was lost (no answer, a timeout, a 5xx): the provider may have refunded, so
    the refund stays requested and its amount reserved. A refusal fails the refund and raises."""
    payment = pending.payment
    Refund.objects.filter(pk=pending.pk).update(sent_at=timezone.now())
    try:
        answer = _send_refund(payment, pending)
    except ProviderUnavailable as error:
        with transaction.atomic():
            Refund.objects.filter(pk=pending.pk).update(error=error.message[:500], updated_at=timezone.now())
            audit(
                "payment.refund_unanswered",
                payment,
                actor=actor,
                ip_address=ip_address,
                details={"refund": pending.pk, "error": error.message},
            )
        logger.warning("Refund %s: no answer from %s (%s)", pending.pk, payment.provider, error.message)
        return None
    except PaymentProviderError as error:
        with transaction.atomic():
            Refund.objects.filter(pk=pending.pk).update(
                status=RefundStatus.FAILED, error=error.message[:500], updated_at=timezone.now()
            )
            users_changed(payment.client_id, payment.order.coach_id)  # an update sends no signal (core.pages)
            audit(
                "payment.refund_failed",
                payment,
                actor=actor,
                ip_address=ip_address,
                details={"refund": pending.pk, "error": error.message},
            )
        raise
    if answer.get("id"):
        Refund.objects.filter(pk=pending.pk, provider_refund_id="").update(provider_refund_id=answer["id"], error="")
    return answer


def _send_refund(payment: Payment, pending: Refund) -> dict:
    key = pending.idempotency_key
    if payment.provider == Provider.STRIPE:
        return stripe_client.create_refund(
            payment_intent=payment.provider_capture_id,
            amount_minor=pending.amount_minor,
            idempotency_key=key,
            metadata={"payment_id": str(payment.pk), "refund_id": str(pending.pk)},
        )
    if payment.provider == Provider.PAYPAL:
        return paypal_client.refund_capture(
            payment.provider_capture_id,
            amount_minor=pending.amount_minor,
            currency=payment.currency,
            request_id=key,
            note=pending.reason,
        )
    if not test_provider.is_enabled():
        raise ProviderNotConfigured("The test payment provider is switched off.", provider=Provider.TEST)
    return {"id": test_provider.new_refund_id()}


def _deliver_test_refund(payment: Payment, pending: Refund, refund_id: str) -> None:
    from ..webhooks import deliver_test_event

    deliver_test_event(
        "refund.succeeded",
        payment=payment.provider_payment_id,
        refund_id=refund_id,
        amount=pending.amount_minor,
        currency=payment.currency,
    )


# --- Settling a refund whose outcome we do not know -----------------------------------------------


def settle_refund(refund: Refund, *, actor=None, ip_address: str | None = None) -> str:
    """Ask the provider what became of a refund still requested, and settle it.

    Stripe: list the PaymentIntent's refunds and find ours (by id, or the refund_id we put in its
    metadata); PayPal: look the refund up, or (its id never reached us) send it again under the
    same PayPal-Request-Id, which answers with the refund already made. Not at the provider → sent
    again under the same key. The ledger changes only through record_provider_refund, when the
    provider says succeeded. Returns "already", "resent", "pending", "failed" or
    record_provider_refund's outcome.
    """
    refund = Refund.objects.select_related("payment").get(pk=refund.pk)
    if refund.status != RefundStatus.REQUESTED:
        return "already"
    if actor is not None:
        audit(
            "payment.refund_checked", refund.payment, actor=actor, ip_address=ip_address, details={"refund": refund.pk}
        )
    if refund.payment.provider == Provider.STRIPE:
        return _settle_with_stripe(refund, actor=actor, ip_address=ip_address)
    if refund.payment.provider == Provider.PAYPAL:
        return _settle_with_paypal(refund, actor=actor, ip_address=ip_address)
    return "pending"


def _settle_with_stripe(refund: Refund, *, actor, ip_address: str | None) -> str:
    payment = refund.payment
    at_stripe = stripe_client.list_refunds(payment.provider_capture_id)
    ours = next(
        (
            r
            for r in at_stripe
            if (refund.provider_refund_id and r.get("id") == refund.provider_refund_id)
            or str((r.get("metadata") or {}).get("refund_id", "")) == str(refund.pk)
        ),
        None,
    )
    if ours is None:
        _send(refund, actor=actor, ip_address=ip_address)
        return "resent"
    Refund.objects.filter(pk=refund.pk, provider_refund_id="").update(provider_refund_id=ours["id"], error="")
    if ours.get("status") in ("failed", "canceled"):
        fail_refund(payment.pk, provider_refund_id=ours["id"], reason=str(ours.get("failure_reason") or "failed"))
        return "failed"
    if ours.get("status") != "succeeded":
        return "pending"
    succeeded = [r for r in at_stripe if r.get("status") == "succeeded"]
    return record_provider_refund(
        payment.pk,
        cumulative_minor=sum(int(r.get("amount") or 0) for r in succeeded),
        currency=str(ours.get("currency") or ""),
        source="Stripe refund lookup",
        refund_ids=tuple(str(r["id"]) for r in succeeded),
    )


def _settle_with_paypal(refund: Refund, *, actor, ip_address: str | None) -> str:
    payment = refund.payment
    if refund.provider_refund_id:
        answer: dict | None = paypal_client.get_refund(refund.provider_refund_id)
    else:
        answer = _send(refund, actor=actor, ip_address=ip_address)
    if answer is None:
        return "pending"
    status = str(answer.get("status") or "")
    if status in ("FAILED", "CANCELLED"):
        fail_refund(payment.pk, provider_refund_id=str(answer["id"]), reason=f"PayPal says {status.lower()}")
        return "failed"
    if status != "COMPLETED":
        return "pending"
    amount = answer.get("amount") or {}
    currency = str(amount.get("currency_code") or payment.currency)
    return record_provider_refund(
        payment.pk,
        amount_minor=paypal_client.from_paypal_value(amount.get("value", "0"), currency),
        provider_refund_id=str(answer["id"]),
        currency=currency,
        source="PayPal refund lookup",
    )


def record_provider_refund(
    payment_id: int,
    *,
    amount_minor: int | None = None,
    provider_refund_id: str = "",
    cumulative_minor: int | None = None,
    currency: str,
    source: str,
    refund_ids: tuple[str, ...] = (),
) -> str:
    """The provider confirms money went back to the client. Idempotent.

    Either one refund (`provider_refund_id` + `amount_minor`: PayPal, the test provider) or the
    provider's running total (`cumulative_minor`: Stripe's charge.amount_refunded, which makes
    deliveries in any order converge). Returns "recorded", "already", "deferred" (the payment is
    not captured yet: the event waits for it) or "flagged".
    """
    with transaction.atomic():
        payment = lock_payment(payment_id)
        if payment.status not in CAPTURED_STATES:
            return "deferred"
        if currency.upper() != payment.currency:
            flag_payment(payment.pk, reason=f"{source} reported a refund in {currency.upper()}.")
            return "flagged"
        if cumulative_minor is not None:
            amount, key = cumulative_minor - payment.refunded_minor, f"refund:{payment.pk}:upto:{cumulative_minor}"
            if amount <= 0:
                return "already"
        else:
            amount, key = int(amount_minor or 0), f"refund:{payment.pk}:{provider_refund_id}"
            if payment.refunds.filter(provider_refund_id=provider_refund_id, status=RefundStatus.SUCCEEDED).exists():
                return "already"
            refund_ids = (provider_refund_id,)
        if amount <= 0 or payment.refunded_minor + amount > payment.amount_minor:
            flag_payment(
                payment.pk,
                reason=f"{source} reported a refund of {format_money(amount, payment.currency)}, more than is left.",
            )
            return "flagged"
        _book_refund(payment, amount, key=key, source=source, refund_ids=refund_ids)
        return "recorded"


def _book_refund(payment: Payment, amount: int, *, key: str, source: str, refund_ids: tuple[str, ...]) -> None:
    """Money confirmed back to the client (the caller holds the payment's lock): the ledger row, the
    payment's running total and status, our Refund rows, the audit trail and the client's notice."""
    ledger.record_refund(payment, amount_minor=amount, key=key)
    payment.refunded_minor += amount
    fully = payment.refunded_minor == payment.amount_minor
    payment.status = PaymentStatus.REFUNDED if fully else PaymentStatus.PARTIALLY_REFUNDED
    payment.save(update_fields=["refunded_minor", "status", "updated_at"])
    _settle_refund_rows(payment, amount, refund_ids)
    details = {"amount_minor": amount, "currency": payment.currency, "source": source, "key": key}
    audit("payment.refunded", payment, details=details)
    notify(
        payment.client,
        "payment_refunded",
        f"{format_money(amount, payment.currency)} was refunded for order #{payment.order_id}.",
        link=reverse("payments:receipts"),
    )


def _settle_refund_rows(payment: Payment, amount: int, refund_ids: tuple[str, ...]) -> None:
    """Mark our requested Refund rows confirmed: those the provider named first, then oldest first;
    money refunded at the provider without a request of ours gets its own row."""
    now = timezone.now()
    left = amount
    requested = list(payment.refunds.select_for_update().filter(status=RefundStatus.REQUESTED))
    named = [r for r in requested if r.provider_refund_id and r.provider_refund_id in refund_ids]
    others = [r for r in requested if r not in named]
    for row in named + others:
        if row.amount_minor <= left:
            row.status, row.confirmed_at = RefundStatus.SUCCEEDED, now
            row.save(update_fields=["status", "confirmed_at", "updated_at"])
            left -= row.amount_minor
    if left:
        unknown_id = next((i for i in refund_ids if not payment.refunds.filter(provider_refund_id=i).exists()), "")
        Refund.objects.create(
            payment=payment,
            amount_minor=left,
            currency=payment.currency,
            status=RefundStatus.SUCCEEDED,
            provider_refund_id=unknown_id,
            reason="Refunded at the provider.",
            confirmed_at=now,
        )


def fail_refund(payment_id: int, *, provider_refund_id: str, reason: str) -> bool:
    """The provider says a refund it had accepted failed: the money stays with us, the amount is
    refundable again, and staff are told. A refund already confirmed is never undone by this."""
    with transaction.atomic():
        payment = lock_payment(payment_id)
        rows = payment.refunds.filter(provider_refund_id=provider_refund_id, status=RefundStatus.REQUESTED)
        if not rows.update(status=RefundStatus.FAILED, error=reason[:500], updated_at=timezone.now()):
            return False
        users_changed(payment.client_id, payment.order.coach_id)  # an update sends no signal (core.pages)
        audit("payment.refund_failed", payment, details={"provider_refund_id": provider_refund_id, "error": reason})
        flag_payment(payment.pk, reason=f"A refund failed at the provider: {reason}", kind="refund_failed")
        return True
