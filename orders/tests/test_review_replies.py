"""A coach answers reviews where they meet them: on the dashboard and on their own public page."""

import pytest
from django.test import Client

from orders import services
from orders.models import Review


@pytest.fixture
def reviewed(paid_order, coach_user):
    services.deliver(paid_order.pk, actor=coach_user, note="Done")
    services.accept_delivery(paid_order.pk, actor=paid_order.client)
    services.submit_review(paid_order.pk, actor=paid_order.client, rating=4, comment="Good, a little slow.")
    return Review.objects.get(order=paid_order)


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_coach_dashboard_lists_reviews_waiting_for_a_reply_and_replies_from_there(reviewed, coach_user):
    coach = logged_in(coach_user)
    html = coach.get("/dashboard/").content.decode()
    assert "Reviews waiting for your reply" in html and "Good, a little slow." in html
    response = coach.post(f"/orders/{reviewed.order_id}/review/reply/", {"reply": "Thank you!", "next": "/dashboard/"})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    reviewed.refresh_from_db()
    assert reviewed.reply == "Thank you!"
    assert "Reviews waiting for your reply" not in coach.get("/dashboard/").content.decode()


@pytest.mark.django_db
def test_a_reply_never_redirects_off_the_site(reviewed, coach_user):
    response = logged_in(coach_user).post(
        f"/orders/{reviewed.order_id}/review/reply/", {"reply": "Thanks", "next": "https://evil.example/"}
    )
    assert response["Location"] == f"/orders/{reviewed.order_id}/"


@pytest.mark.django_db
def test_only_the_coach_sees_reply_forms_on_their_public_page_and_the_cache_never_holds_them(
    reviewed, coach_user, client_user, django_capture_on_commit_callbacks
):
    url = f"/coaches/{reviewed.coach_id}/"
    anonymous = Client().get(url).content.decode()  # fills the page cache
    assert "Good, a little slow." in anonymous and "Reply publicly to this review" not in anonymous
    own = logged_in(coach_user).get(url).content.decode()
    assert "Reply publicly to this review" in own
    assert "Reply publicly to this review" not in Client().get(url).content.decode()
    assert "Reply publicly to this review" not in logged_in(client_user).get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # the reply makes the cached page stale on commit
        response = logged_in(coach_user).post(
            f"/orders/{reviewed.order_id}/review/reply/",
            {"reply": "Thanks for the fair words.", "next": f"{url}#reviews"},
        )
    assert response["Location"] == f"{url}#reviews"
    assert "Thanks for the fair words." in Client().get(url).content.decode()


@pytest.mark.django_db
def test_the_owner_rendering_first_does_not_leak_forms_into_the_cache(reviewed, coach_user):
    url = f"/coaches/{reviewed.coach_id}/"
    assert "Reply publicly to this review" in logged_in(coach_user).get(url).content.decode()
    assert "Reply publicly to this review" not in Client().get(url).content.decode()
