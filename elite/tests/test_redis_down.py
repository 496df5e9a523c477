"""The app pointed at a closed Redis port: pages keep working, limits keep counting, /ready says 503.

The cache (core.cache.RedisCache) degrades to a per-process memory cache with a warning; the chat
form saves the message and only its live push is skipped. Settings are overridden inside each test (not
with the `settings` fixture) so the shared cache fixture's teardown talks to the real Redis again.
"""

import logging
from contextlib import contextmanager

import pytest
from django.test import override_settings
from django.urls import reverse

from accounts.adapter import LOCKED_MESSAGE
from accounts.tests.factories import DEFAULT_PASSWORD
from core.tests.tcp_proxy import redis_outage
from files.tests.conftest import free_port
from messaging.models import Message, MessageThread

pytestmark = [pytest.mark.django_db, pytest.mark.faults]


@contextmanager
def redis_down():
    closed = f"redis://127.0.0.1:{free_port()}/0"  # bound and released: nothing listens there
    with override_settings(
        CACHES={"default": {"BACKEND": "ops.cache.CountedRedisCache", "LOCATION": closed, "KEY_PREFIX": "down"}},
        CHANNEL_LAYERS={
            "default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [closed]}}
        },
    ):
        yield


def test_login_works_and_says_redis_is_down_in_the_log(client, client_user, caplog):
    with redis_down(), caplog.at_level(logging.WARNING, logger="core.cache"):
        response = client.post("/accounts/login/", {"login": client_user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(client_user.pk)
    assert "Redis unreachable" in caplog.text


def test_the_login_lockout_still_counts_per_process(client, client_user):
    with redis_down():
        for _ in range(5):
            client.post("/accounts/login/", {"login": client_user.email, "password": "not-my-password"})
        response = client.post("/accounts/login/", {"login": client_user.email, "password": DEFAULT_PASSWORD})
    assert LOCKED_MESSAGE.split(":")[0] in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_coach_directory_answers(client, coach_user):
    with redis_down():
        response = client.get(reverse("coaches:directory"))
    assert response.status_code == 200


def test_a_chat_message_posted_by_form_is_saved_and_shown(client, client_user, order):
    thread = MessageThread.objects.get(order=order)
    client.force_login(client_user)
    with redis_down():
        response = client.post(reverse("messaging:messages", args=[thread.pk]), {"body": "Redis is down, hello"})
        assert response.status_code == 302
        page = client.get(reverse("messaging:detail", args=[thread.pk]))
    assert Message.objects.filter(thread=thread, body="Redis is down, hello").exists()
    assert "Redis is down, hello" in page.content.decode()


def test_the_chat_rate_limit_still_applies(client, client_user, order, settings):
    settings.CHAT_RATE_LIMIT_COUNT = 2
    thread = MessageThread.objects.get(order=order)
    client.force_login(client_user)
    url = reverse("messaging:messages", args=[thread.pk])
    with redis_down():
        statuses = [client.post(url, {"body": f"message {n}"}).status_code for n in range(3)]
    assert statuses == [302, 302, 429]


def test_ready_still_answers_503(client):
    with redis_down():
        response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"] == "error"


def test_cached_signed_in_pages_still_answer_and_show_each_write(client, client_user, paid_order):
    """core.pages reads and stores through the degrading cache: the page is rendered, then served from the
    per-process fallback, and a notification written meanwhile still shows on the next visit."""
    from notifications.services import notify

    client.force_login(client_user)
    with redis_down():
        assert client.get("/dashboard/").status_code == 200
        assert client.get(f"/orders/{paid_order.pk}/").status_code == 200
        notify(client_user, "test", "Written while Redis was down", email=False)
        response = client.get("/dashboard/")
    assert response.status_code == 200
    assert "Written while Redis was down" in response.content.decode()


def test_a_write_made_while_redis_was_away_shows_once_it_is_back(client, client_user, paid_order, monkeypatch):
    """The dashboard and order page cached in Redis before an outage; a notification and a status change written
    during it; once Redis answers again both pages show them (the outage's version bumps were sent first), not
    Redis's copies from before."""
    from notifications.services import notify
    from orders import services as orders

    client.force_login(client_user)
    with redis_outage(monkeypatch) as proxy:
        assert "Written while Redis was away" not in client.get("/dashboard/").content.decode()
        before = client.get(f"/orders/{paid_order.pk}/").content.decode()
        proxy.cut()
        notify(client_user, "test", "Written while Redis was away", email=False)
        orders.open_dispute(paid_order.pk, actor=client_user, reason="The draft never came")
        proxy.restore()
        dashboard = client.get("/dashboard/").content.decode()
        order_page = client.get(f"/orders/{paid_order.pk}/").content.decode()
    assert "Written while Redis was away" in dashboard
    assert "The draft never came" not in before and "The draft never came" in order_page
