"""Which cached pages (core.pages) show payments: the order's parties (receipts, the order page's payment
box); ledger rows, the coach (their dashboard's earnings). The ledger's charge row is a bulk INSERT that sends ledger_written instead of post_save."""

from core.pages import follow, ignore, users_changed

from .models import LedgerEntry, Payment, Refund, WebhookEvent
from .signals import ledger_written


def payment_parties(payment: Payment) -> tuple[int, int]:
    return (payment.client_id, payment.order.coach_id)


def _ledger_row(entry: LedgerEntry, **_) -> tuple[int]:
    return (entry.coach_id,)  # the coach's earnings on their dashboard; clients see payments, not the ledger


def _ledger_written(sender, entry: LedgerEntry, **kwargs) -> None:
    users_changed(*_ledger_row(entry))


def connect() -> None:
    follow(Payment, lambda payment, **_: payment_parties(payment))
    follow(Refund, lambda refund, **_: payment_parties(refund.payment))
    follow(LedgerEntry, _ledger_row)
    ledger_written.connect(_ledger_written, sender=LedgerEntry, dispatch_uid="payments.pages.ledger", weak=False)
    ignore(WebhookEvent)
