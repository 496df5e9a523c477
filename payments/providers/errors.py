"""Provider errors. They are DomainErrors, so a view or admin page that lets one escape shows
its message with the right status instead of a 500."""

import json

from core.exceptions import DomainError


class PaymentProviderError(DomainError):
    """Something went wrong talking to a payment provider."""

    status = 502

    def __init__(self, message: str, *, provider: str = "", code: str = ""):
        super().__init__(message)
        self.provider = provider
        self.code = code


class ProviderNotConfigured(PaymentProviderError):
    """The provider has no credentials here, so it is not offered."""

    status = 404


class ProviderUnavailable(PaymentProviderError):
    """No answer, a timeout or a 5xx: safe to try again later (idempotency keys make it harmless)."""

    status = 503


class ProviderRefused(PaymentProviderError):
    """The provider answered and said no (bad request, declined, nothing left to refund...)."""

    status = 502


class SignatureError(PaymentProviderError):
    """A webhook whose signature, timestamp or body does not check out. Answered 400, nothing stored."""

    status = 400


def parse_event(payload: bytes, *, provider: str, type_key: str = "type") -> dict:
    """A webhook body as a dict with an id and a type, or SignatureError (answered 400)."""
    try:
        event = json.loads(payload)
    except ValueError as error:
        raise SignatureError("The event body is not JSON.", provider=provider) from error
    if not isinstance(event, dict) or not event.get("id") or not event.get(type_key):
        raise SignatureError(f"The event has no id or {type_key}.", provider=provider)
    return event
