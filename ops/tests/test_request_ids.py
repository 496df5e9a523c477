"""The request id travels: into task headers, staff alert emails and the 500 page."""

from __future__ import annotations

import json
import time
import warnings

import pytest
import redis
from django.conf import settings
from django.core import mail
from django.test import Client, RequestFactory

from conftest import port_open, require_service
from core.http import bind_request_id, current_request_id, unbind_request_id
from payments.providers import test_provider


def test_a_task_queued_during_a_request_carries_its_id_and_publish_time():
    require_service("Redis", bool(settings.REDIS_URL) and port_open("127.0.0.1", 6379), "set REDIS_URL")
    from elite.celery import app

    queue = f"{settings.CACHE_KEY_PREFIX}-headers-test"
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(queue)
    token = bind_request_id("req-queued-1")
    try:
        with app.connection_for_write(settings.REDIS_URL) as connection, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # send_task always publishes, eager or not: that is the point
            app.send_task("payments.tasks.reconcile_ledger", queue=queue, connection=connection)
    finally:
        unbind_request_id(token)
    raw = client.lindex(queue, -1)
    client.delete(queue)
    headers = json.loads(raw)["headers"]
    assert headers["request_id"] == "req-queued-1"
    assert abs(time.time() - headers["published_at"]) < 60


@pytest.mark.django_db
def test_a_task_binds_the_request_id_from_its_headers_while_it_runs():
    from celery import shared_task

    seen = []

    @shared_task(name="ops.tests.record_request_id")
    def record_request_id():
        seen.append(current_request_id())

    record_request_id.apply(headers={"request_id": "req-origin-5"})
    record_request_id.apply()  # beat-started: its own task id
    assert seen[0] == "req-origin-5"
    assert seen[1] not in ("-", "req-origin-5")
    assert current_request_id() == "-"


@pytest.mark.django_db
def test_a_staff_alert_email_names_the_request(settings, staff_user, django_capture_on_commit_callbacks):
    settings.STAFF_ALERT_EMAILS = ["ops@example.com"]
    payload = test_provider.build_event("payment.succeeded", payment="tp_missing", amount=100, currency="GBP")
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            "/payments/webhooks/test/",
            data=payload,
            content_type="application/json",
            headers={"Test-Signature": test_provider.sign(payload), "X-Request-ID": "req-webhook-77"},
        )
    assert response.status_code == 500
    (alert,) = [m for m in mail.outbox if "ops@example.com" in m.to]
    assert "Request id (for the logs and Sentry): req-webhook-77" in alert.body


@pytest.mark.django_db
def test_the_500_page_shows_the_request_id():
    from elite.views import error_500

    request = RequestFactory().get("/")
    request.request_id = "req-broken-3"
    response = error_500(request)
    assert response.status_code == 500
    assert b"req-broken-3" in response.content
