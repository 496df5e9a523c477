"""messaging on the API: threads and messages for the parties, staff, strangers and anonymous."""

import pytest

from core.tests.api import API, assert_problem, client_for
from messaging import services
from messaging.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def thread(order):
    return services.get_or_create_thread(order)


def test_a_party_opens_the_orders_thread_once(order, client_user, other_client):
    first = client_for(client_user).post(f"{API}threads", {"order_id": order.pk}, format="json")
    again = client_for(client_user).post(f"{API}threads", {"order_id": order.pk}, format="json")
    assert first.status_code in (200, 201) and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert_problem(client_for(other_client).post(f"{API}threads", {"order_id": order.pk}, format="json"), 404)


def test_threads_lists_mine_with_unread_counts(thread, client_user, coach_user, other_coach, staff_user):
    services.send_message(thread, actor=coach_user, body="Hello, I have started.")
    rows = client_for(client_user).get(f"{API}threads").json()["results"]
    assert [(r["id"], r["unread"]) for r in rows] == [(thread.pk, 1)]
    assert [r["id"] for r in client_for(staff_user).get(f"{API}threads").json()["results"]] == [thread.pk]
    assert client_for(other_coach).get(f"{API}threads").json()["results"] == []
    assert_problem(client_for().get(f"{API}threads"), 401)


def test_messages_page_newest_first_by_cursor(thread, client_user, coach_user, settings):
    settings.CHAT_RATE_LIMIT_COUNT = 100
    for n in range(5):
        services.send_message(thread, actor=coach_user if n % 2 else client_user, body=f"message {n}")
    seen, url = [], f"{API}threads/{thread.pk}/messages?page_size=2"
    while url:
        body = client_for(client_user).get(url).json()
        seen += [m["body"] for m in body["results"]]
        url = body["next"]
    assert seen == [f"message {n}" for n in reversed(range(5))]


def test_parties_send_and_strangers_get_404(thread, client_user, other_client, staff_user):
    url = f"{API}threads/{thread.pk}/messages"
    response = client_for(client_user).post(url, {"body": "Any news?", "client_token": "t-1"}, format="json")
    assert response.status_code == 201 and response.json()["body"] == "Any news?"
    resent = client_for(client_user).post(url, {"body": "Any news?", "client_token": "t-1"}, format="json")
    assert resent.json()["id"] == response.json()["id"] and Message.objects.count() == 1
    assert_problem(client_for(other_client).post(url, {"body": "hi"}, format="json"), 404)
    assert_problem(client_for(other_client).get(url), 404)
    moderated = client_for(staff_user).post(url, {"body": "Staff here."}, format="json")
    assert moderated.json()["is_moderator"] is True


def test_bad_messages_are_refused_with_the_services_words(thread, client_user, settings):
    url = f"{API}threads/{thread.pk}/messages"
    api = client_for(client_user)
    assert "Write a message" in assert_problem(api.post(url, {"body": "  "}, format="json"), 400)["detail"]
    settings.CHAT_MAX_MESSAGE_LENGTH = 10
    assert_problem(api.post(url, {"body": "x" * 11}, format="json"), 400)
    assert "attachment_ids" in assert_problem(api.post(url, {"attachment_ids": [99999]}, format="json"), 400)["fields"]
    settings.CHAT_RATE_LIMIT_COUNT = 1
    settings.CHAT_MAX_MESSAGE_LENGTH = 4000
    assert api.post(url, {"body": "one"}, format="json").status_code == 201
    limited = api.post(url, {"body": "two"}, format="json")
    assert_problem(limited, 429) and limited["Retry-After"]
