"""Orders, their timeline and reviews in the operator console.

Cancelling and settling disputes go through orders.services / payments.services (this module is
part of the console layer, see adminpanel/console.py).
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html

from adminpanel.console import (
    ConsoleAdmin,
    ReadOnlyInline,
    ReasonForm,
    apply_to_each,
    change_link,
    changelist_link,
    form_action,
    join_links,
    money,
    run_audited,
)
from audit.services import client_ip
from elite.money import ZERO_DECIMAL_CURRENCIES, format_money
from orders import services

from .models import Delivery, Order, OrderEvent, OrderStatus, Review


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("created_at", "kind", "from_label", "to_label", "actor", "note")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    @admin.display(description="from")
    def from_label(self, event):
        return _status_label(event.from_status)

    @admin.display(description="to")
    def to_label(self, event):
        return _status_label(event.to_status)


def _status_label(value: str) -> str:
    """“In progress” for in_progress; an event that is not a status change has none (“–”)."""
    return OrderStatus(value).label if value in OrderStatus.values else (value or "–")


class DeliveryInline(ReadOnlyInline):
    model = Delivery
    fields = ("number", "created_at", "created_by", "note")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")


class DisputeResolutionForm(forms.Form):
    RELEASE, PARTIAL, FULL = "release", "partial", "full"
    outcome = forms.ChoiceField(
        choices=[
            (RELEASE, "Release the payment to the coach (no refund)"),
            (PARTIAL, "Partial refund to the client, the rest to the coach"),
            (FULL, "Full refund to the client (order cancelled)"),
        ],
        widget=forms.RadioSelect,
    )
    amount = forms.DecimalField(
        label="Refund amount",
        required=False,
        min_value=Decimal("0.01"),
        decimal_places=2,
        help_text="Only for a partial refund, in the order's currency (e.g. 25.00).",
    )
    note = forms.CharField(
        label="Decision", max_length=500, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), strip=True
    )

    def __init__(self, *args, refundable_minor: int, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.refundable_minor = refundable_minor
        self.currency = currency

    def clean(self):
        data = super().clean()
        outcome, amount = data.get("outcome"), data.get("amount")
        if outcome is None:
            return data
        if outcome == self.RELEASE:
            data["refund_minor"] = 0
        elif self.refundable_minor <= 0:
            self.add_error("outcome", "There is no captured payment on this order to refund.")
        elif outcome == self.FULL:
            data["refund_minor"] = self.refundable_minor
        elif amount is None:
            self.add_error("amount", "Enter the amount to refund.")
        else:
            refund_minor = _to_minor(amount, self.currency)
            if refund_minor is None:
                self.add_error("amount", "Enter an amount with at most two decimals.")
            elif refund_minor >= self.refundable_minor:
                self.add_error(
                    "amount",
                    f"A partial refund must be less than {format_money(self.refundable_minor, self.currency)}; "
                    "choose a full refund instead.",
                )
            else:
                data["refund_minor"] = refund_minor
        return data


def _to_minor(amount: Decimal, currency: str) -> int | None:
    try:
        if currency.upper() in ZERO_DECIMAL_CURRENCIES:
            return int(amount.quantize(Decimal("1"), rounding=ROUND_HALF_UP))
        return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
    except InvalidOperation:
        return None


def _dispute_facts(order: Order) -> list[tuple[str, str]]:
    """What staff need beside the money to decide: who disputed, why, and what was delivered."""
    facts = []
    opened = order.events.filter(to_status=OrderStatus.DISPUTED).select_related("actor").order_by("-id").first()
    if opened is not None:
        who = opened.actor.display_name if opened.actor else "the system"
        facts.append(("Dispute opened", f"{opened.created_at:%d %b %Y %H:%M} by {who}"))
        facts.append(("Reason given", opened.note or "(none)"))
    delivery = order.deliveries.order_by("-number").first()
    if delivery is None:
        facts.append(("Deliveries", "Nothing delivered yet"))
    else:
        files = delivery.files.count()
        summary = f"#{delivery.number} on {delivery.created_at:%d %b %Y}, {files} file{'s' if files != 1 else ''}"
        facts.append(("Latest delivery", f"{summary}: {delivery.note}" if delivery.note else summary))
    return facts


def _refundable(order: Order) -> int:
    """What the captured payments of `order` still hold (payments writes those rows)."""
    from payments.models import Payment, PaymentStatus
    from payments.services import refundable_minor

    payments = Payment.objects.filter(
        order=order, status__in=(PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED)
    )
    return sum(refundable_minor(payment) for payment in payments)


@admin.register(Order)
class OrderAdmin(ConsoleAdmin):
    list_display = (
        "id",
        "title",
        "client",
        "coach",
        "service_type",
        "amount",
        "status",
        "created_at",
        "paid_at",
        "delivered_at",
    )
    list_display_links = ("id", "title")
    list_filter = ("status", "service_type", "currency", ("paid_at", admin.EmptyFieldListFilter))
    search_fields = ("=id", "title", "client__email", "coach__email")
    list_select_related = ("client", "coach")
    date_hierarchy = "created_at"
    readonly_fields = (
        "request_link",
        "client",
        "coach",
        "service_type",
        "title",
        "amount",
        "status",
        "deadline",
        "revisions_included",
        "revisions_used",
        "created_at",
        "paid_at",
        "delivered_at",
        "completed_at",
        "cancelled_at",
        "escalated_at",
        "links",
    )
    fields = readonly_fields
    inlines = (OrderEventInline, DeliveryInline)
    actions = ("cancel_orders", "resolve_dispute")

    @admin.display(description="amount", ordering="amount_minor")
    def amount(self, obj):
        return money(obj.amount_minor, obj.currency)

    @admin.display(description="request")
    def request_link(self, obj):
        return change_link(obj.request)

    @admin.display(description="quick links")
    def links(self, obj):
        resolve = ""
        if obj.status == OrderStatus.DISPUTED:
            url = reverse("admin:orders_order_resolve_dispute", args=[obj.pk])
            resolve = format_html('<a class="button" href="{}">Resolve this dispute…</a>', url)
        return join_links(
            *([resolve] if resolve else []),
            format_html('<a href="/orders/{}/">order page</a>', obj.pk),
            changelist_link("payments.payment", "payments", order__id__exact=obj.pk),
            format_html('<a href="{}?order={}">ledger</a>', reverse("adminpanel:transactions"), obj.pk),
            changelist_link("messaging.messagethread", "chat", order__id__exact=obj.pk),
            changelist_link("audit.auditlog", "audit", target_type="orders.order", target_id=obj.pk),
        )

    def get_urls(self):
        return [
            path(
                "<int:order_id>/resolve-dispute/",
                self.admin_site.admin_view(self.resolve_dispute_view),
                name="orders_order_resolve_dispute",
            ),
            *super().get_urls(),
        ]

    def resolve_dispute_view(self, request, order_id: int):
        """The resolve-dispute action for one order, reached from its page (a button) instead of the list."""
        if not self.has_moderate_permission(request):
            raise PermissionDenied
        order = get_object_or_404(Order, pk=order_id)
        response = self.resolve_dispute(request, Order.objects.filter(pk=order.pk))
        return response or redirect("admin:orders_order_change", order.pk)

    @admin.action(description="Cancel selected unpaid orders…", permissions=["moderate"])
    def cancel_orders(self, request, queryset):
        def cancel(order, data):
            run_audited(
                request,
                "order.cancel",
                order,
                lambda: services.cancel_order(order.pk, actor=request.user, reason=data["reason"]),
                details={"reason": data["reason"]},
            )

        return form_action(
            self,
            request,
            queryset,
            action="cancel_orders",
            form_class=ReasonForm,
            title="Cancel orders",
            intro="Only unpaid orders can be cancelled; both parties are notified with your reason.",
            perform=cancel,
            done="Cancelled {count} order(s).",
        )

    @admin.action(description="Resolve the selected dispute…", permissions=["moderate"])
    def resolve_dispute(self, request, queryset):
        from payments import services as payments_services

        orders = list(queryset[:2])
        if len(orders) != 1:
            self.message_user(request, "Select exactly one disputed order to resolve.", messages.WARNING)
            return None
        order = orders[0]
        if order.status != OrderStatus.DISPUTED:
            self.message_user(request, f"{order} is not disputed ({order.get_status_display()}).", messages.ERROR)
            return None
        refundable = _refundable(order)
        ip = client_ip(request)
        return form_action(
            self,
            request,
            queryset,
            action="resolve_dispute",
            form_class=DisputeResolutionForm,
            form_kwargs={"refundable_minor": refundable, "currency": order.currency},
            title="Resolve dispute",
            intro="Release the payment to the coach, or refund the client part or all of it through the "
            "payment provider. Both parties are notified.",
            perform=lambda order, data: payments_services.resolve_dispute(
                order, actor=request.user, refund_minor=data["refund_minor"], note=data["note"], ip_address=ip
            ),
            done="Dispute resolved.",
            max_objects=1,
            context={
                "facts": [
                    ("Order amount", money(order.amount_minor, order.currency)),
                    ("Refundable now", money(refundable, order.currency)),
                    *_dispute_facts(order),
                ]
            },
        )


@admin.register(OrderEvent)
class OrderEventAdmin(ConsoleAdmin):
    list_display = ("created_at", "order", "kind", "from_status", "to_status", "actor", "note")
    list_filter = ("kind", "to_status")
    search_fields = ("=order__id", "note", "actor__email")
    list_select_related = ("order", "actor")
    date_hierarchy = "created_at"
    readonly_fields = ("order", "kind", "from_status", "to_status", "actor", "note", "created_at")


@admin.register(Delivery)
class DeliveryAdmin(ConsoleAdmin):
    list_display = ("order", "number", "created_by", "file_count", "created_at")
    search_fields = ("=order__id", "created_by__email")
    list_select_related = ("order", "created_by")
    date_hierarchy = "created_at"
    readonly_fields = ("order", "number", "note", "files", "created_by", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(file_count=Count("files"))

    @admin.display(description="files", ordering="file_count")
    def file_count(self, obj):
        return obj.file_count


@admin.register(Review)
class ReviewAdmin(ConsoleAdmin):
    list_display = ("order", "coach", "client", "rating", "excerpt", "is_hidden", "created_at")
    list_filter = ("is_hidden", "rating")
    search_fields = ("comment", "reply", "client__email", "coach__user__email", "=order__id")
    list_select_related = ("order", "client", "coach__user")
    date_hierarchy = "created_at"
    readonly_fields = (
        "order",
        "client",
        "coach",
        "rating",
        "comment",
        "reply",
        "replied_at",
        "is_hidden",
        "created_at",
    )
    actions = ("hide_reviews", "unhide_reviews")

    @admin.display(description="comment")
    def excerpt(self, obj):
        return (obj.comment[:80] + "…") if len(obj.comment) > 80 else obj.comment

    def _set_hidden(self, request, queryset, hidden: bool):
        ip = client_ip(request)
        apply_to_each(
            self,
            request,
            queryset,
            lambda review: services.hide_review(review, actor=request.user, hidden=hidden, ip_address=ip),
            done=("Hid {count} review(s)." if hidden else "Showed {count} review(s) again."),
        )

    @admin.action(description="Hide selected reviews", permissions=["moderate"])
    def hide_reviews(self, request, queryset):
        self._set_hidden(request, queryset, True)

    @admin.action(description="Show selected reviews again", permissions=["moderate"])
    def unhide_reviews(self, request, queryset):
        self._set_hidden(request, queryset, False)
