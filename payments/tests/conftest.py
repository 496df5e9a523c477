import json

import pytest
from django.test import Client

from payments.models import Payment
from payments.providers import paypal_client, stripe_client

from .fakes import FakePayPal, FakeStripe, stripe_event, stripe_signature

STRIPE_WEBHOOK_SECRET = "whsec_loopback_test_secret"


@pytest.fixture(scope="session")
def _stripe_server():
    server = FakeStripe()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _paypal_server():
    server = FakePayPal()
    yield server
    server.stop()


@pytest.fixture
def fake_stripe(_stripe_server, settings):
    """The real stripe library pointed at our loopback Stripe, with a webhook secret."""
    _stripe_server.reset()
    settings.STRIPE_SECRET_KEY = FakeStripe.API_KEY
    settings.STRIPE_API_BASE = _stripe_server.url
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
    stripe_client._client_for.cache_clear()
    return _stripe_server


@pytest.fixture
def fake_paypal(_paypal_server, settings):
    _paypal_server.reset()
    settings.PAYPAL_CLIENT_ID = FakePayPal.CLIENT_ID
    settings.PAYPAL_CLIENT_SECRET = FakePayPal.CLIENT_SECRET
    settings.PAYPAL_API_BASE = _paypal_server.url
    settings.PAYPAL_WEBHOOK_ID = FakePayPal.WEBHOOK_ID
    paypal_client.forget_token()
    yield _paypal_server
    paypal_client.forget_token()


@pytest.fixture
def client_login(client_user):
    c = Client()
    c.force_login(client_user)
    return c


@pytest.fixture
def staff_login(staff_user):
    c = Client()
    c.force_login(staff_user)
    return c


@pytest.fixture
def stripe_paid(fake_stripe, client_login, order):
    """The order's payment, made through (the loopback) Stripe: checkout, then the signed webhook."""
    client_login.post(f"/payments/checkout/{order.pk}/stripe/")
    payment = Payment.objects.get(order=order)
    post_stripe(Client(), stripe_event("checkout.session.completed", fake_stripe.pay(payment.provider_payment_id)))
    payment.refresh_from_db()
    return payment


def post_stripe(client, event: dict, *, secret: str = STRIPE_WEBHOOK_SECRET, timestamp=None, body: bytes | None = None):
    payload = json.dumps(event).encode()
    header = stripe_signature(payload, secret, timestamp)
    return client.post(
        "/payments/webhooks/stripe/",
        data=body if body is not None else payload,
        content_type="application/json",
        headers={"Stripe-Signature": header},
    )


def post_paypal(client, server: FakePayPal, event: dict, *, headers: dict | None = None, body: bytes | None = None):
    payload = json.dumps(event).encode()
    return client.post(
        "/payments/webhooks/paypal/",
        data=body if body is not None else payload,
        content_type="application/json",
        headers=server.signed_headers(event) if headers is None else headers,
    )


# Logged-in Playwright pages on the live server (shared with the orders journeys).
from adminpanel.tests.conftest import disputed_order, test_payments  # noqa: E402, F401 - fixtures shared with the console tests
from orders.tests.conftest import page_as  # noqa: E402, F401
