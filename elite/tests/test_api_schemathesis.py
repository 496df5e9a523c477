"""Schemathesis against a live server on seeded data, as a client, a coach and staff (issue 14).

Every operation gets positive and negative generated requests; a 5xx, an undocumented status, a wrong
content type or a body that does not match docs/openapi.yaml fails the test. The schema it reads is the
one the live server serves (itself checked against the committed file by test_api_contract).

Then the stateful phase, as the client and as the coach, chains calls along the document's OpenAPI links
(elite/api_links.py) with the ids real answers gave: ask a coach from the directory and read the request
back, accept it as the coach and deliver on the order it became, upload a file and delete it. On top of the
checks above it asks that a resource just created can be read (ensure_resource_availability) and that a
deleted one is gone (use_after_free). It runs for a fixed time per role, so CI time stays bounded.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.tests.api import tokens_for

ROOT = Path(__file__).resolve().parents[2]
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
STATEFUL_CHECKS = f"{CHECKS},ensure_resource_availability,use_after_free"
EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "3")
STATEFUL_SECONDS = os.environ.get("SCHEMATHESIS_STATEFUL_SECONDS", "30")
STATEFUL_CONFIG = Path(__file__).with_name("schemathesis-stateful.toml")
# The stateful phase starts scenarios from any operation; the role's refusals (403 as designed, and
# covered by the fuzzing runs) would spend its time budget, so each role leaves out what it may not call.
NOT_FOR = {
    "client": r"^/api/v1/admin/|^/api/v1/requests/available$|/accept$|/reject$|/delivery-files$|/coaches/me/",
    "coach": r"^/api/v1/admin/|^/api/v1/requests(/me)?$|^/api/v1/payments/",
}


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


def _run(live_server, access: str, phases: str, *extra: str, config: Path | None = None) -> subprocess.CompletedProcess:
    command = [
        str(Path(sys.executable).with_name("st")),
        *(["--config-file", str(config)] if config else []),
        "run",
        f"{live_server.url}/api/v1/schema/",
        "--header",
        f"Authorization: Bearer {access}",
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
        *extra,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=ROOT)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_every_operation_conforms_for_client_coach_and_staff(live_server, seeded, settings):
    settings.CHAT_RATE_LIMIT_COUNT = 10_000
    settings.REQUEST_RATE_LIMIT_PER_HOUR = 10_000
    tokens = {role: tokens_for(user)["access"] for role, user in seeded.items()}
    # The coverage phase (every boundary and negative case of every operation) is the slow one: once is
    # enough for the schema; each role then gets generated requests of its own. The stateful runs come
    # after, the client's first (its new requests feed the coach's chains: accept, deliver). Staff last:
    # its suspensions would end the others' tokens.
    runs = [
        ("client", _run(live_server, tokens["client"], "examples,coverage,fuzzing", "--checks", CHECKS)),
        ("coach", _run(live_server, tokens["coach"], "fuzzing", "--checks", CHECKS)),
        *((f"{role}-stateful", _stateful(live_server, tokens[role], role)) for role in ("client", "coach")),
        ("staff", _run(live_server, tokens["staff"], "fuzzing", "--checks", CHECKS)),
    ]
    for name, result in runs:
        (Path(os.environ.get("TMPDIR", "/tmp")) / f"schemathesis-{name}.log").write_text(result.stdout)
        assert result.returncode == 0, f"schemathesis as {name}:\n{result.stdout[-15000:]}\n{result.stderr[-3000:]}"
        if name.endswith("-stateful"):  # it really chained calls along the links
            covered = re.search(r"API Links:\s+(\d+) covered", result.stdout)
            assert covered and int(covered.group(1)) > 0, result.stdout[-3000:]


def _stateful(live_server, access: str, role: str) -> subprocess.CompletedProcess:
    """Valid chains only (--mode positive: the fuzzing runs already send the invalid inputs)."""
    return _run(
        live_server,
        access,
        "stateful",
        "--checks",
        STATEFUL_CHECKS,
        "--mode",
        "positive",
        "--max-time",
        STATEFUL_SECONDS,
        "--exclude-path-regex",
        NOT_FOR[role],
        config=STATEFUL_CONFIG,
    )
