"""Analytics figures against values computed by hand on a small fixed history (1–10 March 2026)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import ClientFactory, StaffFactory
from adminpanel import analytics
from coaches.tests.factories import CoachProfileFactory
from orders.models import Order, Review
from requests_app.models import ServiceRequest

from .helpers import ledger_entry

MARCH = analytics.Range(dt.date(2026, 3, 1), dt.date(2026, 3, 10), "day", "GBP")


def at(day, hour=12, month=3):
    return timezone.make_aware(dt.datetime(2026, month, day, hour))


def make_order(client, profile, *, created, decided, status="pending", amount=10000, paid=None, delivered=None):
    request = ServiceRequest.objects.create(
        client=client,
        coach=profile,
        service_type="cv",
        title="CV",
        requirements="-",
        deadline=dt.date(2026, 4, 1),
        price_minor=amount,
        currency="GBP",
        status="accepted",
        expires_at=created + dt.timedelta(days=3),
        decided_at=decided,
    )
    ServiceRequest.objects.filter(pk=request.pk).update(created_at=created)
    order = Order.objects.create(
        request=request,
        client=client,
        coach=profile.user,
        service_type="cv",
        title="CV",
        amount_minor=amount,
        currency="GBP",
        status=status,
        deadline=dt.date(2026, 4, 1),
        paid_at=paid,
        delivered_at=delivered,
    )
    Order.objects.filter(pk=order.pk).update(created_at=decided)
    return order


def ledger(kind, order, gross, fee, when, currency="GBP"):
    ledger_entry(kind, order, gross, fee, when, currency=currency)


def review(order, profile, rating, when, hidden=False):
    obj = Review.objects.create(order=order, client=order.client, coach=profile, rating=rating, is_hidden=hidden)
    Review.objects.filter(pk=obj.pk).update(created_at=when)


@pytest.fixture
def march(db):
    """The fixed history; the comments give the hand-computed figures the tests expect."""
    from accounts.models import User

    a = CoachProfileFactory(user__first_name="Ada", user__last_name="Coach")
    b = CoachProfileFactory(user__first_name="Bea", user__last_name="Coach")
    c1, c2 = ClientFactory(), ClientFactory()
    StaffFactory()
    # New users in range: c1 (1 Mar), c2 (3 Mar), coach a (3 Mar) → clients 2, coaches 1, staff 0.
    User.objects.update(date_joined=at(20, month=2))
    User.objects.filter(pk=c1.pk).update(date_joined=at(1))
    User.objects.filter(pk__in=[c2.pk, a.user.pk]).update(date_joined=at(3))

    # Requests in range: r1, r2, r3 (accepted after 4 h, 2 h, 6 h → 4.0 h average) and r4 (rejected).
    o1 = make_order(
        c1, a, created=at(2, 10), decided=at(2, 14), status="completed", paid=at(2, 16), delivered=at(4, 16)
    )  # paid → delivered: 48 h
    o2 = make_order(c2, b, created=at(3, 9), decided=at(3, 11), status="in_progress", amount=20000, paid=at(3, 12))
    make_order(c1, b, created=at(9, 8), decided=at(9, 14), status="pending", amount=5000)
    rejected = ServiceRequest.objects.create(
        client=c2,
        coach=a,
        service_type="cv",
        title="No",
        requirements="-",
        deadline=dt.date(2026, 4, 1),
        status="rejected",
        expires_at=at(7),
        decided_at=at(4, 12),
    )
    ServiceRequest.objects.filter(pk=rejected.pk).update(created_at=at(4, 10))
    # Outside the range (February): ignored by every figure except the reviews written in March.
    o5 = make_order(
        c2, b, created=at(20, month=2), decided=at(20, 13, month=2), status="completed", paid=at(21, month=2)
    )
    o7 = make_order(
        c2, a, created=at(21, month=2), decided=at(21, 13, month=2), status="completed", paid=at(22, month=2)
    )

    # Ledger (GBP): gross 30 000, refunds 5 000, net 25 000, fees 2 000 + 4 000 − 1 000 = 5 000, payouts 8 000.
    ledger("charge", o1, 10000, 2000, at(2, 16))
    ledger("charge", o2, 20000, 4000, at(3, 12))
    ledger("payout", o1, 8000, 0, at(5, 9))
    ledger("refund", o2, -5000, -1000, at(10, 18))
    ledger("charge", o5, 99900, 19980, at(25, month=2))  # before the range
    ledger("charge", o1, 7000, 1400, at(4), currency="USD")  # another currency

    # Reviews in range: a 4★ (o1), b 5★ (o5, written 7 Mar); a hidden 1★ on o7 does not count.
    review(o1, a, 4, at(6))
    review(o5, b, 5, at(7))
    review(o7, a, 1, at(8), hidden=True)
    return {"a": a, "b": b}


def test_revenue_per_day_and_totals(march):
    series = analytics.revenue(MARCH)
    assert [row["period"] for row in series] == [dt.date(2026, 3, d) for d in range(1, 11)]
    by_day = {row["period"].day: row for row in series}
    assert by_day[2] == {
        "period": dt.date(2026, 3, 2),
        "gross": 10000,
        "refunds": 0,
        "fees": 2000,
        "payouts": 0,
        "net": 10000,
    }
    assert by_day[3]["gross"] == 20000 and by_day[3]["fees"] == 4000
    assert by_day[5]["payouts"] == 8000 and by_day[5]["gross"] == 0
    assert by_day[10]["refunds"] == 5000 and by_day[10]["fees"] == -1000 and by_day[10]["net"] == -5000
    assert by_day[1] == {"period": dt.date(2026, 3, 1), "gross": 0, "refunds": 0, "fees": 0, "payouts": 0, "net": 0}
    assert analytics.revenue_totals(series) == {
        "gross": 30000,
        "refunds": 5000,
        "fees": 5000,
        "payouts": 8000,
        "net": 25000,
    }


def test_revenue_per_week_and_month(march):
    weeks = analytics.revenue(analytics.Range(MARCH.start, MARCH.end, "week", "GBP"))
    # 1 March 2026 is a Sunday: weeks start Mon 23 Feb, Mon 2 Mar, Mon 9 Mar.
    assert [(w["period"], w["gross"], w["fees"], w["payouts"], w["refunds"]) for w in weeks] == [
        (dt.date(2026, 2, 23), 0, 0, 0, 0),
        (dt.date(2026, 3, 2), 30000, 6000, 8000, 0),
        (dt.date(2026, 3, 9), 0, -1000, 0, 5000),
    ]
    months = analytics.revenue(analytics.Range(MARCH.start, MARCH.end, "month", "GBP"))
    assert [(m["period"], m["gross"], m["net"]) for m in months] == [(dt.date(2026, 3, 1), 30000, 25000)]


def test_other_currency_is_reported_separately(march):
    usd = analytics.revenue_totals(analytics.revenue(analytics.Range(MARCH.start, MARCH.end, "day", "USD")))
    assert usd["gross"] == 7000 and usd["fees"] == 1400


def test_orders_by_status(march):
    counts = {row["status"]: row["count"] for row in analytics.orders_by_status(MARCH)}
    assert counts == {"pending": 1, "in_progress": 1, "delivered": 0, "completed": 1, "cancelled": 0, "disputed": 0}


def test_conversion_funnel(march):
    funnel = {row["step"]: (row["count"], row["percent"]) for row in analytics.conversion(MARCH)}
    assert funnel == {"requests": (4, 100.0), "orders": (3, 75.0), "paid": (2, 50.0), "completed": (1, 25.0)}


def test_conversion_follows_the_request_s_date_not_the_order_s(march):
    """The funnel joins only orders made since the range began (less a slack): it must still count an order
    accepted after the range for a request sent in it, one stamped a little before its request by a server
    whose clock is behind, and never an order made in the range for a request sent before it."""
    a, b = march["a"], march["b"]
    c = ClientFactory()
    make_order(c, a, created=at(10, 23), decided=at(14, 9), status="completed", paid=at(14, 10))
    make_order(c, b, created=at(1, 0) + dt.timedelta(minutes=10), decided=at(28, 23, month=2))
    make_order(c, a, created=at(28, 22, month=2), decided=at(1, 2))
    funnel = {row["step"]: (row["count"], row["percent"]) for row in analytics.conversion(MARCH)}
    assert funnel == {"requests": (6, 100.0), "orders": (5, 83.3), "paid": (3, 50.0), "completed": (2, 33.3)}


def test_average_time_to_accept_and_to_deliver(march):
    timings = analytics.timings(MARCH)
    assert timings == {"accept": 4.0, "accept_count": 3, "deliver": 48.0, "deliver_count": 1}


def test_top_coaches(march):
    by_revenue = analytics.top_coaches_by_revenue(MARCH)
    assert [(row["coach_id"], row["revenue"], row["orders"]) for row in by_revenue] == [
        (march["b"].user_id, 15000, 1),
        (march["a"].user_id, 10000, 1),
    ]
    by_rating = analytics.top_coaches_by_rating(MARCH)
    assert [(row["coach_id"], float(row["rating"]), row["reviews"]) for row in by_rating] == [
        (march["b"].pk, 5.0, 1),
        (march["a"].pk, 4.0, 1),
    ]


def test_new_users_by_role(march):
    users = analytics.new_users(MARCH)
    assert {row["role"]: row["count"] for row in users["totals"]} == {"client": 2, "coach": 1, "admin": 0}
    by_day = {row["period"].day: row for row in users["series"]}
    assert by_day[1] == {"period": dt.date(2026, 3, 1), "client": 1, "coach": 0, "admin": 0}
    assert by_day[3] == {"period": dt.date(2026, 3, 3), "client": 1, "coach": 1, "admin": 0}


def test_page_shows_the_figures_in_tables_and_chart_data(march, staff_client):
    response = staff_client.get(reverse("adminpanel:analytics"), {"start": "2026-03-01", "end": "2026-03-10"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-metric="gross">£300.00<' in html
    assert 'data-metric="fees">£50.00<' in html
    assert 'data-metric="payouts">£80.00<' in html
    assert 'data-metric="refunds">£50.00<' in html
    assert 'data-metric="accept-hours">4.0 h<' in html
    assert 'data-step="paid">2<' in html
    assert 'id="analytics-data"' in html and "vendor/chart.js/chart.umd.min.js" in html
    assert "<script>" not in html  # CSP: data through json_script, code in static files
    chart = response.context["chart_data"]
    assert chart["revenue"]["gross"][1] == 10000 and chart["conversion"]["counts"] == [4, 3, 2, 1]


@pytest.mark.parametrize(
    "params,message",
    [
        ({"start": "2026-03-10", "end": "2026-03-01"}, "The start date is after the end date."),
        ({"start": "2026-13-45"}, "Enter a valid date."),
        ({"start": "2019-01-01", "end": "2026-03-01"}, "at most three years"),
        ({"granularity": "hour"}, "Select a valid choice"),
    ],
)
def test_bad_range_shows_a_message_and_the_default_range(march, staff_client, params, message):
    response = staff_client.get(reverse("adminpanel:analytics"), params)
    assert response.status_code == 200
    span = response.context["span"]
    assert span.end == timezone.localdate() and (span.end - span.start).days == 29 and span.granularity == "day"
    shown = [str(m) for m in response.context["messages"]]
    assert any(message in m and "last 30 days" in m for m in shown), shown


def test_too_many_days_are_grouped_by_week_with_a_note(march, staff_client):
    response = staff_client.get(reverse("adminpanel:analytics"), {"start": "2025-06-01", "end": "2026-03-01"})
    assert response.context["span"].granularity == "week"
    assert any("grouped by week" in str(m) for m in response.context["messages"])
