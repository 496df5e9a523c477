"""The thread page takes each message's HTML from the cache when that viewer saw it in that state
before: a revisit renders no message partial, and nothing it shows can be stale or another viewer's."""

import re

import pytest
from django.urls import reverse

from messaging import services

pytestmark = pytest.mark.django_db

PARTIAL = "messaging/partials/message.html"


def page(client, user, thread):
    client.force_login(user)
    response = client.get(reverse("messaging:detail", args=[thread.pk]))
    assert response.status_code == 200
    return response


def chat_log(response) -> str:
    html = response.content.decode()
    found = re.search(r'<div class="chat-log".*?</div>\s*<div class="chat-typing', html, re.S)
    assert found
    return found.group(0)


def partials_rendered(response) -> int:
    return sum(1 for t in response.templates if t.name == PARTIAL)


def test_a_revisit_renders_only_the_pending_bubble_and_shows_the_same(client, thread, client_user, coach_user):
    for n in range(3):
        services.send_message(thread, actor=coach_user, body=f"Note {n} https://example.com/{n}")
    services.send_message(thread, actor=client_user, body="Thanks")
    first = page(client, client_user, thread)
    assert partials_rendered(first) == 1 + 4  # the <template> bubble chat.js clones, then each message
    again = page(client, client_user, thread)
    assert partials_rendered(again) == 1
    assert chat_log(again) == chat_log(first)


def test_each_viewer_gets_their_own_rendering(client, thread, client_user, coach_user):
    services.send_message(thread, actor=coach_user, body="From the coach")
    coach_view = chat_log(page(client, coach_user, thread))
    client_view = chat_log(page(client, client_user, thread))
    assert coach_view != client_view
    assert "You" in coach_view and coach_user.display_name not in coach_view
    assert coach_user.display_name in client_view and ">You<" not in client_view


def test_the_other_partys_read_mark_turns_sent_into_read(client, thread, client_user, coach_user):
    services.send_message(thread, actor=client_user, body="Did you get my CV?")
    assert "Sent" in chat_log(page(client, client_user, thread))
    services.mark_read(thread, actor=coach_user)
    log = chat_log(page(client, client_user, thread))
    assert "Read" in log and "Sent" not in log


def test_a_renamed_sender_shows_under_the_new_name(client, thread, client_user, coach_user):
    services.send_message(thread, actor=coach_user, body="Hello")
    assert coach_user.display_name in chat_log(page(client, client_user, thread))
    type(coach_user).objects.filter(pk=coach_user.pk).update(first_name="Renamed", last_name="Coach")
    assert "Renamed Coach" in chat_log(page(client, client_user, thread))
