"""Orders, their timeline and reviews in the operator console.

Cancelling and settling disputes go through orders.services / payments.services (this module is
part of the console layer, see adminpanel/console.py).
"""

from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from core.console import (
    ConsoleAdmin,
    ReadOnlyInline,
    ReasonForm,
    apply_to_each,
    change_link,
    changelist_link,
    form_action,
    join_links,
    money,
)
from core.http import client_ip
from orders import services

from .models import Delivery, DisputeStatement, Order, OrderEvent, OrderStatus, Review


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
    actions: tuple[str, ...] = ("cancel_orders",)

    @admin.display(description="amount", ordering="amount_minor")
    def amount(self, obj):
        return money(obj.amount_minor, obj.currency)

    @admin.display(description="request")
    def request_link(self, obj):
        return change_link(obj.request)

    def extra_links(self, obj: Order) -> list[str]:
        """Buttons the layers above add to an order's page (payments: "Resolve this dispute…")."""
        return []

    @admin.display(description="quick links")
    def links(self, obj):
        return join_links(
            *self.extra_links(obj),
            format_html('<a href="{}">order page</a>', reverse("orders:detail", args=[obj.pk])),
            changelist_link("payments.payment", "payments", order__id__exact=obj.pk),
            format_html('<a href="{}?order={}">ledger</a>', reverse("adminpanel:transactions"), obj.pk),
            changelist_link("messaging.messagethread", "chat", order__id__exact=obj.pk),
            changelist_link("audit.auditlog", "audit", target_type="orders.order", target_id=obj.pk),
        )

    @admin.action(description="Cancel selected unpaid orders…", permissions=["moderate"])
    def cancel_orders(self, request, queryset):
        ip = client_ip(request)

        def cancel(order, data):
            services.cancel_order(order.pk, actor=request.user, reason=data["reason"], ip_address=ip)

        return form_action(
            self,
            request,
            queryset,
            action="cancel_orders",
            form_class=ReasonForm,
            title="Cancel orders",
            intro="Only unpaid orders can be cancelled; both parties are notified with your reason.",
            perform=cancel,
            done=("Cancelled {count} order.", "Cancelled {count} orders."),
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


@admin.register(DisputeStatement)
class DisputeStatementAdmin(ConsoleAdmin):
    """What each side said in a dispute; staff read them here and on the resolve page."""

    list_display = ("order", "role", "author", "created_at")
    list_filter = ("role",)
    search_fields = ("=order__id", "author__email", "body")
    list_select_related = ("order", "author")
    date_hierarchy = "created_at"
    fields = ("order", "role", "author", "body", "files", "created_at")
    readonly_fields = fields


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
            lambda review: services.hide_review(review.pk, actor=request.user, hidden=hidden, ip_address=ip),
            done=(
                ("Hid {count} review.", "Hid {count} reviews.")
                if hidden
                else ("Showed {count} review again.", "Showed {count} reviews again.")
            ),
        )

    @admin.action(description="Hide selected reviews", permissions=["moderate"])
    def hide_reviews(self, request, queryset):
        self._set_hidden(request, queryset, True)

    @admin.action(description="Show selected reviews again", permissions=["moderate"])
    def unhide_reviews(self, request, queryset):
        self._set_hidden(request, queryset, False)
