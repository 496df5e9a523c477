"""The nightly reconciliation compares the ledger with what Stripe and PayPal say for the period,
against fresh loopback servers (their list endpoints), with one planted mismatch of each kind."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from notifications.models import Notification
from payments import services
from payments.models import Payment, Refund
from payments.provider_reconcile import compare_with_providers, recent_window
from payments.providers import paypal_client, stripe_client
from payments.tasks import reconcile_ledger

from .conftest import STRIPE_WEBHOOK_SECRET, post_paypal, post_stripe
from .fakes import FakePayPal, FakeStripe, paypal_event, stripe_event


@pytest.fixture
def stripe_only(settings):
    """A Stripe of this test alone (the shared one remembers other tests' sessions); PayPal off."""
    server = FakeStripe()
    settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE = FakeStripe.API_KEY, server.url
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
    settings.PAYPAL_CLIENT_ID = ""
    stripe_client._client_for.cache_clear()
    yield server
    server.stop()


@pytest.fixture
def paypal_only(settings):
    server = FakePayPal()
    settings.PAYPAL_CLIENT_ID, settings.PAYPAL_CLIENT_SECRET = FakePayPal.CLIENT_ID, FakePayPal.CLIENT_SECRET
    settings.PAYPAL_API_BASE, settings.PAYPAL_WEBHOOK_ID = server.url, FakePayPal.WEBHOOK_ID
    settings.STRIPE_SECRET_KEY = ""
    paypal_client.forget_token()
    yield server
    paypal_client.forget_token()
    server.stop()


def everything_until_now():
    """Yesterday until a minute from now: the nightly window, moved so that this test's money is in it."""
    return recent_window(timezone.now() + timedelta(minutes=1), look_back=timedelta(days=1))


def stripe_checkout(server, client_login, order, *, deliver=True) -> Payment:
    client_login.post(f"/payments/checkout/{order.pk}/stripe/")
    payment = Payment.objects.get(order=order)
    session = server.pay(payment.provider_payment_id)
    if deliver:
        post_stripe(Client(), stripe_event("checkout.session.completed", session))
    payment.refresh_from_db()
    return payment


@pytest.mark.django_db
def test_stripe_and_we_agree_after_a_payment_and_a_refund(stripe_only, client_login, order, staff_user):
    payment = stripe_checkout(stripe_only, client_login, order)
    services.refund(payment.pk, amount_minor=2000, actor=staff_user, reason="part")
    post_stripe(Client(), stripe_event("charge.refunded", stripe_only.charge(payment.provider_payment_id)))

    assert compare_with_providers(*everything_until_now()) == []
    stripe_only.requests.clear()
    assert reconcile_ledger() == 0
    assert {r.path for r in stripe_only.requests} >= {"/v1/checkout/sessions", "/v1/charges", "/v1/refunds"}


@pytest.mark.django_db
def test_a_stripe_session_paid_whose_webhook_never_came_is_reported(stripe_only, client_login, order, staff_user):
    payment = stripe_checkout(stripe_only, client_login, order, deliver=False)

    session_problem, charge_problem = compare_with_providers(*everything_until_now())

    assert f"Stripe session {payment.provider_payment_id} is paid (£120.00) but payment {payment.pk} is created" in (
        session_problem
    )
    assert "is on no payment of ours" in charge_problem


@pytest.mark.django_db
def test_a_refund_made_in_the_stripe_dashboard_is_reported(stripe_only, client_login, order):
    payment = stripe_checkout(stripe_only, client_login, order)
    stripe_only.plant_refund(
        "re_dashboard",
        amount=1500,
        payment_intent=payment.provider_capture_id,
        created=stripe_only.sessions[payment.provider_payment_id]["created"],
    )

    problems = compare_with_providers(*everything_until_now())

    assert any("Stripe has refunded £15.00, we recorded £0.00" in p for p in problems)
    assert any("re_dashboard" in p and "not recorded here" in p for p in problems)


@pytest.mark.django_db
def test_a_refund_we_recorded_that_stripe_does_not_hold_is_reported(stripe_only, client_login, order, staff_user):
    payment = stripe_checkout(stripe_only, client_login, order)
    refund = services.refund(payment.pk, amount_minor=2000, actor=staff_user, reason="part")
    post_stripe(Client(), stripe_event("charge.refunded", stripe_only.charge(payment.provider_payment_id)))
    del stripe_only.refunds[refund.provider_refund_id]  # planted: Stripe has no such refund

    problems = compare_with_providers(*everything_until_now())

    assert any(f"Refund {refund.pk}" in p and "Stripe has no refund" in p for p in problems)
    assert any("Stripe has refunded £0.00, we recorded £20.00" in p for p in problems)


@pytest.mark.django_db
def test_a_stripe_amount_that_differs_from_ours_is_reported(stripe_only, client_login, order):
    payment = stripe_checkout(stripe_only, client_login, order)
    stripe_only.sessions[payment.provider_payment_id]["amount_total"] = payment.amount_minor + 1

    (problem,) = compare_with_providers(*everything_until_now())

    assert f"Payment {payment.pk}: Stripe took £120.01, we recorded £120.00" in problem


@pytest.mark.django_db
def test_the_nightly_job_and_the_command_alert_on_a_provider_difference(stripe_only, client_login, order, staff_user):
    stripe_checkout(stripe_only, client_login, order, deliver=False)

    until = everything_until_now()[1].isoformat()

    assert reconcile_ledger(until=until) == 2
    assert Notification.objects.filter(user=staff_user, kind="ledger_mismatch").count() == 1
    call_command("reconcile_ledger")  # without --providers only the ledger itself is checked
    with pytest.raises(CommandError):
        call_command("reconcile_ledger", "--providers", "--until", until)


def paypal_paid(server, client_login, order) -> Payment:
    client_login.post(f"/payments/paypal/{order.pk}/create/")
    payment = Payment.objects.get(order=order)
    server.approve(payment.provider_payment_id)
    client_login.post(f"/payments/paypal/{order.pk}/capture/", {"token": payment.provider_payment_id})
    payment.refresh_from_db()
    return payment


@pytest.mark.django_db
def test_paypal_and_we_agree_after_a_capture_and_a_refund(paypal_only, client_login, order, staff_user):
    payment = paypal_paid(paypal_only, client_login, order)
    services.refund(payment.pk, amount_minor=3000, actor=staff_user, reason="part")
    refund = paypal_only.find_capture(payment.provider_capture_id)["refunds"][0]
    post_paypal(Client(), paypal_only, paypal_event("PAYMENT.CAPTURE.REFUNDED", refund))

    assert compare_with_providers(*everything_until_now()) == []
    assert paypal_only.calls("GET", "/v1/reporting/transactions")


@pytest.mark.django_db
def test_a_paypal_capture_we_never_recorded_is_reported(paypal_only, client_login, order):
    client_login.post(f"/payments/paypal/{order.pk}/create/")
    payment = Payment.objects.get(order=order)
    paypal_only.approve(payment.provider_payment_id)
    capture = paypal_only.capture_at_paypal(payment.provider_payment_id)

    (problem,) = compare_with_providers(*everything_until_now())

    assert f"PayPal capture {capture['id']} took £120.00; no payment of ours has it" in problem


@pytest.mark.django_db
def test_a_paypal_refund_we_never_recorded_is_reported(paypal_only, client_login, order, staff_user):
    payment = paypal_paid(paypal_only, client_login, order)
    services.refund(payment.pk, amount_minor=3000, actor=staff_user, reason="part")  # its webhook never comes

    (problem,) = compare_with_providers(*everything_until_now())

    refund = Refund.objects.get(payment=payment)
    assert f"PayPal refund {refund.provider_refund_id} of £30.00 is requested here" in problem


@pytest.mark.django_db
def test_a_paypal_capture_we_recorded_that_paypal_does_not_list_is_reported(paypal_only, client_login, order):
    payment = paypal_paid(paypal_only, client_login, order)
    paypal_only.find_capture(payment.provider_capture_id)["status"] = "DECLINED"  # planted

    (problem,) = compare_with_providers(*everything_until_now())

    assert f"Payment {payment.pk} is captured, but PayPal lists no capture {payment.provider_capture_id}" in problem
