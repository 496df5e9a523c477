"""The analytics figures are cached, and every change to their inputs shows on the next visit.

These tests commit for real (transactional database): the cache is made stale by after-commit
callbacks, exactly as in production.
"""

import itertools

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import ClientFactory
from adminpanel import analytics
from orders import services as order_services
from payments import services as payment_services

pytestmark = pytest.mark.django_db(transaction=True)

AGGREGATED = ("orders_order", "requests_app_servicerequest", "orders_review", "payments_ledgerentry")


VISITS = itertools.count()


def figures(staff_client, **params):
    """The report the page was rendered from. Each visit has its own URL, so the page itself is never
    served from core.pages' cache (elite/tests/test_page_cache.py): the figures' own cache is what is tested."""
    response = staff_client.get(reverse("adminpanel:analytics"), {**params, "visit": next(VISITS)})
    assert response.status_code == 200
    return response.context["data"]


def status_count(data, status):
    return next(row["count"] for row in data["orders_by_status"] if row["status"] == status)


def test_a_revisit_with_nothing_changed_aggregates_nothing(staff_client, order):
    figures(staff_client)  # computes and stores them
    with CaptureQueriesContext(connection) as revisit:
        data = figures(staff_client)
    assert status_count(data, "pending") == 1
    touched = [q["sql"] for q in revisit.captured_queries if any(table in q["sql"] for table in AGGREGATED)]
    assert touched == []
    assert len(revisit.captured_queries) <= 5  # session, user, bell, email check: the visit itself


def test_an_order_paid_moves_between_statuses_at_once(staff_client, order):
    assert status_count(figures(staff_client), "pending") == 1
    assert 'data-status="pending">1<' in staff_client.get(reverse("adminpanel:analytics")).content.decode()

    order_services.mark_paid(order.pk, actor=None)

    data = figures(staff_client)
    assert (status_count(data, "pending"), status_count(data, "in_progress")) == (0, 1)
    assert data["conversion"][2]["count"] == 1  # paid
    html = staff_client.get(reverse("adminpanel:analytics")).content.decode()  # the tables are cached markup
    assert 'data-status="pending">0<' in html and 'data-status="in_progress">1<' in html
    assert '"counts": [0, 1' in html  # the chart's data, rendered with the tables


def test_the_export_links_keep_each_visits_own_filters(staff_client, order):
    today = timezone.localdate().isoformat()
    plain = staff_client.get(reverse("adminpanel:analytics")).content.decode()
    ranged = staff_client.get(reverse("adminpanel:analytics"), {"end": today}).content.decode()
    assert "?export=revenue" in plain
    assert f"?end={today}&amp;export=revenue" in ranged


def test_a_captured_payment_shows_in_revenue_at_once(staff_client, order, client_user, settings):
    settings.DEBUG = True  # the built-in test provider runs only with DEBUG on
    settings.TEST_PAYMENTS_ENABLED = True
    assert figures(staff_client, currency=order.currency)["revenue_totals"]["gross"] == 0

    payment = payment_services.start_test_checkout(order.pk, actor=client_user)
    payment_services.fulfil_payment(payment.pk, amount_minor=order.amount_minor, currency=order.currency, source="test")

    assert figures(staff_client, currency=order.currency)["revenue_totals"]["gross"] == order.amount_minor


def test_money_held_for_a_cancelled_order_shows_in_revenue_at_once(staff_client, order, client_user, settings):
    settings.DEBUG = True
    settings.TEST_PAYMENTS_ENABLED = True
    payment = payment_services.start_test_checkout(order.pk, actor=client_user)
    order_services.cancel_order(order.pk, actor=client_user)
    assert figures(staff_client, currency=order.currency)["revenue_totals"]["gross"] == 0

    # Only the charge row changes (the order stays cancelled), and it is a bulk INSERT that sends no
    # post_save: payments' ledger_written signal is what makes the figures stale.
    payment_services.fulfil_payment(payment.pk, amount_minor=order.amount_minor, currency=order.currency, source="test")

    totals = figures(staff_client, currency=order.currency)["revenue_totals"]
    assert (totals["gross"], totals["fees"]) == (order.amount_minor, order.amount_minor)  # all held


def test_a_review_and_hiding_it_show_at_once(staff_client, paid_order, client_user, coach_user, staff_user):
    assert figures(staff_client)["top_by_rating"] == []
    order_services.deliver(paid_order.pk, actor=coach_user, note="Here it is.")
    order_services.accept_delivery(paid_order.pk, actor=client_user)
    assert status_count(figures(staff_client), "completed") == 1

    review = order_services.submit_review(paid_order.pk, actor=client_user, rating=4)
    assert [row["rating"] for row in figures(staff_client)["top_by_rating"]] == [4]

    coach_user.first_name = "Renamed"
    coach_user.save(update_fields=["first_name"])
    assert figures(staff_client)["top_by_rating"][0]["coach__user__first_name"] == "Renamed"

    order_services.hide_review(review.pk, actor=staff_user, hidden=True)
    assert figures(staff_client)["top_by_rating"] == []


def test_a_signup_counts_at_once_and_a_login_changes_nothing(staff_client, client_user):
    before = {row["role"]: row["count"] for row in figures(staff_client)["new_users"]["totals"]}
    ClientFactory()
    after = {row["role"]: row["count"] for row in figures(staff_client)["new_users"]["totals"]}
    assert after["client"] == before["client"] + 1

    client_user.last_login = timezone.now()
    client_user.save(update_fields=["last_login"])
    with CaptureQueriesContext(connection) as revisit:
        figures(staff_client)
    assert not [q for q in revisit.captured_queries if "orders_order" in q["sql"]]  # still cached


def test_many_writes_in_one_transaction_bump_the_figures_once(order):
    from core.cache import _AfterCommit, _version_key

    with transaction.atomic():
        for _ in range(3):
            order.save()
        waiting = [entry[1] for entry in connection.run_on_commit if isinstance(entry[1], _AfterCommit)]
        assert len(waiting) == 1  # one after-commit round trip for the transaction's bumps
        assert list(waiting[0].keys).count(_version_key(analytics.FIGURES_SCOPE, 0)) == 1
