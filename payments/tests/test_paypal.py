"""PayPal Orders v2 through our REST client against the loopback PayPal API."""

import json

import pytest
from django.test import Client

from orders.models import OrderStatus
from payments.ledger import reconcile
from payments.models import LedgerEntry, Payment, PaymentStatus, WebhookEvent, WebhookStatus
from payments.providers import paypal_client
from payments.providers.errors import ProviderRefused

from .conftest import post_paypal
from .fakes import paypal_event


@pytest.fixture
def approved(fake_paypal, client_login, order):
    """The client created a PayPal order and approved it on PayPal: (payment, PayPal order id)."""
    response = client_login.post(f"/payments/paypal/{order.pk}/create/")
    payment = Payment.objects.get(order=order)
    assert response.status_code == 302 and "checkoutnow?token=" + payment.provider_payment_id in response["Location"]
    fake_paypal.approve(payment.provider_payment_id)
    return payment, payment.provider_payment_id


@pytest.mark.django_db
def test_create_sends_the_order_amount_and_our_ids(fake_paypal, client_login, order):
    response = client_login.post(f"/payments/paypal/{order.pk}/create/")

    payment = Payment.objects.get(order=order)
    paypal_order = fake_paypal.orders[payment.provider_payment_id]
    unit = paypal_order["purchase_units"][0]
    assert response.status_code == 302
    assert paypal_order["intent"] == "CAPTURE"
    assert unit["amount"] == {"currency_code": "GBP", "value": "120.00"}
    assert unit["custom_id"] == str(payment.pk) and unit["reference_id"] == f"order-{order.pk}"
    assert paypal_order["experience"]["return_url"].endswith(f"/payments/paypal/{order.pk}/return/")
    (call,) = fake_paypal.calls("POST", "/v2/checkout/orders")
    assert call.headers["PayPal-Request-Id"] == f"ews-create-{payment.metadata['attempt']}"


@pytest.mark.django_db
def test_the_checkout_choice_url_works_for_paypal_too(fake_paypal, client_login, order):
    response = client_login.post(f"/payments/checkout/{order.pk}/paypal/")
    assert response.status_code == 302 and Payment.objects.get(order=order).provider == "paypal"


@pytest.mark.django_db
def test_oauth_token_is_fetched_once_and_reused(fake_paypal, client_login, order, other_client, coach_user):
    client_login.post(f"/payments/paypal/{order.pk}/create/")
    from orders.tests.factories import make_order

    second = make_order(client=other_client, coach=coach_user)
    c = Client()
    c.force_login(other_client)
    c.post(f"/payments/paypal/{second.pk}/create/")
    assert len(fake_paypal.calls("POST", "/v1/oauth2/token")) == 1
    assert len(fake_paypal.calls("POST", "/v2/checkout/orders")) == 2


@pytest.mark.django_db
def test_wrong_credentials_are_a_clear_provider_error(fake_paypal, settings):
    settings.PAYPAL_CLIENT_SECRET = "wrong"
    with pytest.raises(ProviderRefused, match="Client Authentication failed"):
        paypal_client.access_token()


@pytest.mark.django_db
def test_return_page_then_capture_pays_the_order(approved, client_login, order, fake_paypal):
    payment, paypal_order_id = approved
    page = client_login.get(f"/payments/paypal/{order.pk}/return/?token={paypal_order_id}&PayerID=X")
    assert page.status_code == 200 and "Pay £120.00 now" in page.content.decode()

    response = client_login.post(f"/payments/paypal/{order.pk}/capture/", {"token": paypal_order_id})

    assert response.status_code == 302
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED and payment.provider_capture_id.startswith("CAP")
    assert order.status == OrderStatus.IN_PROGRESS
    (call,) = fake_paypal.calls("POST", f"/v2/checkout/orders/{paypal_order_id}/capture")
    assert call.headers["PayPal-Request-Id"] == f"ews-capture-{paypal_order_id}"
    assert reconcile() == []


@pytest.mark.django_db
def test_capturing_twice_is_harmless(approved, client_login, order):
    payment, paypal_order_id = approved
    client_login.post(f"/payments/paypal/{order.pk}/capture/", {"token": paypal_order_id})
    client_login.post(f"/payments/paypal/{order.pk}/capture/", {"token": paypal_order_id})
    assert LedgerEntry.objects.count() == 1


@pytest.mark.django_db
def test_capture_of_someone_elses_paypal_order_is_404(approved, other_client, order):
    _, paypal_order_id = approved
    c = Client()
    c.force_login(other_client)
    assert c.post(f"/payments/paypal/{order.pk}/capture/", {"token": paypal_order_id}).status_code == 404
    assert c.get(f"/payments/paypal/{order.pk}/return/?token={paypal_order_id}").status_code == 404


@pytest.mark.django_db
def test_pending_capture_waits_for_the_completed_webhook(approved, client_login, order, fake_paypal):
    payment, paypal_order_id = approved
    fake_paypal.capture_status = "PENDING"
    client_login.post(f"/payments/paypal/{order.pk}/capture/", {"token": paypal_order_id})
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.AUTHORIZED and order.status == OrderStatus.PENDING

    capture = dict(fake_paypal.orders[paypal_order_id]["purchase_units"][0]["payments"]["captures"][0])
    capture["status"] = "COMPLETED"
    response = post_paypal(Client(), fake_paypal, paypal_event("PAYMENT.CAPTURE.COMPLETED", capture))

    assert response.status_code == 200
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED and order.status == OrderStatus.IN_PROGRESS


@pytest.mark.django_db
def test_approved_webhook_captures_when_the_client_never_comes_back(approved, order, fake_paypal):
    payment, paypal_order_id = approved
    event = paypal_event("CHECKOUT.ORDER.APPROVED", fake_paypal.orders[paypal_order_id])

    response = post_paypal(Client(), fake_paypal, event)

    assert response.status_code == 200
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED and order.status == OrderStatus.IN_PROGRESS
    verify = fake_paypal.calls("POST", "/v1/notifications/verify-webhook-signature")
    assert verify and verify[0].body["webhook_id"] == "WH-LOOPBACK-1"


@pytest.mark.django_db
def test_forged_paypal_webhook_is_refused_and_not_stored(approved, fake_paypal):
    _, paypal_order_id = approved
    event = paypal_event("CHECKOUT.ORDER.APPROVED", fake_paypal.orders[paypal_order_id])
    headers = fake_paypal.signed_headers(event)
    headers["PAYPAL-TRANSMISSION-SIG"] = "forged"

    assert post_paypal(Client(), fake_paypal, event, headers=headers).status_code == 400
    missing = {k: v for k, v in fake_paypal.signed_headers(event).items() if k != "PAYPAL-CERT-URL"}
    assert post_paypal(Client(), fake_paypal, event, headers=missing).status_code == 400
    altered = json.dumps({**event, "resource": {**event["resource"], "id": "PPORD-OTHER"}}).encode()
    assert post_paypal(Client(), fake_paypal, event, body=altered).status_code == 400
    assert not WebhookEvent.objects.exists()
    assert Payment.objects.get().status == PaymentStatus.CREATED


@pytest.mark.django_db
def test_paypal_down_during_verification_answers_503_and_stores_nothing(approved, fake_paypal):
    _, paypal_order_id = approved
    event = paypal_event("CHECKOUT.ORDER.APPROVED", fake_paypal.orders[paypal_order_id])
    paypal_client.access_token()
    fake_paypal.fail_next(503, {"name": "SERVICE_UNAVAILABLE", "message": "try later"})
    assert post_paypal(Client(), fake_paypal, event).status_code == 503
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_capture_failing_at_paypal_fails_the_event_and_a_retry_works(approved, order, fake_paypal, staff_user):
    payment, paypal_order_id = approved
    event = paypal_event("CHECKOUT.ORDER.APPROVED", fake_paypal.orders[paypal_order_id])
    paypal_client.access_token()
    # verify succeeds, the capture call fails
    fake_paypal.failures.clear()
    original = fake_paypal.route

    def flaky(method, path, headers, body, _calls=[]):  # noqa: B006 - a counter shared between calls
        if path.endswith("/capture") and not _calls:
            _calls.append(1)
            return 500, {"name": "INTERNAL_SERVER_ERROR", "message": "boom"}, {}
        return original(method, path, headers, body)

    fake_paypal.route = flaky
    try:
        first = post_paypal(Client(), fake_paypal, event)
        assert first.status_code == 500
        assert WebhookEvent.objects.get().status == WebhookStatus.FAILED
        second = post_paypal(Client(), fake_paypal, event)
    finally:
        fake_paypal.route = original
    assert second.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PROGRESS


@pytest.mark.django_db
def test_capture_denied_marks_the_payment_failed(approved, fake_paypal):
    payment, paypal_order_id = approved
    capture = {
        "id": "CAPDENIED",
        "status": "DECLINED",
        "amount": {"currency_code": "GBP", "value": "120.00"},
        "custom_id": str(payment.pk),
        "supplementary_data": {"related_ids": {"order_id": paypal_order_id}},
    }
    assert post_paypal(Client(), fake_paypal, paypal_event("PAYMENT.CAPTURE.DENIED", capture)).status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED


@pytest.mark.django_db
def test_capture_completed_with_another_amount_is_flagged(approved, order, fake_paypal):
    payment, paypal_order_id = approved
    capture = {
        "id": "CAPX",
        "status": "COMPLETED",
        "amount": {"currency_code": "GBP", "value": "1.20"},
        "custom_id": str(payment.pk),
        "supplementary_data": {"related_ids": {"order_id": paypal_order_id}},
    }
    response = post_paypal(Client(), fake_paypal, paypal_event("PAYMENT.CAPTURE.COMPLETED", capture))
    assert response.json()["status"] == "flagged"
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


@pytest.mark.django_db
def test_refund_event_before_the_capture_event_ends_right(approved, order, fake_paypal):
    payment, paypal_order_id = approved
    capture = fake_paypal.capture_at_paypal(paypal_order_id)
    refund = {
        "id": "REF-EARLY",
        "status": "COMPLETED",
        "amount": {"currency_code": "GBP", "value": "20.00"},
        "custom_id": str(payment.pk),
        "links": [{"rel": "up", "href": f"{fake_paypal.url}/v2/payments/captures/{capture['id']}"}],
    }
    refunded = post_paypal(Client(), fake_paypal, paypal_event("PAYMENT.CAPTURE.REFUNDED", refund))
    assert refunded.json()["status"] == "deferred"

    post_paypal(Client(), fake_paypal, paypal_event("PAYMENT.CAPTURE.COMPLETED", capture))

    payment.refresh_from_db()
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PROGRESS
    assert payment.refunded_minor == 2000 and payment.status == PaymentStatus.PARTIALLY_REFUNDED
    assert reconcile() == []


def test_paypal_amounts_convert_exactly():
    assert paypal_client.to_paypal_value(12000, "GBP") == "120.00"
    assert paypal_client.to_paypal_value(5, "GBP") == "0.05"
    assert paypal_client.from_paypal_value("120.00", "GBP") == 12000
    assert paypal_client.from_paypal_value("0.1", "GBP") == 10
    assert paypal_client.from_paypal_value("500", "JPY") == 500
    with pytest.raises(ProviderRefused):
        paypal_client.from_paypal_value("1.005", "GBP")
