"""A client's receipt: one set of figures for the page and the PDF, read from the payment and its ledger.

The breakdown comes from the ledger's charge row for the payment (gross = coach's share + platform fee),
so the receipt shows exactly what the books hold; confirmed refunds follow as negative lines.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from fpdf import FPDF

from core.money import format_money

from .models import LedgerEntry, LedgerEntryType, Payment, RefundStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Line:
    label: str
    amount_minor: int
    emphasis: bool = False


@dataclass(frozen=True)
class Receipt:
    number: str
    issued_on: dt.datetime
    currency: str
    seller: list[str]
    buyer: list[str]
    service: str
    provider: str
    provider_reference: str
    lines: list[Line] = field(default_factory=list)

    def money(self, amount_minor: int) -> str:
        return format_money(amount_minor, self.currency)


def build(payment: Payment) -> Receipt:
    order = payment.order
    charge = LedgerEntry.objects.filter(payment=payment, entry_type=LedgerEntryType.CHARGE).order_by("id").first()
    coach = order.coach.display_name
    lines = []
    if charge is not None:
        lines.append(Line(f"{order.get_service_type_display()} by {coach}", charge.payout_minor))
        lines.append(Line("Platform fee (included)", charge.fee_minor))
    lines.append(Line("Total paid", payment.amount_minor, emphasis=True))
    refunds = payment.refunds.filter(status=RefundStatus.SUCCEEDED).order_by("confirmed_at", "id")
    for refund in refunds:
        day = timezone.localtime(refund.confirmed_at).strftime("%-d %b %Y") if refund.confirmed_at else ""
        lines.append(Line(f"Refund {day}".strip(), -refund.amount_minor))
    if payment.refunded_minor:
        lines.append(Line("Net paid", payment.amount_minor - payment.refunded_minor, emphasis=True))
    seller = [settings.RECEIPT_SELLER_NAME, *settings.RECEIPT_SELLER_ADDRESS]
    if settings.RECEIPT_SELLER_TAX_ID:
        seller.append(f"Tax id {settings.RECEIPT_SELLER_TAX_ID}")
    client = payment.client
    return Receipt(
        number=f"EWS-{payment.pk}",
        issued_on=timezone.localtime(payment.captured_at or payment.created_at),
        currency=payment.currency,
        seller=seller,
        buyer=[client.display_name, client.email],
        service=f"Order #{order.pk}: {order.title} ({order.get_service_type_display()} with {coach})",
        provider=payment.get_provider_display(),
        provider_reference=payment.provider_capture_id or "",
        lines=lines,
    )


# --- PDF ------------------------------------------------------------------------------------------

_FONT = "DejaVu"


def _font_files() -> tuple[Path, Path] | None:
    folder = Path(settings.RECEIPT_FONT_DIR)
    regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
    return (regular, bold) if regular.is_file() and bold.is_file() else None


class _ReceiptPDF(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4", unit="mm")
        self.set_margins(20, 20, 20)
        self.set_auto_page_break(auto=True, margin=20)
        fonts = _font_files()
        if fonts:
            self.add_font(_FONT, "", str(fonts[0]))
            self.add_font(_FONT, "B", str(fonts[1]))
            self.face = _FONT
        else:
            # Names outside Latin-1 would be lost: say so in the log, keep the receipt readable.
            logger.warning("Receipt font not found in RECEIPT_FONT_DIR; using Helvetica (Latin-1 only)")
            self.face = "Helvetica"

    def safe(self, value: str) -> str:
        """Text the chosen font can draw (the Latin-1 fallback replaces what it cannot)."""
        if self.face == _FONT:
            return value
        return value.encode("latin-1", "replace").decode("latin-1")


def render_pdf(receipt: Receipt) -> bytes:
    pdf = _ReceiptPDF()
    pdf.set_title(f"Receipt {receipt.number}")
    pdf.set_author(settings.RECEIPT_SELLER_NAME)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    pdf.set_font(pdf.face, "B", 18)
    pdf.cell(width, 10, pdf.safe("Receipt"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.face, "", 10)
    pdf.cell(
        width,
        6,
        pdf.safe(f"No. {receipt.number} · {receipt.issued_on:%-d %b %Y, %H:%M}"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(4)

    top = pdf.get_y()
    for column, (title, rows) in enumerate((("From", receipt.seller), ("Billed to", receipt.buyer))):
        pdf.set_xy(pdf.l_margin + column * width / 2, top)
        pdf.set_font(pdf.face, "B", 10)
        pdf.cell(width / 2, 6, pdf.safe(title), new_x="LEFT", new_y="NEXT")
        pdf.set_font(pdf.face, "", 10)
        for row in rows:
            pdf.cell(width / 2, 5, pdf.safe(row), new_x="LEFT", new_y="NEXT")
    pdf.set_xy(pdf.l_margin, top + 6 + 5 * max(len(receipt.seller), len(receipt.buyer)) + 4)

    pdf.multi_cell(width, 5, pdf.safe(receipt.service), new_x="LMARGIN", new_y="NEXT")
    paid_with = receipt.provider + (f", reference {receipt.provider_reference}" if receipt.provider_reference else "")
    pdf.cell(width, 5, pdf.safe(f"Paid with {paid_with}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    pdf.set_draw_color(180, 180, 180)
    for line in receipt.lines:
        pdf.set_font(pdf.face, "B" if line.emphasis else "", 11)
        pdf.cell(width * 0.7, 8, pdf.safe(line.label), border="T")
        amount = receipt.money(line.amount_minor)
        pdf.cell(width * 0.3, 8, pdf.safe(amount), border="T", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font(pdf.face, "", 8)
    pdf.multi_cell(
        width,
        4,
        pdf.safe(
            "The platform fee is part of the total you paid; the rest goes to your coach. "
            f"Amounts in {receipt.currency}."
        ),
    )
    return bytes(pdf.output())
