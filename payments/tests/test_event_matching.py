"""An event counts for a payment only when it carries the provider id we stored on that payment
(Checkout Session / PaymentIntent, PayPal order / capture). Metadata alone never names one: such an
event is recorded, flagged and staff are alerted."""

import pytest
from django.test import Client

from notifications.models import Notification
from orders.models import OrderStatus
from payments.ledger import reconcile
from payments.models import LedgerEntry, Payment, PaymentStatus, WebhookEvent, WebhookStatus

from .conftest import post_paypal, post_stripe
from .fakes import paypal_event, stripe_event


@pytest.fixture
def stripe_checkout(fake_stripe, client_login, order):
    client_login.post(f"/payments/checkout/{order.pk}/stripe/")
    return Payment.objects.get(order=order)


def _assert_flagged_and_unpaid(event_id: str, payment: Payment, staff_user) -> None:
    stored = WebhookEvent.objects.get(event_id=event_id)
    assert stored.status == WebhookStatus.FLAGGED and "stored" in stored.error
    payment.refresh_from_db()
    payment.order.refresh_from_db()
    assert payment.status == PaymentStatus.CREATED and payment.order.status == OrderStatus.PENDING
    assert not LedgerEntry.objects.exists()
    assert Notification.objects.filter(user=staff_user, kind="webhook_unmatched").count() == 1
    assert reconcile() == []


@pytest.mark.django_db
def test_a_stripe_session_we_never_created_does_not_pay_the_payment_its_metadata_names(
    fake_stripe, stripe_checkout, staff_user
):
    payment = stripe_checkout
    session = {
        "id": "cs_test_not_ours",
        "object": "checkout.session",
        "payment_status": "paid",
        "status": "complete",
        "amount_total": payment.amount_minor,
        "currency": "gbp",
        "payment_intent": "pi_not_ours",
        "metadata": {"payment_id": str(payment.pk), "order_id": str(payment.order_id)},
    }
    event = stripe_event("checkout.session.completed", session)

    response = post_stripe(Client(), event)

    assert response.status_code == 200
    _assert_flagged_and_unpaid(event["id"], payment, staff_user)


@pytest.mark.django_db
def test_a_payment_intent_failure_for_another_intent_does_not_fail_the_payment(
    fake_stripe, stripe_checkout, staff_user
):
    payment = stripe_checkout
    intent = {
        "id": "pi_someone_else",
        "object": "payment_intent",
        "metadata": {"payment_id": str(payment.pk), "order_id": str(payment.order_id)},
        "last_payment_error": {"message": "Your card was declined."},
    }
    event = stripe_event("payment_intent.payment_failed", intent)

    assert post_stripe(Client(), event).status_code == 200
    _assert_flagged_and_unpaid(event["id"], payment, staff_user)


@pytest.fixture
def paypal_created(fake_paypal, client_login, order):
    client_login.post(f"/payments/paypal/{order.pk}/create/")
    payment = Payment.objects.get(order=order)
    fake_paypal.approve(payment.provider_payment_id)
    return payment


@pytest.mark.django_db
def test_a_paypal_capture_of_another_order_does_not_pay_the_payment_its_custom_id_names(
    fake_paypal, paypal_created, staff_user
):
    payment = paypal_created
    capture = {
        "id": "CAPNOTOURS",
        "status": "COMPLETED",
        "amount": {"currency_code": "GBP", "value": "120.00"},
        "custom_id": str(payment.pk),
        "supplementary_data": {"related_ids": {"order_id": "PPORDNOTOURS"}},
    }
    event = paypal_event("PAYMENT.CAPTURE.COMPLETED", capture)

    assert post_paypal(Client(), fake_paypal, event).status_code == 200
    _assert_flagged_and_unpaid(event["id"], payment, staff_user)


@pytest.mark.django_db
def test_a_paypal_refund_of_a_capture_we_do_not_hold_is_flagged(fake_paypal, paypal_created, staff_user):
    payment = paypal_created
    refund = {
        "id": "REFNOTOURS",
        "status": "COMPLETED",
        "amount": {"currency_code": "GBP", "value": "120.00"},
        "custom_id": str(payment.pk),
        "links": [{"rel": "up", "href": f"{fake_paypal.url}/v2/payments/captures/CAPNOTOURS", "method": "GET"}],
    }
    event = paypal_event("PAYMENT.CAPTURE.REFUNDED", refund)

    assert post_paypal(Client(), fake_paypal, event).status_code == 200
    _assert_flagged_and_unpaid(event["id"], payment, staff_user)
