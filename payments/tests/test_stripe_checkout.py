"""Stripe Checkout through the real stripe library against the loopback Stripe API."""

import pytest
from django.test import Client

from accounts.tests.factories import ClientFactory
from orders.models import OrderStatus
from orders.tests.factories import make_order
from payments.models import LedgerEntry, Payment, PaymentStatus


def start(client, order):
    return client.post(f"/payments/checkout/{order.pk}/stripe/")


@pytest.mark.django_db
def test_checkout_creates_session_with_server_side_amount_and_redirects(fake_stripe, client_login, order):
    response = start(client_login, order)

    payment = Payment.objects.get(order=order)
    assert payment.provider == "stripe" and payment.status == PaymentStatus.CREATED
    assert payment.amount_minor == order.amount_minor and payment.currency == order.currency
    session = fake_stripe.sessions[payment.provider_payment_id]
    assert response.status_code == 302 and response["Location"] == session["url"]
    assert session["amount_total"] == order.amount_minor and session["currency"] == order.currency.lower()
    assert session["metadata"] == {
        "payment_id": str(payment.pk),
        "order_id": str(order.pk),
        "client_id": str(order.client_id),
    }
    assert session["payment_intent_metadata"]["order_id"] == str(order.pk)
    assert (
        f"/payments/checkout/{order.pk}/done/?payment={payment.pk}&session_id={{CHECKOUT_SESSION_ID}}"
        in (session["success_url"])
    )
    (call,) = fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert call.headers["Idempotency-Key"] == f"ews-checkout-{payment.metadata['attempt']}"


@pytest.mark.django_db
def test_a_retried_create_reuses_the_idempotency_key(fake_stripe, client_login, order):
    fake_stripe.fail_next(500, {"error": {"type": "api_error", "message": "boom"}}, {"Stripe-Should-Retry": "true"})

    response = start(client_login, order)

    calls = fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert len(calls) == 2
    assert calls[0].headers["Idempotency-Key"] == calls[1].headers["Idempotency-Key"]
    assert response.status_code == 302
    assert len(fake_stripe.sessions) >= 1


@pytest.mark.django_db
def test_stripe_refusing_shows_a_message_and_marks_the_attempt_failed(fake_stripe, client_login, order):
    fake_stripe.fail_next(400, {"error": {"type": "invalid_request_error", "message": "Currency not supported"}})

    response = start(client_login, order)

    assert response.status_code == 502
    assert "Currency not supported" in response.content.decode()
    assert Payment.objects.get(order=order).status == PaymentStatus.FAILED
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


@pytest.mark.django_db
def test_checkout_post_needs_the_csrf_token(fake_stripe, client_user, order):
    c = Client(enforce_csrf_checks=True)
    c.force_login(client_user)
    assert start(c, order).status_code == 403
    assert not Payment.objects.exists()
    page = c.get(f"/orders/{order.pk}/")
    token = page.cookies["csrftoken"].value
    response = c.post(f"/payments/checkout/{order.pk}/stripe/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Payment.objects.filter(order=order).count() == 1


@pytest.mark.django_db
def test_someone_elses_order_is_404_and_nothing_is_created(fake_stripe, other_client, order):
    c = Client()
    c.force_login(other_client)
    assert start(c, order).status_code == 404
    assert not Payment.objects.exists()
    assert fake_stripe.calls("POST", "/v1/checkout/sessions") == []


@pytest.mark.django_db
def test_coach_cannot_pay(fake_stripe, coach_user, order):
    c = Client()
    c.force_login(coach_user)
    assert start(c, order).status_code == 403
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_unverified_client_is_asked_to_confirm_email(fake_stripe, coach_user):
    fresh = ClientFactory(verified=False)
    order = make_order(client=fresh, coach=coach_user)
    c = Client()
    c.force_login(fresh)
    response = start(c, order)
    assert response.status_code in (302, 403)
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_paid_order_is_refused_with_409(fake_stripe, client_login, paid_order):
    response = start(client_login, paid_order)
    assert response.status_code == 409
    assert "already paid" in response.content.decode()
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_cancelled_order_is_refused_with_409(fake_stripe, client_login, order):
    from orders import services as order_services

    order_services.cancel_order(order.pk, actor=order.client, reason="changed my mind")
    response = start(client_login, order)
    assert response.status_code == 409
    assert "cancelled" in response.content.decode()
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_unknown_provider_is_404(fake_stripe, client_login, order):
    assert client_login.post(f"/payments/checkout/{order.pk}/bitcoin/").status_code == 404


@pytest.mark.django_db
def test_success_page_asks_stripe_and_fulfils_when_paid(fake_stripe, client_login, order):
    start(client_login, order)
    payment = Payment.objects.get(order=order)
    fake_stripe.pay(payment.provider_payment_id)

    response = client_login.get(f"/payments/checkout/{order.pk}/done/?payment={payment.pk}&session_id=forged")

    assert response.status_code == 200
    assert 'data-payment-state="paid"' in response.content.decode()
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED and payment.provider_capture_id.startswith("pi_test_")
    assert order.status == OrderStatus.IN_PROGRESS
    assert LedgerEntry.objects.filter(payment=payment, entry_type="charge").count() == 1


@pytest.mark.django_db
def test_success_page_without_payment_shows_not_paid(fake_stripe, client_login, order):
    start(client_login, order)
    payment = Payment.objects.get(order=order)

    response = client_login.get(f"/payments/checkout/{order.pk}/done/?payment={payment.pk}")

    assert 'data-payment-state="unpaid"' in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


@pytest.mark.django_db
def test_cancel_page_shows_true_state(fake_stripe, client_login, order):
    start(client_login, order)
    payment = Payment.objects.get(order=order)
    response = client_login.get(f"/payments/checkout/{order.pk}/cancelled/?payment={payment.pk}")
    assert 'data-payment-state="unpaid"' in response.content.decode()
    assert "You have not been charged" in response.content.decode()


@pytest.mark.django_db
def test_success_page_of_someone_elses_order_is_404(fake_stripe, client_login, other_client, coach_user):
    theirs = make_order(client=other_client, coach=coach_user)
    assert client_login.get(f"/payments/checkout/{theirs.pk}/done/").status_code == 404


@pytest.mark.django_db
def test_waiting_page_refreshes_itself_until_the_provider_confirms(fake_stripe, client_login, order):
    start(client_login, order)
    payment = Payment.objects.get(order=order)
    waiting = client_login.get(f"/payments/checkout/{order.pk}/done/?payment={payment.pk}").content.decode()
    assert "data-auto-refresh" in waiting and "js/payments.js" in waiting
    fake_stripe.pay(payment.provider_payment_id)
    paid = client_login.get(f"/payments/checkout/{order.pk}/done/?payment={payment.pk}").content.decode()
    assert "data-auto-refresh" not in paid and "js/payments.js" not in paid


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["stripe", "paypal", "test"])
def test_opening_the_pay_url_leads_back_to_the_order_and_starts_no_payment(fake_stripe, client_login, order, provider):
    response = client_login.get(f"/payments/checkout/{order.pk}/{provider}/", follow=True)
    assert response.redirect_chain == [(f"/orders/{order.pk}/", 302)]
    assert response.status_code == 200
    assert not Payment.objects.exists()
    assert fake_stripe.calls("POST", "/v1/checkout/sessions") == []


@pytest.mark.django_db
def test_the_paid_page_seen_again_later_says_no_more_than_is_true(fake_stripe, client_login, order, coach_user):
    from orders import services as orders

    start(client_login, order)
    payment = Payment.objects.get(order=order)
    fake_stripe.pay(payment.provider_payment_id)
    url = f"/payments/checkout/{order.pk}/done/?payment={payment.pk}"
    assert "can start now" in client_login.get(url).content.decode()
    orders.deliver(order.pk, actor=coach_user, note="Here it is")
    later = client_login.get(url).content.decode()
    assert 'data-payment-state="paid"' in later and "can start now" not in later
    assert 'data-order-status="delivered"' in later
