"""Rows the console tests build by hand, with the timestamps the figures depend on."""

from files.models import FileAsset
from payments.models import LedgerEntry


def ledger_entry(kind, order, gross, fee, when, *, payment=None, currency="GBP", note=""):
    """A balanced ledger row (payout = gross − fee) dated `when` (created_at is auto_now_add)."""
    entry = LedgerEntry.objects.create(
        entry_type=kind,
        order=order,
        payment=payment,
        coach=order.coach,
        gross_minor=gross,
        fee_minor=fee,
        payout_minor=gross - fee,
        currency=currency,
        idempotency_key=f"{kind}:{order.pk}:{gross}:{currency}:{when.isoformat()}",
        note=note,
    )
    LedgerEntry.objects.filter(pk=entry.pk).update(created_at=when)
    entry.created_at = when
    return entry


def file_asset(owner, name, *, scan_status="error", detail=""):
    return FileAsset.objects.create(
        owner=owner,
        key=f"uploads/{name}",
        original_name=name,
        content_type="application/pdf",
        size=10,
        sha256=name.encode().hex().ljust(64, "0")[:64],
        category="cv_upload",
        scan_status=scan_status,
        scan_detail=detail,
    )
