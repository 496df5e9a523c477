"""The three dashboards: what each role sees, with query counts that do not grow with rows."""

import pytest

from orders import services
from orders.tests.factories import make_order
from requests_app.tests.factories import ServiceRequestFactory

pytestmark = pytest.mark.django_db


def _grow(client_user, coach_user, n):
    for _ in range(n):
        order = make_order(client=client_user, coach=coach_user)
        services.mark_paid(order.pk, actor=None)
        ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile)
        ServiceRequestFactory(client=client_user, coach=None)


def test_client_dashboard_shows_orders_waiting_for_and_requests(client, order, client_user, coach_user):
    pending_request = ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile, title="Cover letter")
    client.force_login(client_user)
    html = client.get("/dashboard/").content.decode()
    assert f'data-order-id="{order.pk}"' in html
    assert "Waiting for your payment" in html
    assert f'data-request-id="{pending_request.pk}"' in html
    assert "Upload your CV" in html
    assert "accepted your request" in html  # recent notification


def test_coach_dashboard_shows_incoming_jobs_and_rating(client, paid_order, client_user, coach_user):
    incoming = ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile)
    open_one = ServiceRequestFactory(client=client_user, coach=None)
    client.force_login(coach_user)
    html = client.get("/dashboard/").content.decode()
    assert f'data-request-id="{incoming.pk}"' in html and f'data-request-id="{open_one.pk}"' in html
    assert f'data-order-id="{paid_order.pk}"' in html
    assert "Waiting for your delivery" in html
    assert 'data-stat="incoming">2<' in html
    assert "No reviews yet" in html


def test_staff_dashboard_counts_and_disputes(client, paid_order, staff_user):
    services.open_dispute(paid_order.pk, actor=paid_order.client, reason="Late and incomplete")
    ServiceRequestFactory(coach=None)
    client.force_login(staff_user)
    html = client.get("/dashboard/").content.decode()
    assert 'data-stat="disputes">1<' in html
    assert f'data-order-id="{paid_order.pk}"' in html
    assert "Requests by status" in html and "Orders by status" in html


@pytest.mark.parametrize("who", ["client", "coach", "staff"])
def test_dashboard_query_count_does_not_grow(
    client, client_user, coach_user, staff_user, who, django_assert_max_num_queries
):
    user = {"client": client_user, "coach": coach_user, "staff": staff_user}[who]
    _grow(client_user, coach_user, 1)
    client.force_login(user)
    with django_assert_max_num_queries(40) as few:
        assert client.get("/dashboard/").status_code == 200
    _grow(client_user, coach_user, 12)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/dashboard/").status_code == 200
