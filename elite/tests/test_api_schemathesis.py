"""Schemathesis against a live server on seeded data, as a client, a coach and staff (issue 14).

Every operation gets positive and negative generated requests; a 5xx, an undocumented status, a wrong
content type or a body that does not match docs/openapi.yaml fails the test. The schema it reads is the
one the live server serves (itself checked against the committed file by test_api_contract).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.tests.api import tokens_for

ROOT = Path(__file__).resolve().parents[2]
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "3")


@pytest.fixture
def seeded(transactional_db, client_user, coach_user, staff_user):
    """One order through payment and a delivery request, a thread with a message, an open request."""
    from messaging import services as messaging
    from orders import services as orders
    from orders.tests.factories import make_order
    from requests_app.tests.factories import ServiceRequestFactory

    order = make_order(client=client_user, coach=coach_user)
    orders.mark_paid(order.pk, actor=None)
    messaging.send_message(messaging.get_or_create_thread(order), actor=client_user, body="Hello!")
    make_order(client=client_user, coach=coach_user)
    ServiceRequestFactory(client=client_user, coach=None)
    ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile)
    return {"client": client_user, "coach": coach_user, "staff": staff_user}


def _run(live_server, access: str, phases: str) -> subprocess.CompletedProcess:
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{live_server.url}/api/v1/schema/",
        "--header",
        f"Authorization: Bearer {access}",
        "--checks",
        CHECKS,
        "--phases",
        phases,
        "--max-examples",
        EXAMPLES,
        "--workers",
        "1",
        "--seed",
        "14",
        "--no-color",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--warnings",
        "off",
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=ROOT)


@pytest.mark.timeout(1800)
def test_every_operation_conforms_for_client_coach_and_staff(live_server, seeded, settings):
    settings.CHAT_RATE_LIMIT_COUNT = 10_000
    settings.REQUEST_RATE_LIMIT_PER_HOUR = 10_000
    tokens = {role: tokens_for(user)["access"] for role, user in seeded.items()}
    # The coverage phase (every boundary and negative case of every operation) is the slow one: once is
    # enough for the schema; each role then gets generated requests of its own. Staff last: its
    # suspensions would end the others' tokens.
    for role, phases in (("client", "examples,coverage,fuzzing"), ("coach", "fuzzing"), ("staff", "fuzzing")):
        result = _run(live_server, tokens[role], phases)
        (Path(os.environ.get("TMPDIR", "/tmp")) / f"schemathesis-{role}.log").write_text(result.stdout)
        assert result.returncode == 0, f"schemathesis as {role}:\n{result.stdout[-15000:]}\n{result.stderr[-3000:]}"
