"""The only module that imports the `stripe` SDK.

Calls go through `stripe.StripeClient`; `settings.STRIPE_API_BASE` points it at another host
(tests run a loopback server that answers like the Stripe API). Every create call carries an
idempotency key, so the SDK's own network retries cannot create a second session or refund.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import stripe
from django.conf import settings

if TYPE_CHECKING:
    from stripe.params.checkout import SessionCreateParams

from .errors import (
    PaymentProviderError,
    ProviderNotConfigured,
    ProviderRefused,
    ProviderUnavailable,
    SignatureError,
    parse_event,
)

PROVIDER = "stripe"
# Stripe's own default; an older (even correctly signed) delivery is refused.
WEBHOOK_TOLERANCE_SECONDS = 300
NETWORK_RETRIES = 2


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def webhooks_configured() -> bool:
    return bool(settings.STRIPE_WEBHOOK_SECRET)


@lru_cache(maxsize=4)
def _client_for(api_key: str, api_base: str, timeout: float) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def _client() -> stripe.StripeClient:
    if not is_configured():
        raise ProviderNotConfigured("Card payments through Stripe are not available.", provider=PROVIDER)
    return _client_for(
        settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE.rstrip("/"), settings.PAYMENT_PROVIDER_TIMEOUT_SECONDS
    )


def _translate(error: stripe.StripeError) -> PaymentProviderError:
    """ProviderUnavailable when Stripe may or may not have acted (no answer, 5xx, or the same
    idempotency key still being processed), ProviderRefused when it answered no."""
    message = getattr(error, "user_message", None) or str(error._message or "Stripe refused the request.")
    code = error.code or ""
    unknown = (stripe.APIConnectionError, stripe.RateLimitError, stripe.IdempotencyError)
    if isinstance(error, unknown) or (error.http_status or 0) >= 500:
        return ProviderUnavailable(f"Stripe is not answering right now: {message}", provider=PROVIDER, code=code)
    return ProviderRefused(f"Stripe refused the request: {message}", provider=PROVIDER, code=code)


def _plain(obj: Any) -> dict:
    """StripeObjects are dict-like; callers get plain dicts and never see SDK types."""
    return obj.to_dict(recursive=True, for_json=True)


def create_checkout_session(
    *,
    amount_minor: int,
    currency: str,
    product_name: str,
    metadata: dict[str, str],
    success_url: str,
    cancel_url: str,
    idempotency_key: str,
    customer_email: str = "",
    client_reference_id: str = "",
) -> dict:
    """A one-line-item Checkout Session in payment mode. Returns the session as a dict (id, url, ...)."""
    params: SessionCreateParams = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency.lower(),
                    "unit_amount": amount_minor,
                    "product_data": {"name": product_name[:250]},
                },
            }
        ],
        "metadata": metadata,
        # The PaymentIntent (and so its charge and any dispute) carries our ids too.
        "payment_intent_data": {"metadata": metadata},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    if customer_email:
        params["customer_email"] = customer_email
    if client_reference_id:
        params["client_reference_id"] = client_reference_id
    try:
        session = _client().v1.checkout.sessions.create(params, {"idempotency_key": idempotency_key})
    except stripe.StripeError as error:
        raise _translate(error) from error
    return _plain(session)


def retrieve_checkout_session(session_id: str) -> dict:
    try:
        return _plain(_client().v1.checkout.sessions.retrieve(session_id))
    except stripe.StripeError as error:
        raise _translate(error) from error


def create_refund(*, payment_intent: str, amount_minor: int, idempotency_key: str, metadata: dict[str, str]) -> dict:
    try:
        refund = _client().v1.refunds.create(
            {"payment_intent": payment_intent, "amount": amount_minor, "metadata": metadata},
            {"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as error:
        raise _translate(error) from error
    return _plain(refund)


def list_refunds(payment_intent: str) -> list[dict]:
    """Every refund Stripe holds for a PaymentIntent (one page of 100: an order has a handful)."""
    try:
        page = _client().v1.refunds.list({"payment_intent": payment_intent, "limit": 100})
    except stripe.StripeError as error:
        raise _translate(error) from error
    return [_plain(refund) for refund in page.data]


def list_created_between(kind: str, start: int, end: int) -> list[dict]:
    """Every Checkout Session, charge or refund (`kind`: "sessions", "charges", "refunds") Stripe
    created in [start, end) (unix seconds), following the pages."""
    services = {
        "sessions": lambda c: c.v1.checkout.sessions,
        "charges": lambda c: c.v1.charges,
        "refunds": lambda c: c.v1.refunds,
    }
    service = services[kind](_client())
    params: dict[str, Any] = {"created": {"gte": start, "lt": end}, "limit": 100}
    found: list[dict] = []
    try:
        while True:
            page = service.list(params)
            found.extend(_plain(item) for item in page.data)
            if not page.has_more or not page.data:
                return found
            params["starting_after"] = page.data[-1].id
    except stripe.StripeError as error:
        raise _translate(error) from error


def verify_webhook(payload: bytes, signature_header: str | None) -> dict:
    """Check `Stripe-Signature` (t=..., v1=HMAC-SHA256 of "t.body") against the RAW body, with the
    timestamp tolerance, and return the parsed event. Anything wrong raises SignatureError."""
    if not webhooks_configured():
        raise SignatureError("Stripe webhooks are not configured here.", provider=PROVIDER)
    try:
        stripe.WebhookSignature.verify_header(
            payload, signature_header, settings.STRIPE_WEBHOOK_SECRET, tolerance=WEBHOOK_TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as error:
        raise SignatureError(f"Invalid Stripe signature: {error._message}", provider=PROVIDER) from error
    # The SDK only refuses timestamps too far in the past; one too far ahead is as suspect (a
    # signature made to be replayed later, or a clock that is wrong), so the tolerance holds both ways.
    if _signed_at(signature_header) > time.time() + WEBHOOK_TOLERANCE_SECONDS:
        raise SignatureError("Invalid Stripe signature: the timestamp is in the future.", provider=PROVIDER)
    return parse_event(payload, provider=PROVIDER)


def _signed_at(signature_header: str | None) -> int:
    """The t= of a Stripe-Signature header that verify_header already accepted."""
    for item in (signature_header or "").split(","):
        key, _, value = item.partition("=")
        if key.strip() == "t":
            return int(value)
    raise SignatureError("Invalid Stripe signature: no timestamp.", provider=PROVIDER)
