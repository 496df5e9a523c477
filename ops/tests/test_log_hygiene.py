"""Logs stay useful and clean: a run of many flows, every line of a request with its id, and not one
email address, token or card-like number in any of them."""

from __future__ import annotations

import logging
import re

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils.module_loading import import_string

from ops.sentry import CARD, EMAIL
from ops.tests.suite_logs import _SuiteLogs, production_json_formatter, read_process_logs
from payments.models import Payment
from payments.providers import test_provider

PASSWORD = "correct-horse-battery-77"


class Captured(logging.Handler):
    """A root handler like production's console handler: its filters (settings.LOGGING), then the line kept."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        config: dict = django_settings.LOGGING
        for name in config["handlers"]["console"]["filters"]:
            self.addFilter(import_string(config["filters"][name]["()"])())
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s [%(request_id)s] %(message)s"))
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((self.format(record), record.request_id))  # type: ignore[attr-defined]


@pytest.fixture
def captured():
    handler = Captured()
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(previous)


def signed_post(payload: bytes, **headers: str):
    return Client().post(
        "/payments/webhooks/test/",
        data=payload,
        content_type="application/json",
        headers={"Test-Signature": test_provider.sign(payload), **headers},
    )


def run_flows(client_user, order) -> list[str]:
    """Signup, a failed login, a password reset, a payment, a failed, a forged and a refused webhook."""
    visitor = Client()
    visitor.post("/accounts/signup/", {"email": "newcomer@example.com", "password1": PASSWORD, "password2": PASSWORD})
    Client().post("/accounts/login/", {"login": client_user.email, "password": "wrong-password-123"})
    Client().post("/accounts/password/reset/", {"email": client_user.email})
    buyer = Client()
    buyer.force_login(client_user)
    buyer.post(f"/payments/checkout/{order.pk}/test/")
    payment = Payment.objects.get(order=order)
    buyer.post(f"/payments/test/{payment.pk}/submit/", {"action": "pay"})
    failing = test_provider.build_event(
        "payment.succeeded", payment=client_user.email, amount=100, currency="GBP", card="4242 4242 4242 4242"
    )
    signed_post(failing)
    Client().post(
        "/payments/webhooks/test/",
        data=failing,
        content_type="application/json",
        headers={"Test-Signature": "t=1,v1=0"},
    )
    Client().post("/payments/webhooks/stripe/", data=b"{}", content_type="application/json")
    Client().get("/no-such-page/?email=someone@example.com")
    secrets = [django_settings.TEST_PAYMENTS_WEBHOOK_SECRET, django_settings.SECRET_KEY, PASSWORD]
    secrets += [buyer.cookies["sessionid"].value]
    return secrets


@pytest.mark.django_db
def test_no_personal_data_or_secret_in_the_logs_of_many_flows(captured, client_user, order, settings):
    settings.STAFF_ALERT_EMAILS = ["ops@example.com"]
    secrets = run_flows(client_user, order)
    assert len(captured.lines) >= 5, "the flows should have logged something"
    text = "\n".join(line for line, _ in captured.lines)
    assert not EMAIL.findall(text), EMAIL.findall(text)
    assert not CARD.findall(text), CARD.findall(text)
    for secret in secrets:
        assert secret not in text
    assert not re.search(r"(?:sk|whsec|tok)_[A-Za-z0-9]{8,}", text)


@pytest.mark.django_db
def test_every_line_logged_while_serving_a_request_has_its_id(captured, client_user, order):
    run_flows(client_user, order)
    during_requests = [(line, rid) for line, rid in captured.lines if "django.request" in line or "payments" in line]
    assert during_requests
    for line, request_id in during_requests:
        assert re.fullmatch(r"[0-9a-f]{32}", request_id), line


def test_a_json_line_of_a_celery_task_shows_neither_its_arguments_nor_an_email_in_its_extra_fields():
    """Celery logs "received" and "succeeded" with extra={"data": context}: the JSON formatter prints that
    context, and an email task's arguments are the whole message (address and sign-in code)."""
    import io
    import json

    from celery.app import trace

    config: dict = django_settings.LOGGING
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(production_json_formatter())
    for name in config["handlers"]["console"]["filters"]:
        handler.addFilter(import_string(config["filters"][name]["()"])())
    logger = logging.getLogger("celery.app.trace")
    logger.addHandler(handler)
    previous, logger.level = logger.level, logging.INFO
    payload = {"to": ["secret.person@example.com"], "body": "Your sign-in code is BCDF-GHJK"}
    try:
        trace.info(
            trace.LOG_RECEIVED,
            {"id": "a1", "name": "accounts.tasks.send_rendered_email", "args": repr((payload,)), "kwargs": "{}"},
        )
        trace.info(
            trace.LOG_SUCCESS, {"id": "a1", "name": "x", "return_value": "sent to someone@example.com", "runtime": 0.1}
        )
    finally:
        logger.removeHandler(handler)
        logger.level = previous
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["data"]["id"] for line in lines] == ["a1", "a1"]
    assert lines[0]["data"]["name"] == "accounts.tasks.send_rendered_email"  # still says which task
    text = out.getvalue()
    assert "secret.person" not in text and "BCDF-GHJK" not in text and not EMAIL.findall(text), text


def test_a_json_line_of_django_request_shows_no_email_from_the_query_string():
    """django.request passes the request in extra=; the JSON encoder prints its text (path and query)."""
    import io

    from django.test import RequestFactory

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(production_json_formatter())
    config: dict = django_settings.LOGGING
    for name in config["handlers"]["console"]["filters"]:
        handler.addFilter(import_string(config["filters"][name]["()"])())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        request = RequestFactory().get("/no-such-page/?email=someone@example.com")
        request.request_id = "f" * 32
        logger.warning("Not Found: %s", request.path, extra={"status_code": 404, "request": request})
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "someone@example.com" not in text and "/no-such-page/?email=[email]" in text, text
    assert '"request_id": "' + "f" * 32 in text  # the id filter still read it from the request object


def test_the_log_file_of_a_process_a_test_started_is_searched_line_by_line(tmp_path):
    """The workers and servers the suite starts log in their own processes; their files are read too."""
    worker_log = tmp_path / "worker-0.log"
    worker_log.write_text(
        '{"level": "INFO", "message": "Task notifications.tasks.send_email succeeded"}\n'
        '{"level": "WARNING", "message": "could not deliver to someone@example.com"}\n'
        f'{{"level": "ERROR", "message": "signing with {django_settings.SECRET_KEY}"}}\n'
    )
    watch = _SuiteLogs()
    read_process_logs(watch, [("a_test", worker_log), ("a_test_whose_process_never_started", tmp_path / "none.log")])
    assert watch.lines == 3
    assert [(test, what) for test, what, _ in watch.leaks] == [
        ("a_test (worker-0.log)", "email"),
        ("a_test (worker-0.log)", "secret"),
    ]
    assert "<the secret>" in watch.leaks[1][2] and django_settings.SECRET_KEY not in watch.leaks[1][2]
