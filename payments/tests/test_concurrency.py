"""Twenty simultaneous deliveries of one event, and the success page racing the webhook, on PostgreSQL."""

import threading

import pytest
from django.db import connection, connections
from django.test import Client

from conftest import require_service
from core.exceptions import DomainError, InvalidState
from orders.models import OrderEvent, OrderStatus
from payments import services
from payments.ledger import reconcile
from payments.models import LedgerEntry, Payment, PaymentStatus, WebhookEvent, WebhookStatus
from payments.providers import test_provider

from .conftest import post_stripe
from .fakes import stripe_event


def _need_postgres():
    if connection.vendor != "postgresql":
        require_service(
            "PostgreSQL",
            False,
            "row locks (SELECT ... FOR UPDATE) are what this test proves; run with DATABASE_URL=postgres://...",
        )


def _run_in_threads(n, work):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=30)
            results.append(work())
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_deliveries_of_one_event_pay_once(fake_stripe, client_user, order):
    _need_postgres()
    c = Client()
    c.force_login(client_user)
    c.post(f"/payments/checkout/{order.pk}/stripe/")
    payment = Payment.objects.get(order=order)
    event = stripe_event("checkout.session.completed", fake_stripe.pay(payment.provider_payment_id))

    results, errors = _run_in_threads(20, lambda: post_stripe(Client(), event).status_code)

    assert errors == []
    assert results == [200] * 20
    stored = WebhookEvent.objects.get(event_id=event["id"])
    assert stored.status == WebhookStatus.PROCESSED and stored.attempts == 1
    assert LedgerEntry.objects.filter(payment=payment).count() == 1
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.IN_PROGRESS).count() == 1
    assert reconcile() == []


@pytest.mark.django_db(transaction=True)
def test_twenty_different_events_for_one_payment_fulfil_it_once(client_user, order):
    """Distinct event ids (webhook, success page, provider retries with new ids) all hit one lock."""
    _need_postgres()
    payment = services.start_test_checkout(order.pk, actor=client_user)

    def deliver():
        payload = test_provider.build_event(
            "payment.succeeded", payment=payment.provider_payment_id, amount=12000, currency="GBP"
        )
        return (
            Client()
            .post(
                "/payments/webhooks/test/",
                data=payload,
                content_type="application/json",
                headers={"Test-Signature": test_provider.sign(payload)},
            )
            .status_code
        )

    results, errors = _run_in_threads(20, deliver)

    assert errors == [] and results == [200] * 20
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED
    assert WebhookEvent.objects.count() == 20
    assert LedgerEntry.objects.count() == 1
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.IN_PROGRESS).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_staff_refunding_at_once_cannot_exceed_the_payment(client_user, staff_user, order):
    _need_postgres()
    payment = services.start_test_checkout(order.pk, actor=client_user)
    services.fulfil_payment(payment.pk, amount_minor=12000, currency="GBP", source="test")
    payment.refresh_from_db()

    def refund():
        try:
            services.refund(payment.pk, amount_minor=8000, actor=staff_user, reason="race")
            return "ok"
        except DomainError:
            return "refused"

    results, errors = _run_in_threads(2, refund)

    assert errors == [] and sorted(results) == ["ok", "refused"]
    payment.refresh_from_db()
    assert payment.refunded_minor == 8000
    assert reconcile() == []


@pytest.mark.django_db(transaction=True)
def test_a_release_while_a_refund_is_with_the_provider_is_refused(fake_stripe, client_user, order, staff_user):
    """Staff A refunds in full; while Stripe is still answering, staff B releases the payment to the
    coach. Without a claim on the order both would succeed: the client refunded and the coach paid."""
    _need_postgres()
    from audit.models import AuditLog
    from orders import services as order_services

    c = Client()
    c.force_login(client_user)
    c.post(f"/payments/checkout/{order.pk}/stripe/")
    payment = Payment.objects.get(order=order)
    post_stripe(Client(), stripe_event("checkout.session.completed", fake_stripe.pay(payment.provider_payment_id)))
    order_services.open_dispute(order.pk, actor=client_user, reason="Never delivered")
    fake_stripe.slow_down("/v1/refunds", 1.5)
    outcome = {}

    def refund_in_full():
        try:
            outcome["a"] = services.resolve_dispute(order.pk, actor=staff_user, refund_minor=12000, note="Refund")
        finally:
            connections.close_all()

    first = threading.Thread(target=refund_in_full)
    first.start()
    assert fake_stripe.slow_request_arrived.wait(10), "the refund never reached the provider"
    with pytest.raises(InvalidState, match="Another staff member is resolving"):
        services.resolve_dispute(order.pk, actor=staff_user, refund_minor=0, note="Release")
    first.join(30)

    order.refresh_from_db()
    assert outcome["a"].status == OrderStatus.CANCELLED == order.status
    assert not LedgerEntry.objects.filter(order=order, entry_type="payout").exists()
    assert AuditLog.objects.filter(action="payment.dispute_resolved").count() == 1
    assert reconcile() == []
