"""Faults at the providers, injected for real: the loopback Stripe/PayPal act on a request and then
drop the connection, answer 5xx, or stall past our client timeout (real sockets, the real stripe
library over HTTP). An unknown outcome is not a failure: the refund (or capture) stays pending with
its key, the settling job asks the provider, and the money moves once. Each test checks the
database, the ledger (`manage.py reconcile_ledger` exits 0) and the outbox (one email)."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client

from conftest import require_service
from orders.models import OrderStatus
from payments import services
from payments.models import LedgerEntry, LedgerEntryType, Payment, PaymentStatus, Refund, RefundStatus

from .conftest import post_paypal, post_stripe
from .fakes import paypal_event, stripe_event

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

NOW = timedelta(0)


@pytest.fixture(autouse=True)
def short_timeout(settings):
    """One second instead of twenty, so "stalled past the timeout" takes a second."""
    settings.PAYMENT_PROVIDER_TIMEOUT_SECONDS = 1.0


def refund_page(payment):
    return f"/admin/payments/payment/{payment.pk}/refund/"


def refund_emails(client_user) -> list:
    return [m for m in mail.outbox if client_user.email in m.to and "refunded" in m.body]


def stripe_refunds_of(fake_stripe, payment) -> list[dict]:
    return [r for r in fake_stripe.refunds.values() if r["payment_intent"] == payment.provider_capture_id]


def assert_books_balance():
    call_command("reconcile_ledger")  # raises CommandError (exit 1) on any mismatch


def assert_refunded_once(payment, fake_stripe, client_user):
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED and payment.refunded_minor == payment.amount_minor
    (refund,) = Refund.objects.filter(payment=payment)
    assert refund.status == RefundStatus.SUCCEEDED and refund.provider_refund_id.startswith("re_test_")
    assert len(stripe_refunds_of(fake_stripe, payment)) == 1
    assert LedgerEntry.objects.filter(payment=payment, entry_type=LedgerEntryType.REFUND).count() == 1
    assert len(refund_emails(client_user)) == 1
    assert_books_balance()


@pytest.mark.parametrize(
    "fault", [{"kind": "drop"}, {"kind": "5xx"}, {"kind": "stall", "seconds": 1.5}], ids=["drop", "5xx", "stall"]
)
def test_a_stripe_refund_whose_answer_is_lost_stays_pending_and_the_job_settles_it(
    fault, fake_stripe, stripe_paid, staff_login, client_user
):
    payment = stripe_paid
    # Stripe takes the refund every time; the library's own retries (same key) lose their answer too.
    fake_stripe.fault_after("/v1/refunds", times=3, **fault)

    response = staff_login.post(refund_page(payment), {"amount": "120.00", "reason": "Never delivered"}, follow=True)

    assert "sent, waiting for stripe&#x27;s answer" in response.content.decode().lower()
    (refund,) = Refund.objects.filter(payment=payment)
    assert refund.status == RefundStatus.REQUESTED and refund.answer_lost and refund.provider_refund_id == ""
    sent = fake_stripe.calls("POST", "/v1/refunds")
    assert {c.headers["Idempotency-Key"] for c in sent} == {refund.idempotency_key}
    payment.refresh_from_db()
    assert payment.refunded_minor == 0 and services.refundable_minor(payment) == 0
    assert not LedgerEntry.objects.filter(entry_type=LedgerEntryType.REFUND).exists()
    assert refund_emails(client_user) == []
    # Pressing Refund again cannot send a second refund: the unanswered one still holds the amount.
    again = staff_login.post(refund_page(payment), {"amount": "120.00", "reason": "Try again"})
    assert again.status_code == 400 and Refund.objects.count() == 1

    assert services.settle_with_providers(older_than=NOW) == {"refunds": 1, "captures": 0, "unreachable": 0}

    assert_refunded_once(payment, fake_stripe, client_user)
    # Stripe's own webhook arrives late: nothing moves twice.
    post_stripe(Client(), stripe_event("charge.refunded", fake_stripe.charge(payment.provider_payment_id)))
    assert_refunded_once(payment, fake_stripe, client_user)


def test_a_refund_stripe_never_received_is_sent_again_under_the_same_key_from_the_console(
    fake_stripe, stripe_paid, staff_user, staff_login, client_user
):
    payment = stripe_paid
    fake_stripe.fail_next(503, {"error": {"type": "api_error", "message": "down"}}, times=3)
    refund = services.refund(payment.pk, amount_minor=payment.amount_minor, actor=staff_user, reason="Cancelled")
    assert refund.answer_lost and not stripe_refunds_of(fake_stripe, payment)

    page = staff_login.post(
        "/admin/payments/refund/", {"action": "ask_the_provider", "_selected_action": [refund.pk]}, follow=True
    )

    assert page.status_code == 200
    keys = {c.headers["Idempotency-Key"] for c in fake_stripe.calls("POST", "/v1/refunds")}
    assert keys == {refund.idempotency_key}
    refund.refresh_from_db()
    assert refund.status == RefundStatus.REQUESTED and refund.provider_refund_id  # now accepted by Stripe
    services.settle_with_providers(older_than=NOW)
    assert_refunded_once(payment, fake_stripe, client_user)


def test_a_refund_racing_its_retry_makes_one_provider_refund(
    fake_stripe, stripe_paid, staff_user, client_user, settings
):
    if connection.vendor != "postgresql":
        require_service(
            "PostgreSQL",
            False,
            "two threads racing: on PostgreSQL the refund's row lock decides; SQLite's in-memory test database "
            "refuses the second writer at once ('database table is locked') instead of waiting for it",
        )
    payment = stripe_paid
    # Both calls are in flight at once and both are answered (well within the timeout).
    settings.PAYMENT_PROVIDER_TIMEOUT_SECONDS = 10.0
    fake_stripe.slow_down("/v1/refunds", 1.0)
    results, errors = [], []

    def first_send():
        try:
            results.append(services.refund(payment.pk, amount_minor=payment.amount_minor, actor=staff_user, reason="x"))
        except Exception as error:  # noqa: BLE001 - asserted below
            errors.append(error)
        finally:
            connections.close_all()

    def retry():
        try:
            assert fake_stripe.slow_request_arrived.wait(10), "the first send never reached Stripe"
            results.append(services.settle_refund(Refund.objects.get(payment=payment), actor=staff_user))
        except Exception as error:  # noqa: BLE001 - asserted below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first_send), threading.Thread(target=retry)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == [] and len(results) == 2
    fake_stripe.slow_paths.clear()
    services.settle_with_providers(older_than=NOW)
    assert_refunded_once(payment, fake_stripe, client_user)


@pytest.fixture
def paypal_paid(fake_paypal, client_login, order):
    client_login.post(f"/payments/paypal/{order.pk}/create/")
    payment = Payment.objects.get(order=order)
    fake_paypal.approve(payment.provider_payment_id)
    client_login.post(f"/payments/paypal/{order.pk}/capture/", {"token": payment.provider_payment_id})
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED
    return payment


def test_a_paypal_refund_whose_connection_drops_is_settled_with_the_same_request_id(
    fake_paypal, paypal_paid, staff_user, client_user
):
    payment = paypal_paid
    fake_paypal.fault_after("/v2/payments/captures/", "drop")

    refund = services.refund(payment.pk, amount_minor=2000, actor=staff_user, reason="Partial")

    assert refund.answer_lost and refund.status == RefundStatus.REQUESTED
    assert refund.progress("PayPal") == "Sent, waiting for PayPal's answer"
    services.settle_with_providers(older_than=NOW)

    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and payment.refunded_minor == 2000
    assert len(fake_paypal.find_capture(payment.provider_capture_id)["refunds"]) == 1
    sent = fake_paypal.calls("POST", "/v2/payments/captures/")
    assert len(sent) == 2 and {c.headers["PayPal-Request-Id"] for c in sent} == {refund.idempotency_key}
    # PayPal's webhook for the same refund changes nothing.
    paypal_refund = fake_paypal.find_capture(payment.provider_capture_id)["refunds"][0]
    post_paypal(Client(), fake_paypal, paypal_event("PAYMENT.CAPTURE.REFUNDED", paypal_refund))
    payment.refresh_from_db()
    assert payment.refunded_minor == 2000 and len(refund_emails(client_user)) == 1
    assert_books_balance()


@pytest.mark.parametrize("kind", ["drop", "stall"])
def test_a_paypal_capture_whose_answer_is_lost_is_settled_from_the_order_details(
    kind, fake_paypal, client_login, order, client_user
):
    client_login.post(f"/payments/paypal/{order.pk}/create/")
    payment = Payment.objects.get(order=order)
    fake_paypal.approve(payment.provider_payment_id)
    fake_paypal.fault_after("/v2/checkout/orders/", kind, seconds=1.5)

    response = client_login.post(
        f"/payments/paypal/{order.pk}/capture/", {"token": payment.provider_payment_id}, follow=True
    )

    assert response.status_code == 200 and "PayPal has not answered yet" in response.content.decode()
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.CREATED and order.status == OrderStatus.PENDING
    assert fake_paypal.orders[payment.provider_payment_id]["status"] == "COMPLETED"  # PayPal took the money

    before = len(mail.outbox)
    assert services.settle_with_providers(older_than=NOW) == {"refunds": 0, "captures": 1, "unreachable": 0}

    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED and order.status == OrderStatus.IN_PROGRESS
    assert len(fake_paypal.calls("POST", f"/v2/checkout/orders/{payment.provider_payment_id}/capture")) == 1
    assert LedgerEntry.objects.filter(payment=payment, entry_type=LedgerEntryType.CHARGE).count() == 1
    paid_emails = [m for m in mail.outbox[before:] if client_user.email in m.to]
    assert len(paid_emails) == 1 and f"#{order.pk}" in paid_emails[0].body
    # PayPal's webhook and a second sweep find it paid: no second email.
    capture = fake_paypal.find_capture(payment.provider_capture_id)
    post_paypal(Client(), fake_paypal, paypal_event("PAYMENT.CAPTURE.COMPLETED", capture))
    services.settle_with_providers(older_than=NOW)
    assert [m for m in mail.outbox[before:] if client_user.email in m.to] == paid_emails
    assert_books_balance()
