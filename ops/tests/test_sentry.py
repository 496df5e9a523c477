"""Sentry: events carry release, environment and the request id, and leave without personal data.

A loopback HTTP server stands in for Sentry's ingest endpoint; the real SDK sends its real envelopes
to it from a Django process of its own (so this test process's SDK stays uninitialised).
"""

from __future__ import annotations

import gzip
import http.server
import json
import threading
import zlib

import pytest

from elite.tests.test_ops import run_django
from messaging.tests.conftest import database_url_of_test_db
from ops.sentry import before_send, scrub_text

SECRETS = ("alice@example.com", "4242 4242 4242 4242", "Ten years of marketing", "abc123sessionsecret", "whsec_")

PROGRAM = """
import django, sentry_sdk
django.setup()
from django.test import Client
from core.http import bind_request_id
from payments.providers import test_provider

def send_cv(cv_text, email):
    raise ValueError(f"could not send the CV of {email}, paid with 4242 4242 4242 4242")

bind_request_id("req-task-7")
try:
    send_cv("Ten years of marketing at Acme", "alice@example.com")
except ValueError:
    sentry_sdk.capture_exception()
payload = test_provider.build_event("payment.succeeded", payment="tp_alice@example.com", amount=1, currency="GBP")
Client(raise_request_exception=False).post(
    "/payments/webhooks/test/", data=payload, content_type="application/json",
    headers={"Test-Signature": test_provider.sign(payload), "X-Request-ID": "req-page-42",
             "Cookie": "sessionid=abc123sessionsecret"},
)
sentry_sdk.flush(10)
"""


class Ingest(http.server.BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        assert encoding in ("", "gzip", "deflate"), encoding
        Ingest.bodies.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def events(bodies: list[bytes]) -> list[dict]:
    found = []
    for body in bodies:
        lines = body.split(b"\n")
        for header, item in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                found.append(json.loads(item))
    return found


@pytest.mark.django_db(transaction=True)
def test_errors_reach_sentry_tagged_and_scrubbed():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ingest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Ingest.bodies = []
    try:
        result = run_django(
            PROGRAM,
            DATABASE_URL=database_url_of_test_db(),
            SENTRY_DSN=f"http://publickey@127.0.0.1:{server.server_port}/1",
            SENTRY_RELEASE="rel-2026.12.1",
            SENTRY_ENVIRONMENT="staging",
        )
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr[-3000:]
    sent = events(Ingest.bodies)
    by_request = {event.get("tags", {}).get("request_id") for event in sent}
    assert {"req-task-7", "req-page-42"} <= by_request, by_request
    assert {event["release"] for event in sent} == {"rel-2026.12.1"}
    assert {event["environment"] for event in sent} == {"staging"}
    raw = b"".join(Ingest.bodies).decode(errors="replace")
    for secret in SECRETS:
        assert secret not in raw, f"{secret!r} reached Sentry"


def test_before_send_removes_personal_data_and_secrets():
    event = {
        "request": {
            "url": "https://elite.example/orders/3/?email=bob@example.org",
            "query_string": "email=bob@example.org",
            "cookies": {"sessionid": "s3cr3t"},
            "data": {"cv_text": "My CV", "password": "pw"},
            "headers": {"Cookie": "sessionid=s3cr3t", "Authorization": "Bearer abc", "User-Agent": "ua"},
        },
        "user": {"id": 5, "email": "bob@example.org", "ip_address": "203.0.113.9"},
        "exception": {
            "values": [
                {
                    "value": "card 4000-0566-5566-5556 declined for bob@example.org",
                    "stacktrace": {"frames": [{"function": "execute", "vars": {"params": ["'abc123sessionkey'"]}}]},
                }
            ]
        },
        "threads": {
            "values": [{"stacktrace": {"frames": [{"function": "run", "vars": {"value": "Ten years in HR"}}]}}]
        },
        "extra": {"bio": "I coach CVs", "stripe_key": "sk_live_abcdefghijklmnop", "note": "call me", "count": 3},
        "breadcrumbs": {"values": [{"message": "Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl"}]},
    }
    cleaned = before_send(event, {})
    text = json.dumps(cleaned)
    for secret in ("bob@example.org", "s3cr3t", "My CV", "4000-0566", "sk_live_", "I coach", "call me", "eyJhbG") + (
        "abc123sessionkey",
        "Ten years in HR",
    ):
        assert secret not in text, secret
    assert cleaned["user"] == {"id": 5}
    assert cleaned["request"]["headers"]["User-Agent"] == "ua"
    assert cleaned["extra"]["count"] == 3
    assert "[email]" in cleaned["exception"]["values"][0]["value"]


def test_scrub_text_keeps_ordinary_numbers_and_ids():
    assert scrub_text("order #1234 for £120.00 at 2026-12-01") == "order #1234 for £120.00 at 2026-12-01"
    assert scrub_text("4111111111111111") == "[card]"
