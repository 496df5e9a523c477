"""Payment panels other apps' pages include: the order page's payment box, the coach's earnings."""

from typing import Any

from django import template
from django.db.models import QuerySet
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core import sqlmemo
from orders.models import OrderStatus

from .. import services
from ..models import Payment, PaymentStatus

register = template.Library()

STATUS_STYLES = {
    PaymentStatus.CREATED: "text-bg-light border",
    PaymentStatus.AUTHORIZED: "text-bg-info",
    PaymentStatus.CAPTURED: "text-bg-success",
    PaymentStatus.FAILED: "text-bg-danger",
    PaymentStatus.REFUNDED: "text-bg-secondary",
    PaymentStatus.PARTIALLY_REFUNDED: "text-bg-warning",
}
STATUS_LABELS = {
    PaymentStatus.CREATED: "Not completed",
    PaymentStatus.AUTHORIZED: "Processing",
    PaymentStatus.CAPTURED: "Paid",
    PaymentStatus.FAILED: "Failed",
    PaymentStatus.REFUNDED: "Refunded",
    PaymentStatus.PARTIALLY_REFUNDED: "Partly refunded",
}


@register.simple_tag
def payment_status(payment) -> SafeString:
    """The status badge (with the newline the inclusion template it replaces ended with): a format string, not a
    template rendered per row (issue 13: a receipts page whose rows are not cached yet renders 20)."""
    label, style = STATUS_LABELS.get(payment.status, payment.status), STATUS_STYLES.get(payment.status)
    return format_html('<span class="badge {}">{}</span>\n', style, label)


def _order_payments(given) -> QuerySet:
    """The order's payments the panel lists: compiled once per process and kept prepared (core.sqlmemo; a
    lookup by the order's id, a few rows per order, whose generic plan is the custom one)."""
    payments = Payment.objects.filter(order_id=given["order"]).exclude(provider_payment_id__startswith="pending_")
    return payments.order_by("-created_at", "-id")[:20]


@register.inclusion_tag("payments/partials/_order_payment_panel.html", takes_context=True)
def order_payment_panel(context, order):
    user = context["request"].user
    this = {"order": order.pk}
    payments: list[Any] = sqlmemo.instances("order page: payments", _order_payments, this, prepare=True)
    is_client = user.is_authenticated and user.pk == order.client_id
    blocking = any(p.status in services.BLOCKING_STATES for p in payments)
    can_pay = is_client and order.status == OrderStatus.PENDING and not blocking
    captured = next((p for p in payments if p.status in services.CAPTURED_STATES), None)
    processing = next((p for p in payments if p.status == PaymentStatus.AUTHORIZED), None)
    return {
        "order": order,
        "payments": payments,
        "captured": captured,
        "processing": processing,
        "is_client": is_client,
        "can_pay": can_pay,
        "verified": can_pay and user.has_verified_email,
        "providers": services.available_providers() if can_pay else [],
        "csrf_token": context.get("csrf_token"),
        "request": context["request"],
    }


@register.inclusion_tag("payments/partials/_coach_earnings_summary.html")
def coach_earnings_summary(user):
    from ..views import coach_earnings_totals

    return {"totals": coach_earnings_totals(user)}
