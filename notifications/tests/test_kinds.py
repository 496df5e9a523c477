"""Every kind of notification the code sends is filed under one of the five categories, on purpose."""

import re
from pathlib import Path

import pytest

from notifications import kinds
from notifications.models import Notification
from notifications.services import notify
from orders.services import TRANSITIONS

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
# notify(user, "kind", …), alert_staff("kind", …), flag_payment(…, kind="kind"), a kind = "…" variable.
LITERAL_KINDS = [
    re.compile(r"\bnotify\(\s*[\w.\[\]]+,\s*\"([a-z_]+)\""),
    re.compile(r"alert_staff\(\s*\"([a-z_]+)\""),
    re.compile(r"kind=\"([a-z_]+)\""),
    re.compile(r"_notify_staff\([^,]+,\s*\"([a-z_]+)\""),
]


def _kinds_in_source() -> set[str]:
    found: set[str] = set()
    for path in ROOT.glob("*/**/*.py"):
        if any(part in {".venv", "node_modules", "tests", "migrations"} for part in path.parts):
            continue
        text = path.read_text(encoding="utf-8")
        if "notify(" not in text and "alert_staff(" not in text and "flag_payment(" not in text:
            continue
        for pattern in LITERAL_KINDS:
            found.update(pattern.findall(text))
    # Built from a name: the order moves, and the two sides of a dispute with their chasers.
    found.update(f"order_{name}" for name in TRANSITIONS)
    for role in ("statement", "answer"):
        found.update({f"dispute_{role}", f"dispute_{role}_reminder", f"dispute_{role}_missed"})
    return found


def test_every_kind_the_code_sends_is_listed_under_a_category():
    sent = _kinds_in_source()
    assert {"request_received", "payment_refunded", "file_infected", "ledger_mismatch"} <= sent  # the scan works
    order_event_kinds = {"status", "created", "review", "escalated", "dispute_partial_refund"}  # timeline rows
    missing = sorted(k for k in sent - set(kinds.KIND_CATEGORIES) if k not in order_event_kinds)
    assert not missing, f"file these kinds under a category in notifications/kinds.py: {missing}"
    assert set(kinds.KIND_CATEGORIES.values()) <= set(kinds.CATEGORIES)


@pytest.mark.parametrize(
    "kind, category",
    [
        ("order_mark_paid", "money"),
        ("payment_refunded", "money"),
        ("request_accepted", "request"),
        ("order_cancel", "request"),
        ("order_deliver", "delivery"),
        ("review_reply", "delivery"),
        ("order_resolve_refund", "dispute"),
        ("dispute_answer_missed", "dispute"),
        # not listed: the prefix decides, and anything else is a request
        ("payout_sent", "money"),
        ("message_from_coach", "message"),
        ("dispute_escalated_again", "dispute"),
        ("something_new", "request"),
    ],
)
def test_a_kind_is_stored_with_its_category_and_icon(client_user, kind, category):
    note = notify(client_user, kind, "Text", email=False)

    note.refresh_from_db()
    assert note.category == category
    assert note.category_info.icon == kinds.CATEGORIES[category].icon
    assert Notification.objects.filter(user=client_user, category=category).count() == 1


def test_only_money_security_and_last_warnings_are_always_emailed():
    assert kinds.always_emailed("payment_failed")
    assert kinds.always_emailed("file_infected")  # a delivery-category kind, but a security notice
    assert kinds.always_emailed("documents_retention")  # documents are deleted after it: it must arrive
    assert kinds.always_emailed("data_export_ready")  # the person asked for it
    assert not kinds.always_emailed("order_deliver")
    assert set(kinds.OPTIONAL_CATEGORIES) == {"request", "delivery", "message", "dispute"}


def test_a_row_written_without_notify_is_filed_by_its_kind_too(client_user):
    note = Notification.objects.create(user=client_user, kind="payment_failed", text="Direct")

    note.refresh_from_db()
    assert note.category == "money"
