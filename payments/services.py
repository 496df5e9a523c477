"""Every change to money goes through here (DESIGN.md §3): checkout, fulfilment, failures,
refunds, disputes. Views, webhooks, the admin and the test provider all call these functions.

Lock order, everywhere: the Payment row first, then its Order (orders.services locks it again,
harmlessly, inside the same transaction). Provider HTTP calls happen outside our transactions
except where noted; idempotency keys make a repeated call harmless.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from audit.services import record as audit
from elite.exceptions import DomainError, InvalidState, NotPermitted
from elite.money import format_money
from notifications.services import notify
from orders import services as order_services
from orders.models import Order, OrderStatus

from . import ledger
from .models import Payment, PaymentStatus, Provider, Refund, RefundStatus
from .providers import paypal_client, stripe_client, test_provider
from .providers.errors import PaymentProviderError, ProviderNotConfigured

logger = logging.getLogger(__name__)

CAPTURED_STATES = ledger.CAPTURED_STATES
# A payment in one of these states blocks a new checkout for the same order.
BLOCKING_STATES = (PaymentStatus.AUTHORIZED, *CAPTURED_STATES)


def available_providers() -> list[str]:
    """Providers a client can pay with here, in the order the buttons are shown."""
    providers = []
    if stripe_client.is_configured():
        providers.append(Provider.STRIPE)
    if paypal_client.is_configured():
        providers.append(Provider.PAYPAL)
    if test_provider.is_enabled():
        providers.append(Provider.TEST)
    return providers


def _lock_payment(payment_id: int) -> Payment:
    return Payment.objects.select_for_update().select_related("order").get(pk=payment_id)


def _money(amount_minor: int, currency: str) -> str:
    return format_money(amount_minor, currency)


# --- Staff alerts --------------------------------------------------------------------------


def alert_staff(kind: str, text: str, *, link: str = "") -> None:
    """Tell every active staff member at once: an in-app notification (emailed to them), plus the
    STAFF_ALERT_EMAILS inbox. Call inside the transaction that records the problem."""
    for user in User.objects.filter(is_staff=True, is_active=True, account_status="active"):
        notify(user, kind, text, link=link)
    recipients = list(settings.STAFF_ALERT_EMAILS)
    if recipients:
        subject = f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}Payments alert: {kind.replace('_', ' ')}"
        body = f"{text}\n\n{settings.SITE_URL}{link}" if link else text
        transaction.on_commit(lambda: send_mail(subject, body, None, recipients, fail_silently=True))


def _admin_link(payment: Payment) -> str:
    return f"/admin/payments/payment/{payment.pk}/change/"


# --- Checkout ----------------------------------------------------------------------------------


def check_can_pay(order: Order, user) -> None:
    """Only the order's client, with a confirmed email, pays an unpaid order, once."""
    if user is None or user.pk != order.client_id:
        raise NotPermitted("Only the client of this order can pay for it.")
    if not user.has_verified_email:
        raise NotPermitted("Confirm your email address before paying.")
    if order.status == OrderStatus.CANCELLED:
        raise InvalidState("This order is cancelled, so it cannot be paid.")
    if order.status != OrderStatus.PENDING:
        raise InvalidState("This order is already paid.")
    if Payment.objects.filter(order=order, status__in=BLOCKING_STATES).exists():
        raise InvalidState("A payment for this order is already being processed.")


def begin_payment(order_id: int, *, user, provider: str) -> Payment:
    """Write the Payment row (status created) before the client is sent to the provider."""
    if provider not in available_providers():
        raise ProviderNotConfigured("This payment method is not available.", provider=provider)
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        check_can_pay(order, user)
        # A random attempt id (not the row id, which a reset database repeats) keys the
        # provider calls, so an idempotency key never collides with an older attempt's.
        attempt = uuid.uuid4().hex
        return Payment.objects.create(
            order=order,
            client=user,
            provider=provider,
            # Replaced by the provider's id once it answers; unique until then.
            provider_payment_id=f"pending_{attempt}",
            amount_minor=order.amount_minor,
            currency=order.currency,
            metadata={"order_id": order.pk, "attempt": attempt},
        )


def _provider_failed(payment: Payment, error: PaymentProviderError) -> None:
    with transaction.atomic():
        payment = _lock_payment(payment.pk)
        if payment.status == PaymentStatus.CREATED:
            payment.status = PaymentStatus.FAILED
            payment.metadata = {**payment.metadata, "failure": error.message[:300]}
            payment.save(update_fields=["status", "metadata", "updated_at"])


def _set_provider_id(payment: Payment, provider_payment_id: str, **extra) -> Payment:
    payment.provider_payment_id = provider_payment_id
    payment.metadata = {**payment.metadata, **extra}
    payment.save(update_fields=["provider_payment_id", "metadata", "updated_at"])
    return payment


def _metadata(payment: Payment) -> dict[str, str]:
    return {"payment_id": str(payment.pk), "order_id": str(payment.order_id), "client_id": str(payment.client_id)}


UrlBuilder = Callable[[Payment], tuple[str, str]]


def start_stripe_checkout(order_id: int, *, user, urls: UrlBuilder) -> tuple[Payment, str]:
    """A Stripe Checkout Session for the order's server-side amount; returns (payment, URL to send the client to).

    `urls(payment)` gives the (success, cancel) URLs; the success URL may contain Stripe's
    {CHECKOUT_SESSION_ID} placeholder.
    """
    payment = begin_payment(order_id, user=user, provider=Provider.STRIPE)
    success_url, cancel_url = urls(payment)
    try:
        session = stripe_client.create_checkout_session(
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            product_name=f"Order #{payment.order_id}: {payment.order.title}",
            metadata=_metadata(payment),
            success_url=success_url,
            cancel_url=cancel_url,
            idempotency_key=f"ews-checkout-{payment.metadata['attempt']}",
            customer_email=user.email,
            client_reference_id=str(payment.order_id),
        )
    except PaymentProviderError as error:
        _provider_failed(payment, error)
        raise
    _set_provider_id(payment, session["id"])
    return payment, session["url"]


def start_paypal_checkout(order_id: int, *, user, urls: UrlBuilder) -> tuple[Payment, str]:
    """A PayPal order (Orders v2, intent CAPTURE); returns (payment, PayPal approval URL).
    `urls(payment)` gives the (return, cancel) URLs."""
    payment = begin_payment(order_id, user=user, provider=Provider.PAYPAL)
    return_url, cancel_url = urls(payment)
    try:
        created = paypal_client.create_order(
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            reference_id=f"order-{payment.order_id}",
            custom_id=str(payment.pk),
            description=f"Order #{payment.order_id}: {payment.order.title}",
            return_url=return_url,
            cancel_url=cancel_url,
            request_id=f"ews-create-{payment.metadata['attempt']}",
        )
    except PaymentProviderError as error:
        _provider_failed(payment, error)
        raise
    _set_provider_id(payment, created["id"])
    return payment, created["approve_url"]


def start_test_checkout(order_id: int, *, user) -> Payment:
    """The built-in test provider: the 'provider page' is our own /payments/test/<id>/."""
    payment = begin_payment(order_id, user=user, provider=Provider.TEST)
    return _set_provider_id(payment, test_provider.new_payment_id())


def capture_paypal(payment: Payment) -> str:
    """Capture an approved PayPal order (from the return page or the APPROVED webhook).

    PayPal-Request-Id is fixed per payment, so a second capture call returns the first result.
    Returns the fulfilment outcome, or "pending"/"failed" from PayPal's capture status.
    """
    if payment.status in CAPTURED_STATES:
        return "already"
    capture = paypal_client.capture_order(
        payment.provider_payment_id, request_id=f"ews-capture-{payment.provider_payment_id}"
    )
    if capture["status"] == "COMPLETED":
        return fulfil_payment(
            payment.pk,
            amount_minor=capture["amount_minor"],
            currency=capture["currency"],
            capture_id=capture["id"],
            source="PayPal capture",
        )
    if capture["status"] == "PENDING":
        mark_authorized(payment.pk, capture_id=capture["id"])
        return "pending"
    mark_failed(payment.pk, reason=f"PayPal capture {capture['status'].lower()}")
    return "failed"


def refresh_stripe_payment(payment: Payment) -> str:
    """The success page asks Stripe for the session's true state and fulfils if it is paid
    (the webhook may not have arrived yet). Same locked fulfilment as the webhook."""
    if payment.status in CAPTURED_STATES or payment.provider_payment_id.startswith("pending_"):
        return "already"
    session = stripe_client.retrieve_checkout_session(payment.provider_payment_id)
    return apply_stripe_session(payment, session, source="Stripe success page")


def apply_stripe_session(payment: Payment, session: dict, *, source: str) -> str:
    if session.get("payment_status") == "paid":
        return fulfil_payment(
            payment.pk,
            amount_minor=int(session.get("amount_total") or 0),
            currency=str(session.get("currency") or ""),
            capture_id=str(session.get("payment_intent") or ""),
            source=source,
        )
    if session.get("status") == "complete":
        # Completed but not yet paid (bank debits...): wait for async_payment_succeeded.
        mark_authorized(payment.pk, capture_id=str(session.get("payment_intent") or ""))
        return "pending"
    return "unpaid"


# --- Fulfilment: the one place a payment becomes captured -------------------------------------------


class Outcome:
    CAPTURED = "captured"
    ALREADY = "already"
    FLAGGED = "flagged"
    UNALLOCATED = "unallocated"


def fulfil_payment(payment_id: int, *, amount_minor: int, currency: str, capture_id: str = "", source: str) -> str:
    """The provider says this payment is paid: record it once, whoever calls first.

    Locked on the payment row, idempotent: the success page, the PayPal return and every webhook
    delivery call this; the first one captures, the others find it captured and change nothing.
    An amount or currency that differs from ours flags the payment for staff and does not pay the
    order. Money taken for an order that is no longer payable is held unallocated and flagged.
    Returns one of Outcome's values.
    """
    with transaction.atomic():
        payment = _lock_payment(payment_id)
        if payment.status in CAPTURED_STATES:
            return Outcome.ALREADY
        currency = currency.upper()
        if amount_minor != payment.amount_minor or currency != payment.currency:
            reason = (
                f"{source} reported {_money(amount_minor, currency or payment.currency)} {currency}, "
                f"but the order is {_money(payment.amount_minor, payment.currency)} {payment.currency}."
            )
            payment.flagged_reason = reason[:300]
            payment.metadata = {**payment.metadata, "mismatch": {"amount_minor": amount_minor, "currency": currency}}
            payment.save(update_fields=["flagged_reason", "metadata", "updated_at"])
            audit("payment.flagged", payment, details={"reason": reason, "source": source})
            alert_staff(
                "payment_flagged",
                f"Payment {payment.pk} for order #{payment.order_id} was flagged: {reason}",
                link=_admin_link(payment),
            )
            return Outcome.FLAGGED
        order = Order.objects.select_for_update().get(pk=payment.order_id)
        payment.status = PaymentStatus.CAPTURED
        payment.captured_at = timezone.now()
        if capture_id:
            payment.provider_capture_id = capture_id
        usable = order.status == OrderStatus.PENDING and not (
            Payment.objects.filter(order=order, status__in=CAPTURED_STATES).exclude(pk=payment.pk).exists()
        )
        if not usable:
            payment.flagged_reason = (
                f"Paid after the order was already {order.get_status_display().lower()}: refund this payment."
            )
        payment.save(
            update_fields=["status", "captured_at", "provider_capture_id", "flagged_reason", "metadata", "updated_at"]
        )
        ledger.record_charge(payment, unallocated=not usable)
        audit(
            "payment.captured",
            payment,
            details={"amount_minor": amount_minor, "currency": currency, "source": source, "order": order.pk},
        )
        if usable:
            order_services.mark_paid(
                order.pk,
                actor=None,
                note=f"Payment of {_money(amount_minor, currency)} received ({payment.get_provider_display()}).",
            )
            outcome = Outcome.CAPTURED
        else:
            alert_staff(
                "payment_unallocated",
                f"Payment {payment.pk} was captured for order #{order.pk}, which is "
                f"{order.get_status_display().lower()}. Refund it.",
                link=_admin_link(payment),
            )
            outcome = Outcome.UNALLOCATED
        # Events that arrived before this one (a refund before the completion) can apply now.
        from .webhooks import replay_deferred

        replay_deferred(payment.pk)
        return outcome


def mark_authorized(payment_id: int, *, capture_id: str = "") -> None:
    """The client finished checkout but the money is not there yet (async methods, pending capture)."""
    with transaction.atomic():
        payment = _lock_payment(payment_id)
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
        payment = _lock_payment(payment_id)
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
            link=f"/orders/{payment.order_id}/",
        )
        return True


def flag_payment(payment_id: int, *, reason: str, kind: str = "payment_flagged", details: dict | None = None) -> None:
    """Something staff must look at (a dispute opened at the provider, an impossible refund...)."""
    with transaction.atomic():
        payment = _lock_payment(payment_id)
        payment.flagged_reason = reason[:300]
        if details:
            payment.metadata = {**payment.metadata, **details}
        payment.save(update_fields=["flagged_reason", "metadata", "updated_at"])
        audit("payment.flagged", payment, details={"reason": reason, **(details or {})})
        alert_staff(kind, f"Payment {payment.pk} (order #{payment.order_id}): {reason}", link=_admin_link(payment))


# --- Refunds ------------------------------------------------------------------------------------


def refundable_minor(payment: Payment) -> int:
    """What can still be refunded: captured minus refunded minus refunds already in flight."""
    if payment.status not in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED):
        return 0
    in_flight = payment.refunds.filter(status=RefundStatus.REQUESTED).aggregate(total=Sum("amount_minor", default=0))
    return payment.amount_minor - payment.refunded_minor - in_flight["total"]


def refund(payment: Payment, *, amount_minor: int, actor, reason: str, ip_address: str | None = None) -> Refund:
    """Staff refund all or part of a captured payment.

    Checked and recorded as "requested" under the payment lock (so two staff cannot refund the
    same money twice), then sent to the provider with an idempotency key. The ledger changes only
    when the provider's webhook confirms the refund. Nothing is sent when the check fails.
    """
    if actor is None or not actor.is_staff:
        raise NotPermitted("Only staff can refund payments.")
    if not isinstance(amount_minor, int) or amount_minor <= 0:
        raise DomainError("Enter a refund amount greater than zero.")
    with transaction.atomic():
        payment = _lock_payment(payment.pk)
        if payment.status not in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED):
            raise InvalidState(
                f"Only a captured payment can be refunded; this one is {payment.get_status_display().lower()}."
            )
        remaining = refundable_minor(payment)
        if amount_minor > remaining:
            raise DomainError(
                f"At most {_money(remaining, payment.currency)} of this payment can still be refunded "
                f"(refunds waiting for the provider count too)."
            )
        pending = Refund.objects.create(
            payment=payment,
            amount_minor=amount_minor,
            currency=payment.currency,
            reason=reason[:300],
            requested_by=actor,
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
    try:
        provider_refund_id = _send_refund(payment, pending)
    except PaymentProviderError as error:
        with transaction.atomic():
            Refund.objects.filter(pk=pending.pk).update(
                status=RefundStatus.FAILED, error=error.message[:500], updated_at=timezone.now()
            )
            audit(
                "payment.refund_failed",
                payment,
                actor=actor,
                ip_address=ip_address,
                details={"refund": pending.pk, "error": error.message},
            )
        raise
    if provider_refund_id:
        Refund.objects.filter(pk=pending.pk, provider_refund_id="").update(provider_refund_id=provider_refund_id)
    if payment.provider == Provider.TEST:
        _deliver_test_refund(payment, pending, provider_refund_id)
    pending.refresh_from_db()
    return pending


def _send_refund(payment: Payment, pending: Refund) -> str:
    # The provider's payment id is globally unique, so the key is too.
    key = f"ews-refund-{payment.provider_payment_id}-{pending.pk}"
    if payment.provider == Provider.STRIPE:
        answer = stripe_client.create_refund(
            payment_intent=payment.provider_capture_id,
            amount_minor=pending.amount_minor,
            idempotency_key=key,
            metadata={"payment_id": str(payment.pk), "refund_id": str(pending.pk)},
        )
        return answer.get("id", "")
    if payment.provider == Provider.PAYPAL:
        answer = paypal_client.refund_capture(
            payment.provider_capture_id,
            amount_minor=pending.amount_minor,
            currency=payment.currency,
            request_id=key,
            note=pending.reason,
        )
        return answer.get("id", "")
    if not test_provider.is_enabled():
        raise ProviderNotConfigured("The test payment provider is switched off.", provider=Provider.TEST)
    return test_provider.new_refund_id()


def _deliver_test_refund(payment: Payment, pending: Refund, refund_id: str) -> None:
    from .webhooks import deliver_test_event

    deliver_test_event(
        "refund.succeeded",
        payment=payment.provider_payment_id,
        refund_id=refund_id,
        amount=pending.amount_minor,
        currency=payment.currency,
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
        payment = _lock_payment(payment_id)
        if payment.status not in CAPTURED_STATES:
            return "deferred"
        if currency.upper() != payment.currency:
            flag_payment(payment.pk, reason=f"{source} reported a refund in {currency.upper()}.")
            return "flagged"
        if cumulative_minor is not None:
            amount = cumulative_minor - payment.refunded_minor
            key = f"refund:{payment.pk}:upto:{cumulative_minor}"
            if amount <= 0:
                return "already"
        else:
            amount = int(amount_minor or 0)
            key = f"refund:{payment.pk}:{provider_refund_id}"
            if payment.refunds.filter(provider_refund_id=provider_refund_id, status=RefundStatus.SUCCEEDED).exists():
                return "already"
            refund_ids = (provider_refund_id,)
        if amount <= 0 or payment.refunded_minor + amount > payment.amount_minor:
            flag_payment(
                payment.pk,
                reason=f"{source} reported a refund of {_money(amount, payment.currency)}, more than is left.",
            )
            return "flagged"
        ledger.record_refund(payment, amount_minor=amount, key=key)
        payment.refunded_minor += amount
        payment.status = (
            PaymentStatus.REFUNDED
            if payment.refunded_minor == payment.amount_minor
            else PaymentStatus.PARTIALLY_REFUNDED
        )
        payment.save(update_fields=["refunded_minor", "status", "updated_at"])
        _settle_refund_rows(payment, amount, refund_ids)
        audit(
            "payment.refunded",
            payment,
            details={"amount_minor": amount, "currency": payment.currency, "source": source, "key": key},
        )
        notify(
            payment.client,
            "payment_refunded",
            f"{_money(amount, payment.currency)} was refunded for order #{payment.order_id}.",
            link="/payments/receipts/",
        )
        return "recorded"


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
        payment = _lock_payment(payment_id)
        rows = payment.refunds.filter(provider_refund_id=provider_refund_id, status=RefundStatus.REQUESTED)
        if not rows.update(status=RefundStatus.FAILED, error=reason[:500], updated_at=timezone.now()):
            return False
        audit("payment.refund_failed", payment, details={"provider_refund_id": provider_refund_id, "error": reason})
        flag_payment(payment.pk, reason=f"A refund failed at the provider: {reason}", kind="refund_failed")
        return True


# --- Disputes -----------------------------------------------------------------------------------


# A resolution claimed this long ago whose resolver never finished (a crash mid-way) may be taken over.
RESOLUTION_CLAIM_TIMEOUT = timedelta(minutes=10)


def resolve_dispute(order: Order, *, actor, refund_minor: int, note: str, ip_address: str | None = None) -> Order:
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
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status != OrderStatus.DISPUTED:
            raise InvalidState(f"This order is {locked.get_status_display().lower()}, not disputed.")
        payment = (
            Payment.objects.filter(order=locked, status__in=(PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED))
            .exclude(flagged_reason__startswith="Paid after")
            .order_by("captured_at")
            .first()
        )
        refundable = refundable_minor(payment) if payment else 0
        if refund_minor > refundable:
            raise DomainError(f"At most {_money(refundable, locked.currency)} can be refunded on this order.")
        _claim_resolution(locked)
    full = refund_minor > 0 and refund_minor == refundable
    if refund_minor:
        try:
            refund(
                payment,
                amount_minor=refund_minor,
                actor=actor,
                reason=f"Dispute resolution: {note}"[:300],
                ip_address=ip_address,
            )
        except Exception:
            # Nothing reached the provider (or it refused): the dispute is open to resolve again.
            Order.objects.filter(pk=locked.pk).update(resolution_claimed_at=None)
            raise
    with transaction.atomic():
        result = order_services.resolve_dispute(locked.pk, actor=actor, release=not full, note=note)
        audit(
            "payment.dispute_resolved",
            result,
            actor=actor,
            ip_address=ip_address,
            details={
                "refund_minor": refund_minor,
                "currency": locked.currency,
                "outcome": "refund" if full else ("partial_refund" if refund_minor else "release"),
                "note": note,
            },
        )
    return result


def _claim_resolution(order: Order) -> None:
    """Mark the (locked) disputed order as being resolved, or refuse: someone else is resolving it.

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
    order.resolution_claimed_at = now
    order.save(update_fields=["resolution_claimed_at", "updated_at"])


# --- Ledger hook: release the coach's share when an order completes --------------------------------


def on_order_status_changed(sender, *, order, to_status, **kwargs) -> None:
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
