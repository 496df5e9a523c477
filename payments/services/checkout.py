"""Checkout: a client starts paying with a provider; we create the provider's session or order."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from core.exceptions import InvalidState, NotPermitted
from orders.models import Order, OrderStatus

from ..models import Payment, PaymentStatus, Provider
from ..providers import paypal_client, stripe_client, test_provider
from ..providers.errors import PaymentProviderError, ProviderNotConfigured
from .common import BLOCKING_STATES, CAPTURED_STATES, available_providers, lock_payment
from .fulfilment import fulfil_payment, mark_authorized, mark_failed

logger = logging.getLogger(__name__)

# --- Checkout ----------------------------------------------------------------------------------


def check_can_pay(order: Order, user: User | None) -> None:
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


def begin_payment(order_id: int, *, actor: User, provider: str) -> Payment:
    """Write the Payment row (status created) before the client is sent to the provider."""
    if provider not in available_providers():
        raise ProviderNotConfigured("This payment method is not available.", provider=provider)
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        check_can_pay(order, actor)
        # A random attempt id (not the row id, which a reset database repeats) keys the
        # provider calls, so an idempotency key never collides with an older attempt's.
        attempt = uuid.uuid4().hex
        return Payment.objects.create(
            order=order,
            client=actor,
            provider=provider,
            # Replaced by the provider's id once it answers; unique until then.
            provider_payment_id=f"pending_{attempt}",
            amount_minor=order.amount_minor,
            currency=order.currency,
            metadata={"order_id": order.pk, "attempt": attempt},
        )


def _provider_failed(payment: Payment, error: PaymentProviderError) -> None:
    with transaction.atomic():
        payment = lock_payment(payment.pk)
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


def start_stripe_checkout(order_id: int, *, actor: User, urls: UrlBuilder) -> tuple[Payment, str]:
    """A Stripe Checkout Session for the order's server-side amount; returns (payment, URL to send the client to).

    `urls(payment)` gives the (success, cancel) URLs; the success URL may contain Stripe's
    {CHECKOUT_SESSION_ID} placeholder.
    """
    payment = begin_payment(order_id, actor=actor, provider=Provider.STRIPE)
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
            customer_email=actor.email,
            client_reference_id=str(payment.order_id),
        )
    except PaymentProviderError as error:
        _provider_failed(payment, error)
        raise
    _set_provider_id(payment, session["id"])
    return payment, session["url"]


def start_paypal_checkout(order_id: int, *, actor: User, urls: UrlBuilder) -> tuple[Payment, str]:
    """A PayPal order (Orders v2, intent CAPTURE); returns (payment, PayPal approval URL).
    `urls(payment)` gives the (return, cancel) URLs."""
    payment = begin_payment(order_id, actor=actor, provider=Provider.PAYPAL)
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


def start_test_checkout(order_id: int, *, actor: User) -> Payment:
    """The built-in test provider: the 'provider page' is our own /payments/test/<id>/."""
    payment = begin_payment(order_id, actor=actor, provider=Provider.TEST)
    return _set_provider_id(payment, test_provider.new_payment_id())


def capture_paypal(payment_id: int) -> str:
    """Capture an approved PayPal order (from the return page or the APPROVED webhook).

    PayPal-Request-Id is fixed per payment, so a second capture call returns the first result.
    The attempt is noted on the payment first: if PayPal's answer is lost (ProviderUnavailable
    propagates), settle_paypal_capture later asks PayPal what happened.
    Returns the fulfilment outcome, or "pending"/"failed" from PayPal's capture status.
    """
    payment = Payment.objects.get(pk=payment_id)
    if payment.status in CAPTURED_STATES:
        return "already"
    if "capture_sent_at" not in payment.metadata:
        payment.metadata = {**payment.metadata, "capture_sent_at": timezone.now().isoformat()}
        Payment.objects.filter(pk=payment.pk).update(metadata=payment.metadata)
    capture = paypal_client.capture_order(
        payment.provider_payment_id, request_id=f"ews-capture-{payment.provider_payment_id}"
    )
    return _apply_paypal_capture(payment, capture)


def _apply_paypal_capture(payment: Payment, capture: dict) -> str:
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


def settle_paypal_capture(payment_id: int) -> str:
    """A capture whose answer never reached us: PayPal's order details say whether it captured. An
    order still approved and uncaptured is captured again under the same PayPal-Request-Id."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status in CAPTURED_STATES:
        return "already"
    order = paypal_client.get_order(payment.provider_payment_id)
    captures = paypal_client.captures_of(order)
    if captures:
        return _apply_paypal_capture(payment, captures[0])
    if order.get("status") == "APPROVED":
        return capture_paypal(payment.pk)
    return "pending"


def refresh_stripe_payment(payment_id: int) -> str:
    """The success page asks Stripe for the session's true state and fulfils if it is paid
    (the webhook may not have arrived yet). Same locked fulfilment as the webhook."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status in CAPTURED_STATES or payment.provider_payment_id.startswith("pending_"):
        return "already"
    session = stripe_client.retrieve_checkout_session(payment.provider_payment_id)
    return apply_stripe_session(payment.pk, session, source="Stripe success page")


def apply_stripe_session(
    payment_id: int, session: dict[str, Any], *, source: str, locked: Payment | None = None
) -> str:
    """Fulfil (or mark authorized) the payment from a Stripe Checkout session's state.

    `locked`: the payment as the caller's transaction locked it (`lock_for_fulfilment`)."""
    if session.get("payment_status") == "paid":
        return fulfil_payment(
            payment_id,
            amount_minor=int(session.get("amount_total") or 0),
            currency=str(session.get("currency") or ""),
            capture_id=str(session.get("payment_intent") or ""),
            source=source,
            locked=locked,
        )
    if session.get("status") == "complete":
        # Completed but not yet paid (bank debits...): wait for async_payment_succeeded.
        mark_authorized(payment_id, capture_id=str(session.get("payment_intent") or ""))
        return "pending"
    return "unpaid"
