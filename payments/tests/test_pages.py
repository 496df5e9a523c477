"""What people see: the order page's payment panel, receipts, the coach's earnings."""

import pytest
from django.test import Client

from orders import services as order_services
from orders.tests.factories import make_order
from payments import services
from payments.models import Payment
from payments.webhooks import deliver_test_event


def pay(order):
    payment = services.start_test_checkout(order.pk, actor=order.client)
    deliver_test_event(
        "payment.succeeded", payment=payment.provider_payment_id, amount=payment.amount_minor, currency=payment.currency
    )
    payment.refresh_from_db()
    return payment


def logged_in(user):
    c = Client()
    c.force_login(user)
    return c


@pytest.mark.django_db
def test_order_page_offers_the_test_provider_to_the_client(client_login, order, settings):
    settings.STRIPE_SECRET_KEY = ""
    settings.PAYPAL_CLIENT_ID = ""
    html = client_login.get(f"/orders/{order.pk}/").content.decode()
    assert 'data-payment-state="unpaid"' in html
    assert f'action="/payments/checkout/{order.pk}/test/"' in html
    assert "/stripe/" not in html and "/paypal/" not in html


@pytest.mark.django_db
def test_order_page_shows_stripe_and_paypal_when_configured(client_login, order, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.PAYPAL_CLIENT_ID, settings.PAYPAL_CLIENT_SECRET = "id", "secret"
    html = client_login.get(f"/orders/{order.pk}/").content.decode()
    assert f'action="/payments/checkout/{order.pk}/stripe/"' in html
    assert f'action="/payments/checkout/{order.pk}/paypal/"' in html


@pytest.mark.django_db
def test_coach_sees_the_state_but_no_pay_buttons(coach_user, order):
    html = logged_in(coach_user).get(f"/orders/{order.pk}/").content.decode()
    assert 'data-payment-state="unpaid"' in html and "/payments/checkout/" not in html


@pytest.mark.django_db
def test_paid_order_shows_paid_and_history_with_receipt(client_login, order):
    payment = pay(order)
    html = client_login.get(f"/orders/{order.pk}/").content.decode()
    assert 'data-payment-state="paid"' in html
    assert f"/payments/receipts/{payment.pk}/" in html
    assert "/payments/checkout/" not in html


@pytest.mark.django_db
def test_receipts_list_and_receipt(client_login, order):
    payment = pay(order)
    listing = client_login.get("/payments/receipts/")
    assert listing.status_code == 200 and f"/payments/receipts/{payment.pk}/" in listing.content.decode()
    receipt = client_login.get(f"/payments/receipts/{payment.pk}/")
    assert receipt.status_code == 200
    assert "£120.00" in receipt.content.decode() and f"EWS-{payment.pk}" in receipt.content.decode()


@pytest.mark.django_db
def test_receipt_shows_refunds_and_net(client_login, order, staff_user):
    payment = pay(order)
    services.refund(payment.pk, amount_minor=2000, actor=staff_user, reason="goodwill")
    html = client_login.get(f"/payments/receipts/{payment.pk}/").content.decode()
    assert "-£20.00" in html and "£100.00" in html


@pytest.mark.django_db
def test_someone_elses_receipt_is_404(order, other_client):
    payment = pay(order)
    assert logged_in(other_client).get(f"/payments/receipts/{payment.pk}/").status_code == 404
    assert f"EWS-{payment.pk}" not in logged_in(other_client).get("/payments/receipts/").content.decode()


@pytest.mark.django_db
def test_receipts_need_login():
    response = Client().get("/payments/receipts/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_receipts_query_count_does_not_grow(client_user, coach_user, client_login, django_assert_max_num_queries):
    for _ in range(3):
        pay(make_order(client=client_user, coach=coach_user))
    client_login.get("/payments/receipts/")
    with django_assert_max_num_queries(12) as few:
        client_login.get("/payments/receipts/")
    warm = len(few.captured_queries)  # the next request empties the log `few` reads
    for _ in range(6):
        pay(make_order(client=client_user, coach=coach_user))
    # The payments notified the client: the bell's cached count is recounted once.
    client_login.get("/payments/receipts/")
    with django_assert_max_num_queries(warm):
        client_login.get("/payments/receipts/")


@pytest.mark.django_db
def test_earnings_pending_then_released(coach_user, order):
    coach = logged_in(coach_user)
    pay(order)
    html = coach.get("/payments/earnings/").content.decode()
    assert 'data-total="pending">£96.00' in html and 'data-total="released">£0.00' in html

    order_services.deliver(order.pk, actor=coach_user)
    order_services.accept_delivery(order.pk, actor=order.client)

    html = coach.get("/payments/earnings/").content.decode()
    assert 'data-total="pending">£0.00' in html and 'data-total="released">£96.00' in html
    assert 'data-cell="released">£96.00' in html


@pytest.mark.django_db
def test_earnings_are_per_coach(coach_user, other_coach, order):
    pay(order)
    html = logged_in(other_coach).get("/payments/earnings/").content.decode()
    assert "No earnings yet" in html and f"#{order.pk}" not in html


@pytest.mark.django_db
def test_earnings_page_is_for_coaches(client_login):
    assert client_login.get("/payments/earnings/").status_code == 403


@pytest.mark.django_db
def test_earnings_query_count_does_not_grow(client_user, coach_user, django_assert_max_num_queries):
    coach = logged_in(coach_user)
    pay(make_order(client=client_user, coach=coach_user))
    coach.get("/payments/earnings/")
    with django_assert_max_num_queries(12) as few:
        coach.get("/payments/earnings/")
    warm = len(few.captured_queries)  # the next request empties the log `few` reads
    for _ in range(5):
        pay(make_order(client=client_user, coach=coach_user))
    # The payments notified the coach: the bell's cached count is recounted once.
    coach.get("/payments/earnings/")
    with django_assert_max_num_queries(warm):
        coach.get("/payments/earnings/")


@pytest.mark.django_db
def test_coach_dashboard_shows_pending_earnings(coach_user, order):
    pay(order)
    html = logged_in(coach_user).get("/dashboard/").content.decode()
    assert 'data-earnings="pending">£96.00' in html


@pytest.mark.django_db
def test_pending_attempts_are_not_listed(client_login, order):
    Payment.objects.create(
        order=order,
        client=order.client,
        provider="test",
        provider_payment_id="pending_x",
        amount_minor=1,
        currency="GBP",
    )
    assert "pending_x" not in client_login.get("/payments/receipts/").content.decode()


@pytest.mark.django_db
def test_earnings_totals_are_what_the_orm_sums(coach_user, client_user, staff_user, other_coach):
    """The dashboard's totals (core.sqlmemo, compiled once) against the plain ORM sum: pending, released,
    partly and wholly refunded, and another coach's rows left out."""
    from django.db.models import Q, Sum

    from orders.models import OrderStatus
    from payments.models import LedgerEntry, LedgerEntryType
    from payments.services.refunds import refund
    from payments.views import coach_earnings_totals

    orders = [make_order(client=client_user, coach=coach_user) for _ in range(4)]
    payments = [pay(order) for order in orders]
    pay(make_order(client=client_user, coach=other_coach))
    order_services.deliver(orders[1].pk, actor=coach_user)
    order_services.accept_delivery(orders[1].pk, actor=client_user)
    refund(payments[2].pk, actor=staff_user, amount_minor=1500, reason="Partly")
    refund(payments[3].pk, actor=staff_user, amount_minor=payments[3].amount_minor, reason="All of it")

    money_rows = ~Q(entry_type=LedgerEntryType.PAYOUT)
    orm: dict[str, dict] = {}
    for row in (
        LedgerEntry.objects.filter(coach=coach_user)
        .values("currency", "order__status")
        .annotate(
            share=Sum("payout_minor", filter=money_rows, default=0),
            released=Sum("gross_minor", filter=Q(entry_type=LedgerEntryType.PAYOUT), default=0),
        )
    ):
        total = orm.setdefault(row["currency"], {"currency": row["currency"], "pending": 0, "released": 0})
        total["released"] += row["released"]
        if row["order__status"] not in (OrderStatus.COMPLETED, OrderStatus.CANCELLED):
            total["pending"] += row["share"] - row["released"]

    totals = coach_earnings_totals(coach_user)
    assert totals == sorted(orm.values(), key=lambda t: t["currency"])
    assert totals[0]["pending"] > 0 and totals[0]["released"] > 0
    assert coach_earnings_totals(other_coach)[0]["released"] == 0
