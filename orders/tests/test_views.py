"""Order pages: lists per role, the detail page with its actions, and each action's POST view."""

import datetime

import pytest

from orders import services
from orders.models import Order, OrderStatus
from orders.tests.factories import make_order

pytestmark = pytest.mark.django_db


def _actions(html):
    return {
        name
        for name, marker in {
            "cancel": "/cancel/",
            "deliver": "/deliver/",
            "request_revision": "/revision/",
            "accept_delivery": "/accept/",
            "open_dispute": "/dispute/",
        }.items()
        if 'action="/orders/' in html and marker + '"' in html
    }


def test_each_party_sees_only_their_orders(client, order, client_user, coach_user, other_client, other_coach):
    theirs = make_order(client=other_client, coach=other_coach, title="Not yours")
    for user in (client_user, coach_user):
        client.force_login(user)
        html = client.get("/orders/").content.decode()
        assert f'data-order-id="{order.pk}"' in html
        assert f'data-order-id="{theirs.pk}"' not in html


def test_status_tabs_filter_and_unknown_values_are_ignored(client, order, paid_order, client_user, coach_user):
    other = make_order(client=client_user, coach=coach_user)
    client.force_login(client_user)
    html = client.get("/orders/?status=in_progress").content.decode()
    assert f'data-order-id="{paid_order.pk}"' in html
    assert f'data-order-id="{other.pk}"' not in html
    response = client.get("/orders/?status=nonsense")
    assert response.status_code == 200
    assert "Unknown status filter ignored" in response.content.decode()
    assert f'data-order-id="{other.pk}"' in response.content.decode()


def test_order_list_query_count_does_not_grow(client, client_user, coach_user, django_assert_max_num_queries):
    make_order(client=client_user, coach=coach_user)
    client.force_login(client_user)
    with django_assert_max_num_queries(12) as few:
        assert client.get("/orders/").status_code == 200
    for _ in range(12):
        make_order(client=client_user, coach=coach_user)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/orders/").status_code == 200
    client.force_login(coach_user)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/orders/?status=active").status_code == 200


def test_detail_query_count_does_not_grow_with_history(client, order, django_assert_max_num_queries):
    services.mark_paid(order.pk, actor=None)
    services.deliver(order.pk, actor=order.coach, note="v1")
    client.force_login(order.client)
    with django_assert_max_num_queries(25) as few:
        assert client.get(f"/orders/{order.pk}/").status_code == 200
    services.request_revision(order.pk, actor=order.client, note="Please shorten")
    services.deliver(order.pk, actor=order.coach, note="v2")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(f"/orders/{order.pk}/").status_code == 200


def test_someone_elses_order_is_404(client, order, other_client, other_coach):
    for user in (other_client, other_coach):
        client.force_login(user)
        assert client.get(f"/orders/{order.pk}/").status_code == 404
        assert client.post(f"/orders/{order.pk}/cancel/").status_code == 404
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


def test_staff_can_open_any_order_and_are_pointed_to_the_console(client, order, staff_user):
    services.mark_paid(order.pk, actor=None)
    services.open_dispute(order.pk, actor=order.client, reason="The coach went silent")
    client.force_login(staff_user)
    html = client.get(f"/orders/{order.pk}/").content.decode()
    assert f"/admin/orders/order/{order.pk}/change/" in html
    assert "What you can do now" not in html  # resolution is a console action, not a button here


def test_anonymous_is_sent_to_login(client, order):
    response = client.get(f"/orders/{order.pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_page_shows_only_the_viewers_actions(client, order):
    client.force_login(order.client)
    assert _actions(client.get(f"/orders/{order.pk}/").content.decode()) == {"cancel"}
    services.mark_paid(order.pk, actor=None)
    client.force_login(order.coach)
    assert _actions(client.get(f"/orders/{order.pk}/").content.decode()) == {"deliver", "open_dispute"}
    services.deliver(order.pk, actor=order.coach)
    assert _actions(client.get(f"/orders/{order.pk}/").content.decode()) == {"open_dispute"}
    client.force_login(order.client)
    assert _actions(client.get(f"/orders/{order.pk}/").content.decode()) == {
        "request_revision",
        "accept_delivery",
        "open_dispute",
    }


def test_timeline_lists_every_event(client, order):
    services.mark_paid(order.pk, note="Paid by card", actor=None)
    services.deliver(order.pk, actor=order.coach, note="First version attached")
    client.force_login(order.client)
    html = client.get(f"/orders/{order.pk}/").content.decode()
    assert html.count('<li data-kind="') == 3
    for text in ("Request accepted, order created", "Payment received", "Delivered", "First version attached"):
        assert text in html
    assert 'data-delivery="1"' in html


def test_full_flow_through_the_post_views(csrf_client, order):
    services.mark_paid(order.pk, actor=None)
    csrf_client.force_login(order.coach)
    csrf_client.get(f"/orders/{order.pk}/")
    token = csrf_client.cookies["csrftoken"].value
    assert (
        csrf_client.post(f"/orders/{order.pk}/deliver/", {"csrfmiddlewaretoken": token, "note": "v1"}).status_code
        == 302
    )
    csrf_client.force_login(order.client)
    csrf_client.get(f"/orders/{order.pk}/")
    token = csrf_client.cookies["csrftoken"].value
    response = csrf_client.post(
        f"/orders/{order.pk}/revision/", {"csrfmiddlewaretoken": token, "note": "Please add my volunteering"}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PROGRESS and order.revisions_used == 1
    services.deliver(order.pk, actor=order.coach, note="v2")
    assert csrf_client.post(f"/orders/{order.pk}/accept/", {"csrfmiddlewaretoken": token}).status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert list(order.deliveries.values_list("number", flat=True)) == [1, 2]


def test_action_without_csrf_token_is_refused(csrf_client, order):
    csrf_client.force_login(order.client)
    assert csrf_client.post(f"/orders/{order.pk}/cancel/").status_code == 403
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


@pytest.mark.parametrize(
    ("url", "who", "data"),
    [
        ("deliver", "client", {}),
        ("accept", "coach", {}),
        ("revision", "coach", {"note": "Please change the summary"}),
    ],
)
def test_wrong_actor_gets_403_and_nothing_changes(client, order, url, who, data):
    services.mark_paid(order.pk, actor=None)
    services.deliver(order.pk, actor=order.coach)
    if url == "deliver":
        services.request_revision(order.pk, actor=order.client, note="again please")
    order.refresh_from_db()
    before = (order.status, order.events.count())
    client.force_login(getattr(order, who))
    assert client.post(f"/orders/{order.pk}/{url}/", data).status_code == 403
    order.refresh_from_db()
    assert (order.status, order.events.count()) == before


@pytest.mark.parametrize(
    ("url", "who", "data"),
    [
        ("deliver", "coach", {}),
        ("accept", "client", {}),
        ("revision", "client", {"note": "Please change the summary"}),
        ("dispute", "client", {"note": "This is not what I asked for"}),
    ],
)
def test_wrong_state_gets_409_and_nothing_changes(client, order, url, who, data):
    before = (order.status, order.events.count())
    client.force_login(getattr(order, who))
    response = client.post(f"/orders/{order.pk}/{url}/", data)
    assert response.status_code == 409
    assert "awaiting payment" in response.content.decode()
    order.refresh_from_db()
    assert (order.status, order.events.count()) == before


def test_cancel_after_payment_is_409(client, paid_order):
    client.force_login(paid_order.client)
    assert client.post(f"/orders/{paid_order.pk}/cancel/", {"note": "nope"}).status_code == 409
    paid_order.refresh_from_db()
    assert paid_order.status == OrderStatus.IN_PROGRESS


def test_revision_and_dispute_need_a_note(client, order):
    services.mark_paid(order.pk, actor=None)
    services.deliver(order.pk, actor=order.coach)
    client.force_login(order.client)
    assert client.post(f"/orders/{order.pk}/revision/", {"note": ""}).status_code == 400
    assert client.post(f"/orders/{order.pk}/dispute/", {"note": "short"}).status_code == 400
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED and order.revisions_used == 0


def test_dispute_from_the_page(client, paid_order):
    client.force_login(paid_order.coach)
    response = client.post(f"/orders/{paid_order.pk}/dispute/", {"note": "Client stopped answering for weeks"})
    assert response.status_code == 302
    assert Order.objects.get(pk=paid_order.pk).status == OrderStatus.DISPUTED


def test_json_callers_get_json_errors(client, order):
    client.force_login(order.client)
    response = client.post(f"/orders/{order.pk}/accept/", HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    assert "error" in response.json()


def test_finished_orders_show_when_they_ended_not_a_due_date(client, paid_order, coach_user):
    from orders import services as order_services

    order_services.deliver(paid_order.pk, actor=coach_user, note="Done")
    order_services.accept_delivery(paid_order.pk, actor=paid_order.client)
    client.force_login(paid_order.client)

    listing = client.get("/orders/").content.decode()
    page = client.get(f"/orders/{paid_order.pk}/").content.decode()

    for html in (listing, page):
        assert "completed " in html and f"due {paid_order.deadline:%-d %b %Y}" not in html


@pytest.mark.django_db
def test_a_delivered_order_says_when_it_completes_by_itself(client, paid_order, coach_user, settings):
    from orders import services

    settings.ORDER_AUTO_COMPLETE_DAYS = 5
    services.deliver(paid_order.pk, actor=coach_user, note="Done")
    paid_order.refresh_from_db()
    when = paid_order.completes_by_itself_at
    assert when == paid_order.delivered_at + datetime.timedelta(days=5)
    client.force_login(paid_order.client)
    html = client.get(f"/orders/{paid_order.pk}/").content.decode()
    assert f"completes by itself on {when:%-d %b %Y}" in html
    assert "Yes, accept and pay the coach" in html
    client.force_login(coach_user)
    assert f"completes by itself on {when:%-d %b %Y}" in client.get(f"/orders/{paid_order.pk}/").content.decode()


@pytest.mark.django_db
def test_only_a_delivered_order_completes_by_itself(paid_order):
    assert paid_order.completes_by_itself_at is None


@pytest.mark.django_db
def test_accepting_goes_straight_to_the_review_form(client, paid_order, coach_user):
    from orders import services

    services.deliver(paid_order.pk, actor=coach_user, note="Done")
    client.force_login(paid_order.client)
    response = client.post(f"/orders/{paid_order.pk}/accept/")
    assert response.status_code == 302 and response["Location"] == f"/orders/{paid_order.pk}/"
    html = client.get(f"/orders/{paid_order.pk}/").content.decode()
    assert html.index("How did it go?") < html.index("Deliveries")


@pytest.mark.django_db
def test_the_current_step_says_what_is_happening_now(paid_order, coach_user):
    from orders import services
    from orders.views import order_steps

    assert order_steps(paid_order)[2] == ("In progress", "current")
    services.deliver(paid_order.pk, actor=coach_user, note="Done")
    paid_order.refresh_from_db()
    assert order_steps(paid_order)[2:] == [("Delivered", "done"), ("Awaiting acceptance", "current")]


@pytest.mark.parametrize("status", ["pending", "in_progress", "delivered"])
def test_a_page_of_an_order_no_dispute_can_have_reached_asks_nothing_about_disputes(
    client, client_user, coach_user, status
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    order = make_order(client=client_user, coach=coach_user)
    Order.objects.filter(pk=order.pk).update(status=status)
    client.force_login(client_user)
    with CaptureQueriesContext(connection) as page:
        assert client.get(f"/orders/{order.pk}/").status_code == 200
    assert not [q["sql"] for q in page.captured_queries if "'disputed'" in q["sql"] or "disputestatement" in q["sql"]]


ACTION_URLS = ["cancel", "deliver", "revision", "accept", "dispute", "dispute/statement", "review", "review/reply"]


@pytest.mark.parametrize("action", ACTION_URLS)
def test_opening_an_action_url_leads_back_to_the_order_and_changes_nothing(client, paid_order, client_user, action):
    """A GET of an action (a login's `next` after the session ended with a form open, a typed URL) is sent to the
    order page with a note, not a bare 405; other methods still get 405."""
    from core.http import NOTHING_SENT

    before = (paid_order.status, paid_order.events.count(), paid_order.deliveries.count())
    client.force_login(client_user)
    response = client.get(f"/orders/{paid_order.pk}/{action}/", follow=True)
    assert response.redirect_chain == [(f"/orders/{paid_order.pk}/", 302)]
    assert NOTHING_SENT in response.content.decode()
    assert client.put(f"/orders/{paid_order.pk}/{action}/").status_code == 405
    paid_order.refresh_from_db()
    assert (paid_order.status, paid_order.events.count(), paid_order.deliveries.count()) == before


def test_after_logging_in_from_an_action_url_the_order_page_opens(client, paid_order, client_user):
    from accounts.tests.factories import DEFAULT_PASSWORD

    url = f"/orders/{paid_order.pk}/revision/"
    login = client.get(url)
    assert login.status_code == 302 and login.url.startswith("/accounts/login/")
    response = client.post(login.url, {"login": client_user.email, "password": DEFAULT_PASSWORD}, follow=True)
    assert response.redirect_chain[-1] == (f"/orders/{paid_order.pk}/", 302)
    assert response.status_code == 200


def test_someone_elses_action_url_still_answers_404(client, paid_order, other_client):
    client.force_login(other_client)
    response = client.get(f"/orders/{paid_order.pk}/accept/", follow=True)
    assert response.status_code == 404


def test_on_a_phone_the_waiting_banner_links_down_to_the_actions(client, paid_order, client_user, coach_user):
    services.deliver(paid_order.pk, actor=coach_user, note="Here it is")
    client.force_login(client_user)
    html = client.get(f"/orders/{paid_order.pk}/").content.decode()
    assert 'href="#order-actions"' in html and 'id="order-actions"' in html
    completed = make_order(client=client_user, coach=coach_user)
    services.cancel_order(completed.pk, actor=client_user)
    assert 'href="#order-actions"' not in client.get(f"/orders/{completed.pk}/").content.decode()  # nothing to do


def test_the_progress_bar_is_printed_as_its_template_loop_printed_it():
    """order_steps_html (made once per status, payment, delivery and language) is what detail.html's loop over
    order_steps printed, for every status with and without a payment and a delivery."""
    from django.template import Context, Template
    from django.utils import timezone

    from orders.models import Order, OrderStatus
    from orders.views import order_steps, order_steps_html

    loop = Template(
        '{% for label, state in steps %}<li class="{{ state }}"{% if state == "current" %} aria-current="step"'
        "{% endif %}>{{ label }}</li>{% endfor %}"
    )
    now = timezone.now()
    for status in OrderStatus.values:
        for paid_at in (None, now):
            for delivered_at in (None, now):
                order = Order(status=status, paid_at=paid_at, delivered_at=delivered_at)
                printed = loop.render(Context({"steps": order_steps(order)}))
                assert order_steps_html(order) == printed == order_steps_html(order)
                assert printed.count("<li ") == 4
