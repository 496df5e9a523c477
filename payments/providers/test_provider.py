"""The built-in test provider of the embedded default (DESIGN.md §2).

There is no remote side: our own test checkout page plays the provider and posts events that
are signed exactly like Stripe signs its webhooks (t=<unix time>,v1=HMAC-SHA256 of "t.body")
with settings.TEST_PAYMENTS_WEBHOOK_SECRET, into the same verify → store → process path as the
real providers. `settings.TEST_PAYMENTS_ENABLED` is forced off when DEBUG is off.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

from django.conf import settings

from .errors import ProviderNotConfigured, SignatureError, parse_event

PROVIDER = "test"
SIGNATURE_HEADER = "Test-Signature"
WEBHOOK_TOLERANCE_SECONDS = 300


def is_enabled() -> bool:
    # elite/settings.py computes TEST_PAYMENTS_ENABLED as DEBUG and the env flag, so with
    # DEBUG off it is False whatever the environment says (tested in test_test_provider).
    return bool(settings.TEST_PAYMENTS_ENABLED)


def _require_enabled() -> None:
    if not is_enabled():
        raise ProviderNotConfigured("The test payment provider is switched off.", provider=PROVIDER)


def _mac(timestamp: int, payload: bytes) -> str:
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(settings.TEST_PAYMENTS_WEBHOOK_SECRET.encode(), signed, hashlib.sha256).hexdigest()


def sign(payload: bytes, timestamp: int | None = None) -> str:
    _require_enabled()
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={_mac(timestamp, payload)}"


def verify_webhook(payload: bytes, signature_header: str | None) -> dict:
    if not is_enabled():
        raise SignatureError("The test payment provider is switched off.", provider=PROVIDER)
    if not signature_header:
        raise SignatureError("The signature header is missing.", provider=PROVIDER)
    try:
        parts = dict(item.split("=", 1) for item in signature_header.split(","))
        timestamp = int(parts["t"])
        signature = parts["v1"]
    except (ValueError, KeyError) as error:
        raise SignatureError("The signature header is malformed.", provider=PROVIDER) from error
    if not hmac.compare_digest(_mac(timestamp, payload), signature):
        raise SignatureError("The signature does not match the body.", provider=PROVIDER)
    if abs(time.time() - timestamp) > WEBHOOK_TOLERANCE_SECONDS:
        raise SignatureError("The signature is too old.", provider=PROVIDER)
    return parse_event(payload, provider=PROVIDER)


def build_event(event_type: str, **data) -> bytes:
    """An event body as the test provider sends it: {"id", "type", "created", "data": {...}}."""
    _require_enabled()
    event = {"id": f"evt_test_{uuid.uuid4().hex}", "type": event_type, "created": int(time.time()), "data": data}
    return json.dumps(event, separators=(",", ":"), sort_keys=True).encode()


def new_payment_id() -> str:
    return f"tp_{uuid.uuid4().hex}"


def new_refund_id() -> str:
    return f"tr_{uuid.uuid4().hex}"
