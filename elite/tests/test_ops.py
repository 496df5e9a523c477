"""Operations: probes, request ids, body limit, JSON logs, and refusing to start misconfigured.

The failure cases run the real app in a subprocess against services that are really unreachable
(a closed port), rather than mocking our own checks.
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from accounts.models import User
from core.tests.asyncutil import off_the_loop

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_django(code: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "DJANGO_", "CELERY_"))}
    base.update({"DJANGO_SETTINGS_MODULE": "elite.settings", "PYTHONPATH": str(ROOT)})
    base.pop("SECRET_KEY", None)
    base.pop("ALLOWED_HOSTS", None)
    base.update(env)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120)


PROBE = """
import django, json
django.setup()
from django.test import Client
r = Client().get("/ready", HTTP_X_REQUEST_ID="probe-req-42")
print(json.dumps({"status": r.status_code, "body": r.json(), "request_id": r["X-Request-ID"]}))
"""


def last_json_line(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.django_db
def test_health_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_is_200_when_everything_answers(client):
    response = off_the_loop(client.get, "/ready")  # the channel-layer probe calls async_to_sync
    assert response.status_code == 200, response.json()  # which check failed
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "cache": "ok", "channel_layer": "ok"} | (
        {"broker": "ok"} if "broker" in body["checks"] else {}
    )
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_ready_answers_200_off_a_running_event_loop(client):
    """The two tests above failed whenever a browser test had run earlier on the same xdist worker:
    Playwright's loop kept running in the main thread and the probe's async_to_sync refused to start."""

    async def in_a_running_loop():
        inline = client.get("/ready")
        return inline, off_the_loop(client.get, "/ready")

    inline, off = off_the_loop(asyncio.run, in_a_running_loop())
    assert (inline.status_code, inline.json()["checks"]["channel_layer"]) == (503, "error")
    assert off.status_code == 200, off.json()


def test_ready_is_503_when_the_database_is_unreachable():
    port = closed_port()
    result = run_django(PROBE, DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/nowhere", CONN_MAX_AGE="0")
    assert result.returncode == 0, result.stderr
    answer = last_json_line(result.stdout)
    assert answer["status"] == 503
    assert answer["body"]["status"] == "unavailable"
    assert answer["body"]["checks"]["database"] == "error"
    assert answer["body"]["checks"]["cache"] == "ok"


def test_ready_is_503_when_redis_is_unreachable():
    port = closed_port()
    result = run_django(PROBE, REDIS_URL=f"redis://127.0.0.1:{port}/0", DATABASE_URL="sqlite:///:memory:")
    assert result.returncode == 0, result.stderr
    answer = last_json_line(result.stdout)
    assert answer["status"] == 503
    checks = answer["body"]["checks"]
    assert checks["database"] == "ok"
    assert checks["cache"] == checks["channel_layer"] == checks["broker"] == "error"


def test_production_logs_are_json_lines_carrying_the_request_id():
    port = closed_port()
    result = run_django(
        PROBE, DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/nowhere", LOG_FORMAT="json", CONN_MAX_AGE="0"
    )
    assert last_json_line(result.stdout)["request_id"] == "probe-req-42"
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert records, result.stderr
    failure = next(r for r in records if "readiness check database failed" in r["message"])
    assert failure["levelname"] == "WARNING"
    assert failure["request_id"] == "probe-req-42"
    assert failure["name"] == "elite.views"
    # every line of the log is JSON: nothing else went to the handler
    assert all(line.startswith("{") for line in result.stderr.splitlines() if line.strip())


def test_request_id_is_echoed_or_created(client):
    given = client.get("/health", HTTP_X_REQUEST_ID="lb-abc.123_XYZ")
    assert given["X-Request-ID"] == "lb-abc.123_XYZ"
    made = client.get("/health")
    assert len(made["X-Request-ID"]) == 32
    assert made["X-Request-ID"] != client.get("/health")["X-Request-ID"]


@pytest.mark.parametrize("bad", ["has spaces", "x" * 65, "<script>", "a\\nb"])
def test_unsafe_request_ids_are_replaced(client, bad):
    response = client.get("/health", HTTP_X_REQUEST_ID=bad)
    assert response["X-Request-ID"] != bad
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_oversized_body_is_refused_with_413_before_anything_runs(client, settings):
    settings.MAX_REQUEST_BODY_BYTES = 1024 * 1024
    big = "x" * (1024 * 1024 + 1)
    data = {"email": "huge@example.com", "password1": "a-long-unusual-passphrase-77", "role": "client", "pad": big}
    response = client.post("/accounts/signup/", data)
    assert response.status_code == 413
    assert "The request is too large. The limit is 1 MB." in response.content.decode()
    assert 'class="navbar' in response.content.decode()
    assert not User.objects.exists()
    json_response = client.post("/accounts/signup/", data, HTTP_ACCEPT="application/json")
    assert json_response.status_code == 413
    assert json_response.json() == {"error": "The request is too large. The limit is 1 MB."}


@pytest.mark.django_db
def test_a_signed_in_person_gets_the_413_page_with_their_navbar_and_a_way_back(csrf_client, settings):
    """No-JS uploads over the cap land here: the page is the visitor's own, says the per-file limit the form
    states, and leads back to the form. The body is refused before CSRF would read it: no token, still 413."""
    from accounts.tests.factories import ClientFactory

    settings.MAX_REQUEST_BODY_BYTES = 1024 * 1024
    person = ClientFactory(email="big-upload@example.com")
    csrf_client.force_login(person)
    form_page = "http://testserver/requests/new/"
    response = csrf_client.post(
        "/requests/new/", {"pad": "x" * (1024 * 1024 + 1)}, HTTP_REFERER=form_page, HTTP_ACCEPT="text/html"
    )
    assert response.status_code == 413
    html = response.content.decode()
    assert "The request is too large. The limit is 1 MB." in html
    assert "Nothing was saved. Each file can be at most 10 MB" in html
    assert 'id="logout-form"' in html  # the signed-in navbar
    assert f'href="{form_page}"' in html
    assert response["X-Frame-Options"] == "DENY" and "Content-Security-Policy" in response


@pytest.mark.django_db
def test_the_413_page_leads_home_when_the_visitor_came_from_elsewhere(client, settings):
    settings.MAX_REQUEST_BODY_BYTES = 1024
    response = client.post("/accounts/login/", {"pad": "x" * 2048}, HTTP_REFERER="https://evil.example/form")
    assert response.status_code == 413
    assert 'href="/">Go back' in response.content.decode()
    assert "evil.example" not in response.content.decode()


@pytest.mark.django_db
def test_body_at_the_limit_is_accepted(client, settings):
    settings.MAX_REQUEST_BODY_BYTES = 4096
    response = client.post("/accounts/login/", {"login": "a@example.com", "password": "y" * 3000})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "false", "ALLOWED_HOSTS": "elite.example"}, "set SECRET_KEY"),
        ({"DEBUG": "false", "SECRET_KEY": "short"}, "set SECRET_KEY"),
        ({"DEBUG": "false", "SECRET_KEY": "k" * 60}, "set ALLOWED_HOSTS"),
    ],
)
def test_production_refuses_to_start_without_secret_key_and_allowed_hosts(env, message):
    result = run_django("import django; django.setup()", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_production_starts_with_both_set():
    result = run_django(
        "import django; django.setup(); from django.conf import settings; print(settings.SESSION_COOKIE_SECURE)",
        DEBUG="false",
        SECRET_KEY="k" * 60,
        ALLOWED_HOSTS="elite.example",
        CLAMD_URL="tcp://127.0.0.1:3310",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_deploy_checks_are_clean_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "DJANGO_"))},
            "DEBUG": "false",
            "SECRET_KEY": "d" * 20 + "-deploy-check-only-" + "e" * 30,
            "ALLOWED_HOSTS": "elite.example",
            "CLAMD_URL": "tcp://127.0.0.1:3310",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(("setting", "threshold"), [(None, "5"), ("false", "None")])
def test_prepared_statements_can_be_turned_off_for_a_pooler(setting, threshold):
    """core.sqlmemo's prepare=True needs the connection's prepare_threshold (Django's default None prepares
    nothing); DATABASE_PREPARED_STATEMENTS=false leaves it at None, for a pooler that cannot keep them."""
    code = "import django; django.setup(); from django.db import connection; print(connection.get_connection_params()['prepare_threshold'])"
    env = {"DATABASE_URL": "postgres://nobody@127.0.0.1:5432/nothing", "DEBUG": "true"}
    if setting is not None:
        env["DATABASE_PREPARED_STATEMENTS"] = setting
    result = run_django(code, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == threshold
