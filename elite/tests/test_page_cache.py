"""Whole pages of a signed-in user come from the cache (core.pages) until something they show changes:
a revisit runs no query but the user's row, and every write that changes a page shows on the next visit,
whoever made it. The CSRF token and a form's idempotency key are new on every visit."""

import re

import pytest
from django.test import Client

from accounts.models import User
from core import pages
from messaging import services as messaging
from notifications.services import notify
from orders import services as orders

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CLIENT_TOKEN = re.compile(r'name="client_token" value="([0-9a-f]{32})"')


def signed_in(user, **kwargs) -> Client:
    visitor = Client(**kwargs)
    visitor.force_login(user)
    return visitor


def same_page(one, other) -> bool:
    """The same page but for the values that are new on every visit (CSRF token, message key)."""
    return TOKEN.sub("", CLIENT_TOKEN.sub("", one.content.decode())) == TOKEN.sub(
        "", CLIENT_TOKEN.sub("", other.content.decode())
    )


def page_urls(order, thread) -> dict[str, str]:
    return {
        "dashboard": "/dashboard/",
        "order": f"/orders/{order.pk}/",
        "thread": f"/threads/{thread.pk}/",
        "inbox": "/notifications/",
        "receipts": "/payments/receipts/",
    }


@pytest.fixture
def thread(paid_order):
    return messaging.get_or_create_thread(paid_order)


def test_every_model_says_whether_a_cached_page_shows_it():
    assert pages.unclassified_models() == []


@pytest.mark.parametrize("name", ["dashboard", "order", "thread", "inbox", "receipts"])
@pytest.mark.parametrize("who", ["client", "coach"])
def test_a_revisit_reads_only_the_user(
    name, who, paid_order, thread, client_user, coach_user, django_assert_max_num_queries
):
    if who == "coach" and name == "receipts":
        pytest.skip("receipts are the client's page")
    url = page_urls(paid_order, thread)[name]
    visitor = signed_in(client_user if who == "client" else coach_user)
    first = visitor.get(url)
    assert first.status_code == 200
    with django_assert_max_num_queries(1) as revisit:  # the session's user; the session is in the cache
        again = visitor.get(url)
    assert again.status_code == 200
    assert all("accounts_user" in q["sql"] for q in revisit.captured_queries)
    assert same_page(again, first)


def test_staff_analytics_revisit_reads_only_the_user(staff_user, django_assert_max_num_queries):
    visitor = signed_in(staff_user)
    assert visitor.get("/staff/analytics/").status_code == 200
    with django_assert_max_num_queries(1):
        assert visitor.get("/staff/analytics/").status_code == 200


def test_the_other_partys_moves_show_on_the_next_visit(paid_order, thread, client_user, coach_user):
    visitor = signed_in(client_user)
    for url in page_urls(paid_order, thread).values():
        visitor.get(url)
    orders.deliver(paid_order.pk, actor=coach_user, note="Here is your new CV")
    messaging.send_message(thread, actor=coach_user, body="Tell me what you think of the summary")
    assert "Delivered" in visitor.get(f"/orders/{paid_order.pk}/").content.decode()
    assert "Tell me what you think of the summary" in visitor.get(f"/threads/{thread.pk}/").content.decode()
    dashboard = visitor.get("/dashboard/").content.decode()
    assert "Tell me what you think of the summary" in dashboard
    assert re.search(rf'data-order-id="{paid_order.pk}">.*?Delivered', dashboard, re.S)


def test_a_new_notification_shows_in_the_bell_and_the_inbox_at_once(client_user):
    visitor = signed_in(client_user)
    visitor.get("/notifications/")
    notify(client_user, "test", "Your coach replied to your comment", email=False)
    assert "Your coach replied to your comment" in visitor.get("/notifications/").content.decode()


def test_marking_read_shows_at_once(client_user):
    notify(client_user, "test", "Your order is due tomorrow", email=False)
    visitor = signed_in(client_user)
    assert "Mark read" in visitor.get("/notifications/").content.decode()
    visitor.post("/notifications/read/")
    assert "Mark read" not in visitor.get("/notifications/").content.decode()


def test_a_coach_renamed_shows_on_the_clients_pages(paid_order, client_user, coach_user):
    visitor = signed_in(client_user)
    assert coach_user.display_name in visitor.get(f"/orders/{paid_order.pk}/").content.decode()
    coach_user.first_name, coach_user.last_name = "Imogen", "Okafor-Reyes"
    coach_user.save()
    assert "Imogen Okafor-Reyes" in visitor.get(f"/orders/{paid_order.pk}/").content.decode()


def test_a_login_changes_no_page(client_user):
    visitor = signed_in(client_user)
    visitor.get("/dashboard/")
    User.objects.get(pk=client_user.pk).save(update_fields=["last_login"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("elite.dashboards.dashboard_context", lambda user: pytest.fail("rendered again"))
        assert visitor.get("/dashboard/").status_code == 200


def test_a_new_open_request_shows_on_every_matching_coachs_dashboard(client_user, coach_user, other_coach):
    from requests_app.tests.factories import ServiceRequestFactory

    visitors = [signed_in(coach_user), signed_in(other_coach)]  # both offer a CV (the factory's default)
    for visitor in visitors:
        visitor.get("/dashboard/")
    open_request = ServiceRequestFactory(client=client_user, coach=None, title="Open request for a CV rewrite")
    assert open_request.posted_open
    for visitor in visitors:
        assert "Open request for a CV rewrite" in visitor.get("/dashboard/").content.decode()


def test_each_user_gets_their_own_page_and_a_stranger_still_gets_404(paid_order, client_user, coach_user, other_client):
    url = f"/orders/{paid_order.pk}/"
    client_html = signed_in(client_user).get(url).content.decode()
    coach_html = signed_in(coach_user).get(url).content.decode()
    assert TOKEN.sub("", client_html) != TOKEN.sub("", coach_html)
    assert signed_in(other_client).get(url).status_code == 404


def test_staff_see_an_order_afresh(paid_order, staff_user, django_assert_max_num_queries):
    visitor = signed_in(staff_user)
    url = f"/orders/{paid_order.pk}/"
    visitor.get(url)
    with django_assert_max_num_queries(60) as again:
        visitor.get(url)
    assert len(again.captured_queries) > 1  # staff pages show others' rows: never from the cache


def test_a_cached_page_carries_a_fresh_csrf_token_that_works(paid_order, thread, client_user):
    visitor = signed_in(client_user, enforce_csrf_checks=True)
    url = f"/threads/{thread.pk}/"
    tokens = [TOKEN.search(visitor.get(url).content.decode()).group(1) for _ in range(3)]
    assert len(set(tokens)) == 3  # masked anew on every visit (BREACH), though the page came from the cache
    response = visitor.post(
        f"/threads/{thread.pk}/messages/", {"body": "Sent from a cached page", "csrfmiddlewaretoken": tokens[-1]}
    )
    assert response.status_code in (200, 302)
    assert thread.messages.filter(body="Sent from a cached page").exists()


def test_two_visits_of_a_cached_thread_never_share_a_message_key(thread, client_user):
    visitor = signed_in(client_user)
    url = f"/threads/{thread.pk}/"
    keys = {CLIENT_TOKEN.search(visitor.get(url).content.decode()).group(1) for _ in range(3)}
    assert len(keys) == 3  # two tabs of one cached page must not send under one idempotency key


def test_a_pending_flash_message_is_shown_once_and_never_stored(paid_order, client_user):
    from django.contrib.messages import constants
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.http import HttpResponse
    from django.test import RequestFactory

    visitor = signed_in(client_user)
    url = f"/orders/{paid_order.pk}/"
    visitor.get(url)  # cached without a message
    storage = CookieStorage(RequestFactory().get("/"))
    storage.add(constants.SUCCESS, "Your note was saved")
    carrier = HttpResponse()
    storage.update(carrier)
    visitor.cookies["messages"] = carrier.cookies["messages"].value
    shown = visitor.get(url)
    assert "Your note was saved" in shown.content.decode()  # not the cached page: the message shows
    again = visitor.get(url).content.decode()
    assert "Your note was saved" not in again  # nor was the page with the message stored


def test_the_token_of_a_cached_pages_miss_and_of_its_hit_each_let_a_form_post(paid_order, thread, client_user):
    """The page's token is made by core.csrf (settings' context processor): posted from a miss or a hit, it passes
    Django's CSRF check."""
    visitor = signed_in(client_user, enforce_csrf_checks=True)
    url = f"/threads/{thread.pk}/"
    for visit in ("miss", "hit"):
        if visit == "miss":
            pages.users_changed(client_user.pk)
        html = visitor.get(url).content.decode()
        token = html.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
        body = f"Sent from a {visit}"
        response = visitor.post(f"/threads/{thread.pk}/messages/", {"body": body, "csrfmiddlewaretoken": token})
        assert response.status_code in (200, 302), visit
        assert thread.messages.filter(body=body).exists()
