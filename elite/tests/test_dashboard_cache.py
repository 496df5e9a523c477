"""Dashboards read each user's recent threads and notifications from the cache, and a new
message, read mark or notification shows on the very next visit."""

import re

import pytest

from messaging import services as messaging
from notifications.services import notify

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("who", ["client", "coach"])
def test_a_repeat_visit_skips_the_thread_and_notification_queries(
    client, paid_order, client_user, coach_user, who, django_assert_max_num_queries
):
    client.force_login(client_user if who == "client" else coach_user)
    with django_assert_max_num_queries(40) as cold:
        client.get("/dashboard/")
    with django_assert_max_num_queries(len(cold.captured_queries) - 2) as warm:
        assert client.get("/dashboard/").status_code == 200
    tables = " ".join(query["sql"] for query in warm.captured_queries)
    assert "messaging_messagethread" not in tables and 'notifications_notification"."text' not in tables


def test_a_new_message_and_its_read_mark_show_on_the_next_visit(
    client, paid_order, client_user, coach_user, django_capture_on_commit_callbacks
):
    thread = messaging.get_or_create_thread(paid_order)
    client.force_login(client_user)
    assert "First draft attached tomorrow" not in client.get("/dashboard/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        messaging.send_message(thread, actor=coach_user, body="First draft attached tomorrow")
    html = client.get("/dashboard/").content.decode()
    assert "First draft attached tomorrow" in html
    assert "chat-thread-unread" in html
    with django_capture_on_commit_callbacks(execute=True):
        messaging.mark_read(thread, actor=client_user)
    assert "chat-thread-unread" not in client.get("/dashboard/").content.decode()


def test_a_new_notification_shows_on_the_next_visit(client, paid_order, client_user):
    client.force_login(client_user)
    client.get("/dashboard/")
    notify(client_user, "test", "Your coach left a note on the timeline", email=False)
    assert "Your coach left a note on the timeline" in client.get("/dashboard/").content.decode()


def _order_rows_rendered(response) -> int:
    return sum(1 for t in response.templates if t.name == "dashboards/_order_row.html")


@pytest.mark.parametrize("who", ["client", "coach"])
def test_a_row_is_rendered_once_per_shape_and_a_status_change_shows_at_once(
    client, paid_order, client_user, coach_user, who
):
    """In a fresh process the first row of a shape is rendered twice (its form, and the real row the first fill
    is checked against); a revisit renders none, nor does a miss of the same rows (filled in from the form). A
    status change is another shape, and shows on the next visit."""
    from core import fragments
    from core.pages import users_changed
    from orders import services as orders

    fragments._slotted_forms.clear()
    user = client_user if who == "client" else coach_user
    client.force_login(user)
    first = client.get("/dashboard/")
    assert _order_rows_rendered(first) == 2 and f'data-order-id="{paid_order.pk}"' in first.content.decode()
    assert _order_rows_rendered(client.get("/dashboard/")) == 0
    users_changed(user.pk)
    again = client.get("/dashboard/")
    assert _order_rows_rendered(again) == 0 and f'data-order-id="{paid_order.pk}"' in again.content.decode()
    orders.deliver(paid_order.pk, actor=coach_user)
    delivered = client.get("/dashboard/")
    assert _order_rows_rendered(delivered) == 2
    row = re.search(rf'<a [^>]*data-order-id="{paid_order.pk}">.*?</a>', delivered.content.decode(), re.S).group(0)
    assert "Delivered" in row and "In progress" not in row


def test_the_coach_and_the_client_each_see_their_own_row(client, paid_order, client_user, coach_user):
    client.force_login(coach_user)
    coach_html = client.get("/dashboard/").content.decode()
    client.force_login(client_user)
    client_html = client.get("/dashboard/").content.decode()
    assert f"for {client_user.display_name}" in coach_html and f"with {coach_user.display_name}" not in coach_html
    assert f"with {coach_user.display_name}" in client_html and f"for {client_user.display_name}" not in client_html
