"""Every amount a person types or reads goes through core.money (ISO 4217 exponents): a property test
over currencies and amounts that decimal → minor → decimal round-trips, and that what staff type in
the refund and dispute forms (and coaches in their price form) is exactly what reaches the provider
(read back from what the loopback Stripe/PayPal received)."""

from decimal import Decimal

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coaches.directory import parse_filters, search
from coaches.forms import ServiceForm, service_initial
from coaches.models import CoachService
from coaches.services import CURRENCIES
from core.money import exponent, minor_to_decimal, to_minor
from orders.tests.factories import make_order
from payments.admin import DisputeResolutionForm, RefundForm
from payments.models import Payment, PaymentStatus

from .conftest import post_paypal, post_stripe
from .fakes import paypal_event, stripe_event

# Zero-, two- and three-decimal currencies the providers take.
PROVIDER_CURRENCIES = ["GBP", "EUR", "USD", "JPY", "KRW", "KWD", "BHD", "JOD"]
currencies = st.sampled_from(PROVIDER_CURRENCIES)
amounts = st.integers(min_value=1, max_value=10**9)
hypothesis_db = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@given(currency=currencies, amount_minor=amounts)
def test_decimal_minor_decimal_round_trips(currency, amount_minor):
    shown = minor_to_decimal(amount_minor, currency)
    assert to_minor(shown, currency) == amount_minor
    assert to_minor(str(shown), currency) == amount_minor
    assert shown.as_tuple().exponent == -exponent(currency)


@given(currency=currencies, data=st.data())
def test_the_refund_form_reads_the_amount_in_the_payments_currency(currency, data):
    amount_minor = data.draw(amounts)
    typed = str(minor_to_decimal(amount_minor, currency))
    form = RefundForm({"amount": typed, "reason": "r"}, currency=currency)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount"] == amount_minor


@given(currency=st.sampled_from(["JPY", "KRW"]), amount=st.integers(min_value=1, max_value=10**6))
def test_a_decimal_in_a_zero_decimal_currency_is_refused_not_rounded(currency, amount):
    form = RefundForm({"amount": f"{amount}.5", "reason": "r"}, currency=currency)
    assert not form.is_valid() and "no decimals" in str(form.errors["amount"])


@given(currency=currencies, data=st.data())
def test_the_dispute_form_reads_a_partial_refund_in_the_orders_currency(currency, data):
    refundable = data.draw(st.integers(min_value=2, max_value=10**9))
    refund_minor = data.draw(st.integers(min_value=1, max_value=refundable - 1))
    form = DisputeResolutionForm(
        {"outcome": "partial", "amount": str(minor_to_decimal(refund_minor, currency)), "note": "n"},
        refundable_minor=refundable,
        currency=currency,
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["refund_minor"] == refund_minor


@given(currency=st.sampled_from(CURRENCIES), price_minor=st.integers(min_value=500, max_value=1_000_000))
def test_the_coach_price_form_stores_what_the_coach_typed(currency, price_minor):
    typed = str(minor_to_decimal(price_minor, currency))
    form = ServiceForm(
        {
            "service_type": "cv",
            "price": typed,
            "currency": currency,
            "delivery_days": 5,
            "revisions_included": 1,
            "is_active": "on",
        }
    )
    assert form.is_valid(), form.errors
    assert form.to_offer().price_minor == price_minor


@pytest.mark.django_db
def test_the_coach_price_form_shows_the_stored_price_back(coach_user):
    service = coach_user.coach_profile.services.get(service_type="cv")
    service.price_minor, service.currency = 12345, "EUR"
    service.save()
    (row,) = [r for r in service_initial(coach_user.coach_profile) if r["service_type"] == "cv"]
    assert row["price"] == Decimal("123.45")


@pytest.mark.django_db
def test_directory_price_filters_are_in_the_sites_currency(coach_user, settings):
    service = coach_user.coach_profile.services.get(service_type="cv")
    service.price_minor, service.currency = 8000, settings.DEFAULT_CURRENCY
    service.save()
    found = set(search(parse_filters({"service": "cv", "min_price": "80", "max_price": "80.00"})))
    assert coach_user.coach_profile in found
    assert coach_user.coach_profile not in set(search(parse_filters({"service": "cv", "min_price": "80.01"})))


def _order_in(currency: str, price_minor: int, client_user, coach_user):
    CoachService.objects.filter(coach=coach_user.coach_profile, service_type="cv").update(
        currency=currency, price_minor=price_minor
    )
    return make_order(client=client_user, coach=coach_user, price_minor=None)


def _paid_with_stripe(fake_stripe, client_login, order) -> Payment:
    client_login.post(f"/payments/checkout/{order.pk}/stripe/")
    payment = Payment.objects.get(order=order)
    post_stripe(Client(), stripe_event("checkout.session.completed", fake_stripe.pay(payment.provider_payment_id)))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED
    return payment


def _paid_with_paypal(fake_paypal, client_login, order) -> Payment:
    client_login.post(f"/payments/paypal/{order.pk}/create/")
    payment = Payment.objects.get(order=order)
    fake_paypal.approve(payment.provider_payment_id)
    client_login.post(f"/payments/paypal/{order.pk}/capture/", {"token": payment.provider_payment_id})
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED
    return payment


@pytest.mark.django_db
@hypothesis_db
@given(currency=currencies, data=st.data())
def test_what_staff_type_on_the_refund_page_is_what_stripe_receives(
    currency, data, fake_stripe, client_login, staff_login, client_user, coach_user
):
    price_minor = data.draw(st.integers(min_value=1, max_value=10**8))
    refund_minor = data.draw(st.integers(min_value=1, max_value=price_minor))
    payment = _paid_with_stripe(fake_stripe, client_login, _order_in(currency, price_minor, client_user, coach_user))
    (checkout,) = fake_stripe.calls("POST", "/v1/checkout/sessions")[-1:]
    assert checkout.body["line_items"][0]["price_data"]["unit_amount"] == str(price_minor)
    page = staff_login.get(f"/admin/payments/payment/{payment.pk}/refund/")
    assert f'value="{minor_to_decimal(price_minor, currency)}"' in page.content.decode()  # the full refund

    typed = str(minor_to_decimal(refund_minor, currency))
    response = staff_login.post(f"/admin/payments/payment/{payment.pk}/refund/", {"amount": typed, "reason": "r"})

    assert response.status_code == 302, response.content.decode()[-600:]
    sent = fake_stripe.calls("POST", "/v1/refunds")[-1]
    assert sent.body["amount"] == str(refund_minor) and sent.body["payment_intent"] == payment.provider_capture_id


@pytest.mark.django_db
@hypothesis_db
@given(currency=currencies, data=st.data())
def test_what_staff_type_on_the_refund_page_is_what_paypal_receives(
    currency, data, fake_paypal, client_login, staff_login, client_user, coach_user
):
    price_minor = data.draw(st.integers(min_value=1, max_value=10**8))
    refund_minor = data.draw(st.integers(min_value=1, max_value=price_minor))
    payment = _paid_with_paypal(fake_paypal, client_login, _order_in(currency, price_minor, client_user, coach_user))
    typed = str(minor_to_decimal(refund_minor, currency))

    response = staff_login.post(f"/admin/payments/payment/{payment.pk}/refund/", {"amount": typed, "reason": "r"})

    assert response.status_code == 302, response.content.decode()[-600:]
    sent = fake_paypal.calls("POST", "/v2/payments/captures/")[-1]
    assert sent.body["amount"] == {"currency_code": currency, "value": typed}
    refund = fake_paypal.find_capture(payment.provider_capture_id)["refunds"][-1]
    post_paypal(Client(), fake_paypal, paypal_event("PAYMENT.CAPTURE.REFUNDED", refund))
    payment.refresh_from_db()
    assert payment.refunded_minor == refund_minor
