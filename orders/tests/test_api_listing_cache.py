"""GET orders/me is reused per user until one of their orders changes, and never shared between users."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.tests.api import API, client_for
from orders import services
from orders.tests.factories import make_order

pytestmark = pytest.mark.django_db
MINE = f"{API}orders/me"


def mine(user, params=None):
    with CaptureQueriesContext(connection) as queries:
        response = client_for(user).get(MINE, params or {})
    assert response.status_code == 200, response.content
    return response.json()["results"], [q["sql"] for q in queries.captured_queries]


def test_a_revisit_reads_no_orders_and_a_status_change_shows_at_once(order, client_user, coach_user):
    mine(coach_user)
    rows, revisit = mine(coach_user)
    assert not [sql for sql in revisit if "orders_order" in sql]
    assert rows[0]["status"] == "pending" and rows[0]["allowed_transitions"] == ["cancel"]

    services.mark_paid(order.pk, actor=None)

    for user in (coach_user, client_user):
        rows, _ = mine(user)
        assert rows[0]["status"] == "in_progress"
    assert "deliver" in mine(coach_user)[0][0]["allowed_transitions"]


def test_a_new_order_shows_at_once_and_filters_are_cached_apart(order, client_user, coach_user):
    assert len(mine(coach_user)[0]) == 1
    assert mine(coach_user, {"status": "in_progress"})[0] == []

    second = make_order(client=client_user, coach=coach_user)
    services.mark_paid(second.pk, actor=None)

    assert [row["id"] for row in mine(coach_user)[0]] == [second.pk, order.pk]
    assert [row["id"] for row in mine(coach_user, {"status": "in_progress"})[0]] == [second.pk]


def test_a_page_is_never_served_to_another_user(order, coach_user, other_coach, staff_user):
    assert len(mine(coach_user)[0]) == 1
    assert mine(other_coach)[0] == []
    assert [row["id"] for row in mine(staff_user)[0]] == [order.pk]  # staff: every order, uncached
