"""Our own small client for PayPal's documented REST API (Orders v2, Payments v2, webhook
verification), over `requests`. The base URL comes from settings.PAYPAL_API_BASE, so tests
run it against a loopback server; the official SDK fixes its hosts and has no call to verify
webhooks, which is why it is not used.
"""

from __future__ import annotations

import json
import threading
import time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import requests
from django.conf import settings

from core.money import minor_per_major, minor_to_decimal

from .errors import (
    PaymentProviderError,
    ProviderNotConfigured,
    ProviderRefused,
    ProviderUnavailable,
    SignatureError,
    parse_event,
)

PROVIDER = "paypal"
# Headers PayPal sends with every webhook delivery; all are needed to verify it.
SIGNATURE_HEADERS = {
    "auth_algo": "PAYPAL-AUTH-ALGO",
    "cert_url": "PAYPAL-CERT-URL",
    "transmission_id": "PAYPAL-TRANSMISSION-ID",
    "transmission_sig": "PAYPAL-TRANSMISSION-SIG",
    "transmission_time": "PAYPAL-TRANSMISSION-TIME",
}

_token_lock = threading.Lock()
_token_cache: dict[tuple[str, str], tuple[str, float]] = {}
_session = requests.Session()


def is_configured() -> bool:
    return bool(settings.PAYPAL_CLIENT_ID and settings.PAYPAL_CLIENT_SECRET)


def _base() -> str:
    if not is_configured():
        raise ProviderNotConfigured("PayPal payments are not available.", provider=PROVIDER)
    return settings.PAYPAL_API_BASE.rstrip("/")


# --- Money in PayPal's format (a decimal string) ----------------------------------------------


def to_paypal_value(amount_minor: int, currency: str) -> str:
    return str(minor_to_decimal(amount_minor, currency))


def from_paypal_value(value: str, currency: str) -> int:
    """ "120.00" GBP → 12000. A value with more precision than the currency has is refused."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, TypeError) as error:
        raise ProviderRefused(f"PayPal sent an unreadable amount {value!r}.", provider=PROVIDER) from error
    minor = amount * minor_per_major(currency)
    if minor != minor.quantize(Decimal(1), rounding=ROUND_HALF_UP):
        raise ProviderRefused(f"PayPal sent an amount with too many decimals: {value!r}.", provider=PROVIDER)
    return int(minor)


# --- HTTP -------------------------------------------------------------------------------------


def _send(method: str, url: str, **kwargs) -> requests.Response:
    try:
        return _session.request(method, url, timeout=settings.PAYMENT_PROVIDER_TIMEOUT_SECONDS, **kwargs)
    except requests.RequestException as error:
        raise ProviderUnavailable(f"PayPal is not answering right now ({error.__class__.__name__}).") from error


def _raise_for(response: requests.Response, what: str) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = body.get("message") or body.get("error_description") or body.get("name") or response.reason
    issue = ""
    if isinstance(body.get("details"), list) and body["details"]:
        issue = body["details"][0].get("issue", "")
    error_class = ProviderUnavailable if response.status_code >= 500 or response.status_code == 429 else ProviderRefused
    raise error_class(f"PayPal refused to {what}: {detail}", provider=PROVIDER, code=issue or body.get("name", ""))


def access_token() -> str:
    """OAuth 2 client-credentials token, cached (per credentials) until a minute before it expires."""
    base = _base()
    key = (base, settings.PAYPAL_CLIENT_ID)
    with _token_lock:
        cached = _token_cache.get(key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        response = _send(
            "POST",
            f"{base}/v1/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(settings.PAYPAL_CLIENT_ID, settings.PAYPAL_CLIENT_SECRET),
            headers={"Accept": "application/json"},
        )
        _raise_for(response, "sign us in")
        body = response.json()
        token = body["access_token"]
        _token_cache[key] = (token, time.monotonic() + max(int(body.get("expires_in", 300)) - 60, 0))
        return token


def forget_token() -> None:
    with _token_lock:
        _token_cache.clear()


def _call(method: str, path: str, what: str, *, body: dict | None = None, request_id: str = "") -> dict:
    headers = {"Authorization": f"Bearer {access_token()}", "Content-Type": "application/json"}
    if request_id:
        headers["PayPal-Request-Id"] = request_id
    if method == "POST":
        headers["Prefer"] = "return=representation"
    data = json.dumps(body) if body is not None else None
    response = _send(method, f"{_base()}{path}", headers=headers, data=data)
    if response.status_code == 401:
        # An expired or revoked token: get a fresh one once.
        forget_token()
        headers["Authorization"] = f"Bearer {access_token()}"
        response = _send(method, f"{_base()}{path}", headers=headers, data=data)
    _raise_for(response, what)
    try:
        return response.json() if response.content else {}
    except ValueError as error:
        raise PaymentProviderError("PayPal answered with something that is not JSON.", provider=PROVIDER) from error


# --- Orders v2 -----------------------------------------------------------------------------


def create_order(
    *,
    amount_minor: int,
    currency: str,
    reference_id: str,
    custom_id: str,
    description: str,
    return_url: str,
    cancel_url: str,
    request_id: str,
) -> dict:
    """Create a CAPTURE-intent order. Returns {"id", "status", "approve_url", "raw"}."""
    order = _call(
        "POST",
        "/v2/checkout/orders",
        "create the order",
        request_id=request_id,
        body={
            "intent": "CAPTURE",
            "purchase_units": [
                {
                    "reference_id": reference_id,
                    "custom_id": custom_id,
                    "description": description[:127],
                    "amount": {"currency_code": currency.upper(), "value": to_paypal_value(amount_minor, currency)},
                }
            ],
            "payment_source": {
                "paypal": {
                    "experience_context": {
                        "return_url": return_url,
                        "cancel_url": cancel_url,
                        "user_action": "PAY_NOW",
                        "shipping_preference": "NO_SHIPPING",
                    }
                }
            },
        },
    )
    approve = next(
        (link["href"] for link in order.get("links", []) if link.get("rel") in ("payer-action", "approve")), ""
    )
    if not order.get("id") or not approve:
        raise PaymentProviderError("PayPal did not return an order to approve.", provider=PROVIDER)
    return {"id": order["id"], "status": order.get("status", ""), "approve_url": approve, "raw": order}


def get_order(order_id: str) -> dict:
    """The order as PayPal has it now (its status and captures): what a return or webhook with an
    unknown outcome reads before deciding anything."""
    return _call("GET", f"/v2/checkout/orders/{requests.utils.quote(order_id, safe='')}", "show the order")


def capture_order(order_id: str, *, request_id: str) -> dict:
    """Capture an approved order. `request_id` (PayPal-Request-Id) makes a repeat return the first
    result instead of a second capture. Returns the first capture: {"id", "status", "amount_minor",
    "currency", "custom_id", "raw"}."""
    order = _call(
        "POST",
        f"/v2/checkout/orders/{requests.utils.quote(order_id, safe='')}/capture",
        "capture the payment",
        body={},
        request_id=request_id,
    )
    return first_capture(order)


def captures_of(order: dict) -> list[dict]:
    """Every capture of a PayPal order (Orders v2 body), each as {"id", "status", "amount_minor",
    "currency", "custom_id", "raw"}."""
    found = []
    for unit in order.get("purchase_units", []):
        for capture in (unit.get("payments") or {}).get("captures", []):
            amount = capture.get("amount") or {}
            currency = amount.get("currency_code", "")
            found.append(
                {
                    "id": capture.get("id", ""),
                    "status": capture.get("status", ""),
                    "amount_minor": from_paypal_value(amount.get("value", "0"), currency),
                    "currency": currency,
                    "custom_id": capture.get("custom_id") or unit.get("custom_id", ""),
                    "raw": order,
                }
            )
    return found


def first_capture(order: dict) -> dict:
    captures = captures_of(order)
    if not captures:
        raise PaymentProviderError("PayPal's answer holds no capture.", provider=PROVIDER)
    return captures[0]


def refund_capture(capture_id: str, *, amount_minor: int, currency: str, request_id: str, note: str = "") -> dict:
    body: dict = {"amount": {"currency_code": currency.upper(), "value": to_paypal_value(amount_minor, currency)}}
    if note:
        body["note_to_payer"] = note[:255]
    return _call(
        "POST",
        f"/v2/payments/captures/{requests.utils.quote(capture_id, safe='')}/refund",
        "refund the payment",
        body=body,
        request_id=request_id,
    )


def get_refund(refund_id: str) -> dict:
    return _call("GET", f"/v2/payments/refunds/{requests.utils.quote(refund_id, safe='')}", "show the refund")


# Transaction Search event codes: captures of a checkout, and refunds.
CAPTURE_EVENT_CODES = ("T0006", "T0003", "T0001")
REFUND_EVENT_CODE = "T1107"


def transactions_between(start, end) -> list[dict]:
    """PayPal's Transaction Search for [start, end) (aware datetimes), every page: each as
    {"id", "kind" ("capture" | "refund"), "amount_minor" (positive), "currency", "capture_id"}.
    Other event codes (fees, holds) are left out."""
    found: list[dict] = []
    page, pages = 1, 1
    while page <= pages:
        query = requests.compat.urlencode(
            {
                "start_date": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "end_date": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "fields": "transaction_info",
                "page_size": 500,
                "page": page,
            }
        )
        body = _call("GET", f"/v1/reporting/transactions?{query}", "list the transactions")
        pages = int(body.get("total_pages") or 1)
        page += 1
        for detail in body.get("transaction_details", []):
            info = detail.get("transaction_info") or {}
            code = info.get("transaction_event_code", "")
            kind = "capture" if code in CAPTURE_EVENT_CODES else "refund" if code == REFUND_EVENT_CODE else ""
            if not kind or info.get("transaction_status") != "S":
                continue
            amount = info.get("transaction_amount") or {}
            currency = amount.get("currency_code", "")
            found.append(
                {
                    "id": info.get("transaction_id", ""),
                    "kind": kind,
                    "amount_minor": abs(from_paypal_value(amount.get("value", "0"), currency)),
                    "currency": currency,
                    "capture_id": info.get("paypal_reference_id", ""),
                }
            )
    return found


# --- Webhooks ----------------------------------------------------------------------------------


def verify_webhook(payload: bytes, headers) -> dict:
    """Ask PayPal whether this delivery is genuine (POST /v1/notifications/verify-webhook-signature
    with our webhook id). Returns the parsed event; anything but SUCCESS raises SignatureError.
    PayPal being unreachable raises ProviderUnavailable (answered 503, so PayPal delivers again)."""
    if not settings.PAYPAL_WEBHOOK_ID:
        raise SignatureError("PayPal webhooks are not configured here.", provider=PROVIDER)
    event = parse_event(payload, provider=PROVIDER, type_key="event_type")
    fields = {}
    for field, header in SIGNATURE_HEADERS.items():
        value = headers.get(header)
        if not value:
            raise SignatureError(f"The {header} header is missing.", provider=PROVIDER)
        fields[field] = value
    answer = _call(
        "POST",
        "/v1/notifications/verify-webhook-signature",
        "verify the webhook",
        body={**fields, "webhook_id": settings.PAYPAL_WEBHOOK_ID, "webhook_event": event},
    )
    if answer.get("verification_status") != "SUCCESS":
        raise SignatureError("PayPal did not confirm this webhook's signature.", provider=PROVIDER)
    return event
