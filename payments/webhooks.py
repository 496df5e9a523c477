"""Provider webhooks: verify → store → process (DESIGN.md §3, STYLE.md §4).

1. Verify the delivery (signature over the raw body, timestamp tolerance; PayPal's verification
   call). Anything wrong → 400 and nothing is stored.
2. Store it in WebhookEvent under unique (provider, event_id) before acting on it. A first
   delivery is stored and processed in one transaction (one commit, not two): the handler runs
   inside a savepoint, so whatever it does, the receipt commits with the outcome; the provider
   gets its 200 only after that commit, and without one it delivers again. A completed Checkout
   Session runs without the savepoint: an error rolls the delivery back whole and replays it with one.
3. Process it: the event row is locked (a new row is locked by its own insert), the handler runs
   inside a savepoint, and the event's new status commits together with the handler's effects. A processed (or ignored, flagged,
   deferred) event that arrives again is acknowledged without change; a failure rolls the effects
   back, marks the event failed with the error, alerts staff and answers 500 so the provider
   delivers again, and that retry processes it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from core import writes
from core.cache import deferred_bumps
from core.money import format_money

from . import services
from .models import Payment, Provider, WebhookEvent, WebhookStatus
from .providers import paypal_client, stripe_client, test_provider
from .providers.errors import SignatureError

logger = logging.getLogger(__name__)

DONE_STATES = (WebhookStatus.PROCESSED, WebhookStatus.IGNORED, WebhookStatus.FLAGGED)


class EventNotReady(Exception):
    """The event names a payment we cannot find (yet): fail, so the provider retries later."""


class UnmatchedEvent(Exception):
    """The event names one of our payments only in its metadata, not by the provider id we stored on
    it. Metadata is written by whoever creates the session, so it never counts: the event is
    recorded as flagged, nothing moves and staff are alerted."""

    def __init__(self, note: str, payment: Payment | None = None):
        super().__init__(note)
        self.note = note
        self.payment = payment


@dataclass
class Result:
    status: str
    payment: Payment | None = None
    note: str = ""


# --- Receiving ----------------------------------------------------------------------------


@dataclass
class Received:
    http_status: int
    body: dict


def _verify(provider: str, payload: bytes, headers: Mapping[str, str]) -> tuple[str, str, dict]:
    if provider == Provider.STRIPE:
        event = stripe_client.verify_webhook(payload, headers.get("Stripe-Signature"))
        return str(event["id"]), str(event["type"]), event
    if provider == Provider.PAYPAL:
        event = paypal_client.verify_webhook(payload, headers)
        return str(event["id"]), str(event["event_type"]), event
    if provider == Provider.TEST:
        event = test_provider.verify_webhook(payload, headers.get(test_provider.SIGNATURE_HEADER))
        return str(event["id"]), str(event["type"]), event
    raise SignatureError("Unknown provider.")


def receive(provider: str, payload: bytes, headers: Mapping[str, str]) -> Received:
    """The whole path for one delivery. SignatureError / ProviderUnavailable propagate to the view."""
    event_id, event_type, event = _verify(provider, payload, headers)
    with deferred_bumps():  # the delivery's cache-version bumps: one round trip after its commit
        stored = _store_and_process(provider, event_id[:255], event_type[:100], event)
        if stored is None:  # delivered before, or by a simultaneous delivery: its stored row decides
            stored = process_event(WebhookEvent.objects.get(provider=provider, event_id=event_id[:255]).pk)
    http_status = 500 if stored.status == WebhookStatus.FAILED else 200
    return Received(http_status, {"event": event_id, "status": stored.status})


def _store_and_process(
    provider: str, event_id: str, event_type: str, payload: dict, *, savepoint: bool | None = None
) -> WebhookEvent | None:
    """A first delivery, stored and processed in one transaction; None if the event is stored already.

    The receipt is written before the handler runs and the handler runs in a savepoint, so a
    failing handler still commits the receipt, marked failed. Only a crash before the commit loses
    it, and then the provider, which got no 200, delivers again. One commit per delivery, not two.
    A simultaneous delivery of the same event waits on the unique index and then finds it stored.
    A completed Checkout Session (the common delivery, issue 13) runs without the savepoint: any error
    rolls the whole delivery back and it is stored and processed again with one (_Replay).
    """
    if savepoint is None:
        savepoint = not _without_savepoint(provider, event_type)
    stored = False
    try:
        with transaction.atomic():
            event = WebhookEvent(provider=provider, event_id=event_id, event_type=event_type, payload=payload)
            if savepoint:
                event.save(force_insert=True)
            else:  # the hot path: the same row and post_save, without the ORM's insert compiler
                writes.create(event, prepare=True)  # one SQL text: prepared on the server
            stored = True
            return _process(event, savepoint=savepoint)
    except _Replay:
        return _store_and_process(provider, event_id, event_type, payload, savepoint=True)
    except IntegrityError:
        if stored:
            raise
        return None


# Their common case writes everything, the event's final UPDATE too, in one statement
# (payments.services.fulfilment._capture_in_one_statement), so a first delivery needs no savepoint.
WITHOUT_SAVEPOINT = {
    (Provider.STRIPE, "checkout.session.completed"),
    (Provider.STRIPE, "checkout.session.async_payment_succeeded"),
}


def _without_savepoint(provider: str, event_type: str) -> bool:
    return (
        (provider, event_type) in WITHOUT_SAVEPOINT
        and settings.PAYMENTS_ONE_STATEMENT_CAPTURE
        and connection.vendor == "postgresql"
    )


class _Replay(Exception):
    """A handler run without a savepoint failed: its delivery's transaction rolls back whole (the receipt
    too, its after-commit work with it) and the delivery is stored and processed again in a savepoint,
    which records the failure (or, if it was passing, the outcome)."""


def process_event(event_pk: int) -> WebhookEvent:
    """Process a stored event exactly once (the row lock serialises concurrent deliveries)."""
    with transaction.atomic():
        return _process(WebhookEvent.objects.select_for_update().get(pk=event_pk))


def _process(event: WebhookEvent, *, savepoint: bool = True) -> WebhookEvent:
    """Run the event's handler (caller holds the event's row lock, inside its transaction).
    `savepoint=False` (a first delivery, see _store_and_process): an error raises _Replay; a capture in
    one statement writes the event's final UPDATE itself."""
    if event.status in DONE_STATES:
        return event
    was_failed = event.status == WebhookStatus.FAILED
    event.attempts += 1
    handler = HANDLERS.get((event.provider, event.event_type))
    if not savepoint and handler is not None:
        try:
            with services.receipt_in_capture(event) as receipt:
                result = handler(event.payload)
        except Exception as error:
            logger.info(
                "Webhook %s %s: replayed in a savepoint after %s", event.provider, event.event_id, type(error).__name__
            )
            raise _Replay from error
        if receipt.written:
            return event
        return _processed(event, result)
    try:
        with transaction.atomic():
            result = handler(event.payload) if handler else Result(WebhookStatus.IGNORED, note="Unhandled type.")
    except UnmatchedEvent as unmatched:
        result = Result(WebhookStatus.FLAGGED, unmatched.payment, unmatched.note)
        services.alert_staff(
            "webhook_unmatched",
            f"A {event.get_provider_display()} webhook ({event.event_type}, {event.event_id}) was not "
            f"applied: {unmatched.note}",
            link=f"/admin/payments/webhookevent/{event.pk}/change/",
        )
    except Exception as error:  # any failure is recorded and answered non-2xx
        logger.exception("Webhook %s %s (%s) failed", event.provider, event.event_id, event.event_type)
        event.status = WebhookStatus.FAILED
        event.error = f"{error.__class__.__name__}: {error}"[:2000]
        event.save(update_fields=["status", "error", "attempts"])
        if not was_failed:
            services.alert_staff(
                "webhook_failed",
                f"A {event.get_provider_display()} webhook ({event.event_type}, {event.event_id}) failed: "
                f"{event.error[:200]}",
                link=reverse("admin:payments_webhookevent_change", args=[event.pk]),
            )
        return event
    return _processed(event, result)


def _processed(event: WebhookEvent, result: Result) -> WebhookEvent:
    event.status = result.status
    event.error = result.note if result.status in (WebhookStatus.FLAGGED, WebhookStatus.DEFERRED) else ""
    if result.payment is not None:
        event.payment = result.payment
    if result.status != WebhookStatus.DEFERRED:
        event.processed_at = timezone.now()
    event.save(update_fields=["status", "error", "attempts", "payment", "processed_at"])
    return event


def replay(event: WebhookEvent) -> WebhookEvent:
    """Staff replay a failed (or deferred) event through the same processing."""
    return process_event(event.pk)


def replay_deferred(payment_id: int) -> None:
    """Process events that were waiting for this payment to be captured, oldest first."""
    pending = WebhookEvent.objects.filter(payment_id=payment_id, status=WebhookStatus.DEFERRED).order_by(
        "received_at", "pk"
    )
    for pk in pending.values_list("pk", flat=True):
        process_event(pk)


def deliver_test_event(event_type: str, **data) -> Received:
    """The test provider 'sends' an event: signed, then through the same verify/store/process path."""
    payload = test_provider.build_event(event_type, **data)
    return receive(Provider.TEST, payload, {test_provider.SIGNATURE_HEADER: test_provider.sign(payload)})


# --- Finding our payment ---------------------------------------------------------------------


def _by_id(provider: str, value) -> Payment | None:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return None
    return Payment.objects.filter(pk=pk, provider=provider).first()


def _stripe_payment(obj: dict, *, session_id: str = "", payment_intent: str = "", lock: bool = False) -> Payment | None:
    """Our payment whose stored Checkout Session id (or PaymentIntent id) is the event's, or None.

    The event's metadata only tells us which payment it claims; a claim is accepted when Stripe
    itself says the claimed payment's stored session has this PaymentIntent (an intent event that
    arrives before the session's completion), and is otherwise refused (UnmatchedEvent).
    `lock`: a payment found by its session is found and locked for fulfilment in one query.
    """
    metadata = obj.get("metadata") or {}
    payment = None
    if session_id and lock:
        payment = services.lock_for_fulfilment(provider=Provider.STRIPE, provider_payment_id=session_id)
    elif session_id:
        payment = Payment.objects.filter(provider=Provider.STRIPE, provider_payment_id=session_id).first()
    if payment is None and payment_intent:
        payment = Payment.objects.filter(provider=Provider.STRIPE, provider_capture_id=payment_intent).first()
    if payment is None and metadata.get("payment_id"):
        payment = _claimed(Provider.STRIPE, metadata["payment_id"])
        if not (
            payment_intent and not payment.provider_capture_id and _stripe_session_intent(payment) == payment_intent
        ):
            raise UnmatchedEvent(
                f"Its {'PaymentIntent' if payment_intent else 'Checkout Session'} is not the one stored on "
                f"payment {payment.pk}, which only its metadata names.",
                payment,
            )
    if payment is not None and metadata.get("order_id") and str(payment.order_id) != str(metadata["order_id"]):
        raise EventNotReady(f"The event's order {metadata['order_id']} is not payment {payment.pk}'s order.")
    return payment


def _claimed(provider: str, value) -> Payment:
    """The payment an event's metadata names. One whose provider id we have not stored yet (the
    provider answered the create call after sending this event) is not ready: the provider retries."""
    payment = _by_id(provider, value)
    if payment is None:
        raise UnmatchedEvent(f"It names payment {value!r}, which does not exist; none of our stored ids match.")
    if payment.provider_payment_id.startswith("pending_"):
        raise EventNotReady(f"Payment {payment.pk} has no provider id stored yet.")
    return payment


def _stripe_session_intent(payment: Payment) -> str:
    """The PaymentIntent Stripe reports for the Checkout Session stored on `payment`."""
    return str(stripe_client.retrieve_checkout_session(payment.provider_payment_id).get("payment_intent") or "")


def _not_ours(note: str = "Not one of our payments.") -> Result:
    return Result(WebhookStatus.IGNORED, note=note)


def _outcome(outcome: str, payment: Payment) -> Result:
    if outcome in (services.Outcome.FLAGGED, services.Outcome.UNALLOCATED, "flagged"):
        payment.refresh_from_db(fields=["flagged_reason"])
        return Result(WebhookStatus.FLAGGED, payment, payment.flagged_reason)
    if outcome == "deferred":
        return Result(WebhookStatus.DEFERRED, payment, "Waiting for the payment to be captured.")
    return Result(WebhookStatus.PROCESSED, payment)


# --- Stripe ---------------------------------------------------------------------------------


def _stripe_session_completed(event: dict) -> Result:
    session = event["data"]["object"]
    payment = _stripe_payment(session, session_id=session.get("id", ""), lock=True)
    if payment is None:
        return _not_ours()
    locked = payment if payment.provider_payment_id == session.get("id") else None  # not a metadata claim
    outcome = services.apply_stripe_session(payment.pk, session, source=f"Stripe {event['type']}", locked=locked)
    return _outcome(outcome, payment)


def _stripe_session_failed(reason: str):
    """A Checkout Session that ends unpaid (bank payment failed, or the page expired): the attempt fails."""

    def handle(event: dict) -> Result:
        session = event["data"]["object"]
        payment = _stripe_payment(session, session_id=session.get("id", ""))
        if payment is None:
            return _not_ours()
        services.mark_failed(payment.pk, reason=reason)
        return Result(WebhookStatus.PROCESSED, payment)

    return handle


_stripe_async_failed = _stripe_session_failed("The bank payment did not go through")
# The client never paid and the session closed: the attempt ends (a new checkout is possible).
_stripe_session_expired = _stripe_session_failed("The checkout page expired before payment")


def _stripe_intent_failed(event: dict) -> Result:
    intent = event["data"]["object"]
    payment = _stripe_payment(intent, payment_intent=intent.get("id", ""))
    if payment is None:
        return _not_ours()
    error = (intent.get("last_payment_error") or {}).get("message") or "The card was declined"
    services.mark_failed(payment.pk, reason=error)
    return Result(WebhookStatus.PROCESSED, payment)


def _stripe_charge_refunded(event: dict) -> Result:
    charge = event["data"]["object"]
    payment = _stripe_payment(charge, payment_intent=charge.get("payment_intent") or "")
    if payment is None:
        if (charge.get("metadata") or {}).get("payment_id") or charge.get("payment_intent"):
            raise EventNotReady("The refunded charge's payment is not known yet.")
        return _not_ours()
    refund_ids = tuple(r.get("id", "") for r in ((charge.get("refunds") or {}).get("data") or []))
    outcome = services.record_provider_refund(
        payment.pk,
        cumulative_minor=int(charge.get("amount_refunded") or 0),
        currency=str(charge.get("currency") or ""),
        source="Stripe charge.refunded",
        refund_ids=refund_ids,
    )
    return _outcome(outcome, payment)


def _stripe_refund_updated(event: dict) -> Result:
    """A refund we asked for failed after Stripe accepted it (e.g. the card was closed)."""
    refund = event["data"]["object"]
    payment = _stripe_payment(refund, payment_intent=refund.get("payment_intent") or "")
    if payment is None:
        return _not_ours()
    if refund.get("status") != "failed":
        return Result(WebhookStatus.PROCESSED, payment)  # succeeded refunds arrive as charge.refunded
    services.fail_refund(
        payment.pk,
        provider_refund_id=str(refund.get("id", "")),
        reason=str(refund.get("failure_reason") or "the refund failed at Stripe"),
    )
    return Result(WebhookStatus.PROCESSED, payment)


def _stripe_dispute_created(event: dict) -> Result:
    dispute = event["data"]["object"]
    payment = _stripe_payment(dispute, payment_intent=dispute.get("payment_intent") or "")
    if payment is None:
        raise EventNotReady("The disputed charge's payment is not known yet.")
    amount = int(dispute.get("amount") or 0)
    services.flag_payment(
        payment.pk,
        kind="payment_disputed",
        reason=(
            f"The client disputed {format_money(amount, payment.currency)} at Stripe "
            f"(reason: {dispute.get('reason') or 'not given'}). Respond in the Stripe dashboard."
        ),
        details={"dispute": {"id": dispute.get("id"), "amount_minor": amount, "reason": dispute.get("reason")}},
    )
    payment.refresh_from_db(fields=["flagged_reason"])
    return Result(WebhookStatus.FLAGGED, payment, payment.flagged_reason)


# --- PayPal ---------------------------------------------------------------------------------


def _paypal_payment_for_capture(capture: dict) -> Payment | None:
    related = ((capture.get("supplementary_data") or {}).get("related_ids") or {}).get("order_id", "")
    payment = None
    if related:
        payment = Payment.objects.filter(provider=Provider.PAYPAL, provider_payment_id=related).first()
    if payment is None:
        payment = _paypal_payment_holding(str(capture.get("id") or ""), capture.get("custom_id"))
    return payment


def _paypal_payment_holding(capture_id: str, custom_id) -> Payment | None:
    """Our PayPal payment whose stored capture id is `capture_id`, or None.

    A payment named only by custom_id counts when PayPal's own view of the order we stored on it
    holds this capture (the capture's answer to us was lost or is still on its way); otherwise the
    event is refused (UnmatchedEvent).
    """
    if capture_id:
        payment = Payment.objects.filter(provider=Provider.PAYPAL, provider_capture_id=capture_id).first()
        if payment is not None:
            return payment
    if not custom_id:
        return None
    payment = _claimed(Provider.PAYPAL, custom_id)
    if capture_id and not payment.provider_capture_id:
        captures = paypal_client.captures_of(paypal_client.get_order(payment.provider_payment_id))
        if capture_id in {c["id"] for c in captures}:
            return payment
    raise UnmatchedEvent(
        f"Its capture {capture_id or '(none)'} is not the one stored on payment {payment.pk}, which only its "
        "custom_id names.",
        payment,
    )


def _paypal_order_approved(event: dict) -> Result:
    order = event["resource"]
    payment = Payment.objects.filter(provider=Provider.PAYPAL, provider_payment_id=order.get("id", "")).first()
    if payment is None:
        return _not_ours()
    # The client approved but may never come back to our return page: capture from here. The
    # HTTP call runs while this event's row is locked; PayPal-Request-Id makes a repeat harmless.
    return _outcome(services.capture_paypal(payment.pk), payment)


def _paypal_capture_completed(event: dict) -> Result:
    capture = event["resource"]
    payment = _paypal_payment_for_capture(capture)
    if payment is None:
        return _not_ours()
    amount = capture.get("amount") or {}
    currency = amount.get("currency_code", "")
    outcome = services.fulfil_payment(
        payment.pk,
        amount_minor=paypal_client.from_paypal_value(amount.get("value", "0"), currency or payment.currency),
        currency=currency,
        capture_id=capture.get("id", ""),
        source="PayPal PAYMENT.CAPTURE.COMPLETED",
    )
    return _outcome(outcome, payment)


def _paypal_capture_denied(event: dict) -> Result:
    capture = event["resource"]
    payment = _paypal_payment_for_capture(capture)
    if payment is None:
        return _not_ours()
    services.mark_failed(payment.pk, reason="PayPal denied the payment")
    return Result(WebhookStatus.PROCESSED, payment)


def _paypal_capture_refunded(event: dict) -> Result:
    refund = event["resource"]
    capture_id = ""
    for link in refund.get("links") or []:
        if link.get("rel") == "up" and "/captures/" in link.get("href", ""):
            capture_id = link["href"].rstrip("/").rsplit("/", 1)[-1]
    payment = _paypal_payment_holding(capture_id, refund.get("custom_id"))
    if payment is None:
        raise EventNotReady("The refunded capture's payment is not known yet.")
    amount = refund.get("amount") or {}
    currency = amount.get("currency_code", "")
    outcome = services.record_provider_refund(
        payment.pk,
        amount_minor=paypal_client.from_paypal_value(amount.get("value", "0"), currency or payment.currency),
        provider_refund_id=str(refund.get("id", "")),
        currency=currency,
        source="PayPal PAYMENT.CAPTURE.REFUNDED",
    )
    return _outcome(outcome, payment)


# --- Test provider ---------------------------------------------------------------------------


def _test_payment(data: dict) -> Payment:
    payment = Payment.objects.filter(provider=Provider.TEST, provider_payment_id=data.get("payment", "")).first()
    if payment is None:
        raise EventNotReady(f"Test payment {data.get('payment')!r} does not exist.")
    return payment


def _test_succeeded(event: dict) -> Result:
    data = event["data"]
    payment = _test_payment(data)
    outcome = services.fulfil_payment(
        payment.pk,
        amount_minor=int(data.get("amount") or 0),
        currency=str(data.get("currency") or ""),
        capture_id=str(data.get("charge") or ""),
        source="Test provider",
    )
    return _outcome(outcome, payment)


def _test_failed(event: dict) -> Result:
    data = event["data"]
    payment = _test_payment(data)
    services.mark_failed(payment.pk, reason=str(data.get("reason") or "The test payment was declined"))
    return Result(WebhookStatus.PROCESSED, payment)


def _test_refunded(event: dict) -> Result:
    data = event["data"]
    payment = _test_payment(data)
    outcome = services.record_provider_refund(
        payment.pk,
        amount_minor=int(data.get("amount") or 0),
        provider_refund_id=str(data.get("refund_id") or ""),
        currency=str(data.get("currency") or ""),
        source="Test provider refund",
    )
    return _outcome(outcome, payment)


HANDLERS: dict[tuple[str, str], Callable[[dict], Result]] = {
    (Provider.STRIPE, "checkout.session.completed"): _stripe_session_completed,
    (Provider.STRIPE, "checkout.session.async_payment_succeeded"): _stripe_session_completed,
    (Provider.STRIPE, "checkout.session.async_payment_failed"): _stripe_async_failed,
    (Provider.STRIPE, "checkout.session.expired"): _stripe_session_expired,
    (Provider.STRIPE, "payment_intent.payment_failed"): _stripe_intent_failed,
    (Provider.STRIPE, "charge.refunded"): _stripe_charge_refunded,
    (Provider.STRIPE, "charge.refund.updated"): _stripe_refund_updated,
    (Provider.STRIPE, "charge.dispute.created"): _stripe_dispute_created,
    (Provider.PAYPAL, "CHECKOUT.ORDER.APPROVED"): _paypal_order_approved,
    (Provider.PAYPAL, "PAYMENT.CAPTURE.COMPLETED"): _paypal_capture_completed,
    (Provider.PAYPAL, "PAYMENT.CAPTURE.DENIED"): _paypal_capture_denied,
    (Provider.PAYPAL, "PAYMENT.CAPTURE.REFUNDED"): _paypal_capture_refunded,
    (Provider.TEST, "payment.succeeded"): _test_succeeded,
    (Provider.TEST, "payment.failed"): _test_failed,
    (Provider.TEST, "refund.succeeded"): _test_refunded,
}
