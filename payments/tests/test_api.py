"""payments on the API: Stripe Checkout and PayPal against the loopback fakes, the webhook alias path."""

import json

import pytest
from django.test import Client

from accounts.tests.factories import ClientFactory
from core.tests.api import API, assert_problem, client_for
from orders.models import Order, OrderStatus
from payments.models import Payment

from .conftest import STRIPE_WEBHOOK_SECRET
from .fakes import stripe_event, stripe_signature

pytestmark = pytest.mark.django_db
CHECKOUT = f"{API}payments/checkout-session"


def test_stripe_checkout_and_the_webhook_alias_pay_the_order(fake_stripe, order, client_user):
    response = client_for(client_user).post(CHECKOUT, {"order_id": order.pk}, format="json")
    assert response.status_code == 201, response.content
    payment = Payment.objects.get(pk=response.json()["payment_id"])
    session = fake_stripe.sessions[payment.provider_payment_id]
    assert response.json()["checkout_url"] == session["url"] and session["amount_total"] == order.amount_minor

    payload = json.dumps(stripe_event("checkout.session.completed", fake_stripe.pay(payment.provider_payment_id)))
    signed = {"Stripe-Signature": stripe_signature(payload.encode(), STRIPE_WEBHOOK_SECRET, None)}
    hook = Client().post(f"{API}payments/webhook/stripe", payload, content_type="application/json", headers=signed)
    assert hook.status_code == 200
    assert Order.objects.get(pk=order.pk).status == OrderStatus.IN_PROGRESS
    forged = Client().post(f"{API}payments/webhook/stripe", payload, content_type="application/json")
    assert forged.status_code == 400


def test_only_the_orders_verified_client_may_pay(fake_stripe, order, other_client, coach_user, staff_user):
    assert_problem(client_for(other_client).post(CHECKOUT, {"order_id": order.pk}, format="json"), 404)
    assert_problem(client_for(coach_user).post(CHECKOUT, {"order_id": order.pk}, format="json"), 403)
    assert_problem(client_for(staff_user).post(CHECKOUT, {"order_id": order.pk}, format="json"), 403)
    assert_problem(client_for().post(CHECKOUT, {"order_id": order.pk}, format="json"), 401)
    unverified = ClientFactory(verified=False)
    assert (
        "confirm your email"
        in assert_problem(client_for(unverified).post(CHECKOUT, {"order_id": order.pk}, format="json"), 403)["detail"]
    )
    assert fake_stripe.calls("POST", "/v1/checkout/sessions") == []


def test_a_paid_order_cannot_be_paid_again(fake_stripe, paid_order, client_user):
    assert_problem(client_for(client_user).post(CHECKOUT, {"order_id": paid_order.pk}, format="json"), 409)


def test_paypal_order_then_capture(fake_paypal, order, client_user, other_client):
    api = client_for(client_user)
    created = api.post(f"{API}payments/paypal/order", {"order_id": order.pk}, format="json")
    assert created.status_code == 201, created.content
    payment = Payment.objects.get(pk=created.json()["payment_id"])
    fake_paypal.approve(payment.provider_payment_id)
    capture = {"order_id": order.pk, "token": payment.provider_payment_id}
    assert_problem(client_for(other_client).post(f"{API}payments/paypal/capture", capture, format="json"), 404)
    assert_problem(api.post(f"{API}payments/paypal/capture", {**capture, "token": "nope"}, format="json"), 404)
    response = api.post(f"{API}payments/paypal/capture", capture, format="json")
    assert response.status_code == 200 and response.json()["status"] == "captured"
    assert Order.objects.get(pk=order.pk).status == OrderStatus.IN_PROGRESS
