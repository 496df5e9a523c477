"""What each notification kind is about: five categories a reader scans by icon, and email choices.

Apps above send `notify(user, kind, …)` with their own kind names; this module is the one place that
files each of them under a category (money, request, delivery, message, dispute). A kind not listed
falls back on its prefix, so a new kind still gets a sensible icon; `test_kinds.py` fails until every
kind the code sends is listed here explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class Category(models.TextChoices):
    MONEY = "money", "Money"
    REQUEST = "request", "Requests"
    DELIVERY = "delivery", "Deliveries"
    MESSAGE = "message", "Messages"
    DISPUTE = "dispute", "Disputes"


@dataclass(frozen=True)
class CategoryInfo:
    value: str
    label: str  # the inbox's filter and the preference row
    singular: str  # the tag beside one notification
    icon: str  # a Bootstrap Icons class
    email_help: str  # what the preference row says it covers
    always_email: bool = False  # transactional: cannot be switched off


CATEGORIES: dict[str, CategoryInfo] = {
    Category.MONEY: CategoryInfo(
        Category.MONEY,
        "Money",
        "Money",
        "bi-cash-coin",
        "Payments taken, failed or refunded. These are your records of money moving, so they are always sent.",
        always_email=True,
    ),
    Category.REQUEST: CategoryInfo(
        Category.REQUEST,
        "Requests",
        "Request",
        "bi-file-earmark-text",
        "New, accepted, declined, withdrawn and expiring requests, and cancelled unpaid orders.",
    ),
    Category.DELIVERY: CategoryInfo(
        Category.DELIVERY,
        "Deliveries",
        "Delivery",
        "bi-box-seam",
        "Files delivered, revisions asked for, completed or overdue orders, reviews and replies.",
    ),
    Category.MESSAGE: CategoryInfo(
        Category.MESSAGE,
        "Messages",
        "Message",
        "bi-chat-dots",
        "A summary of chat messages you have not read while you were away.",
    ),
    Category.DISPUTE: CategoryInfo(
        Category.DISPUTE,
        "Disputes",
        "Dispute",
        "bi-exclamation-octagon",
        "Disputes opened, statements and answers, deadline reminders and outcomes.",
    ),
}

# Every kind the code sends today. Order moves are `order_<transition>` (orders.services.TRANSITIONS).
KIND_CATEGORIES: dict[str, str] = {
    # requests_app
    "request_received": Category.REQUEST,
    "request_withdrawn": Category.REQUEST,
    "request_rejected": Category.REQUEST,
    "request_expired": Category.REQUEST,
    "request_reminder": Category.REQUEST,
    "request_accepted": Category.REQUEST,
    # orders: the moves
    "order_cancel": Category.REQUEST,  # only an unpaid order can be cancelled: the request fell through
    "order_mark_paid": Category.MONEY,
    "order_deliver": Category.DELIVERY,
    "order_request_revision": Category.DELIVERY,
    "order_accept_delivery": Category.DELIVERY,
    "order_open_dispute": Category.DISPUTE,
    "order_resolve_release": Category.DISPUTE,
    "order_resolve_refund": Category.DISPUTE,
    # orders: jobs and reviews
    "order_overdue": Category.DELIVERY,
    "order_escalated": Category.DELIVERY,
    "review_received": Category.DELIVERY,
    "review_reply": Category.DELIVERY,
    # orders: the two sides of a dispute
    "dispute_statement": Category.DISPUTE,
    "dispute_answer": Category.DISPUTE,
    "dispute_statement_reminder": Category.DISPUTE,
    "dispute_answer_reminder": Category.DISPUTE,
    "dispute_statement_missed": Category.DISPUTE,
    "dispute_answer_missed": Category.DISPUTE,
    # payments (clients) and staff alerts
    "payment_failed": Category.MONEY,
    "payment_refunded": Category.MONEY,
    "payment_flagged": Category.MONEY,
    "payment_disputed": Category.MONEY,  # a chargeback at the provider (staff), not our dispute process
    "payment_unallocated": Category.MONEY,
    "refund_failed": Category.MONEY,
    "webhook_unmatched": Category.MONEY,
    "webhook_failed": Category.MONEY,
    "ledger_mismatch": Category.MONEY,
    # files: a quarantined upload concerns what was sent with a request or a delivery
    "file_infected": Category.DELIVERY,
    "file_infected_staff": Category.DELIVERY,
    "file_scan_error": Category.DELIVERY,
    # documents and files: the retention warning before an order's documents are deleted, an export ready
    "documents_retention": Category.DELIVERY,
    "data_export_ready": Category.DELIVERY,
    # messaging sends no inbox rows (chats have their own unread badge); its email digests are "message"
}

# Emailed whatever the category's preference says: security notices (someone's file was quarantined),
# the last warning before documents are deleted, and the export the person asked for themselves.
ALWAYS_EMAILED_KINDS = frozenset({"file_infected", "file_infected_staff", "documents_retention", "data_export_ready"})

_PREFIXES: tuple[tuple[str, str], ...] = (
    ("dispute_", Category.DISPUTE),
    ("order_resolve", Category.DISPUTE),
    ("payment_", Category.MONEY),
    ("refund_", Category.MONEY),
    ("payout_", Category.MONEY),
    ("request_", Category.REQUEST),
    ("message", Category.MESSAGE),
    ("chat_", Category.MESSAGE),
    ("thread_", Category.MESSAGE),
    ("order_", Category.DELIVERY),
    ("review_", Category.DELIVERY),
    ("file_", Category.DELIVERY),
)


def category_of(kind: str) -> str:
    """The category a kind belongs to: listed kinds exactly, others by prefix, the rest are requests."""
    if kind in KIND_CATEGORIES:
        return KIND_CATEGORIES[kind]
    for prefix, category in _PREFIXES:
        if kind.startswith(prefix):
            return category
    return Category.REQUEST


def info(category: str) -> CategoryInfo:
    return CATEGORIES.get(category, CATEGORIES[Category.REQUEST])


def always_emailed(kind: str, category: str | None = None) -> bool:
    """Transactional email that no preference switches off (money, security)."""
    return kind in ALWAYS_EMAILED_KINDS or info(category or category_of(kind)).always_email


OPTIONAL_CATEGORIES: tuple[str, ...] = tuple(c for c, i in CATEGORIES.items() if not i.always_email)
