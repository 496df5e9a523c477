"""Service requests in the operator console (read-only: requests move through requests_app/orders services)."""

from django.contrib import admin
from django.db.models import Count

from core.console import ConsoleAdmin, change_link, money

from .models import RequestDecline, ServiceRequest


class OpenRequestFilter(admin.SimpleListFilter):
    title = "addressed to"
    parameter_name = "addressed"

    def lookups(self, request, model_admin):
        return [("open", "Any matching coach (open)"), ("coach", "One coach")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(coach__isnull=True)
        if self.value() == "coach":
            return queryset.filter(coach__isnull=False)
        return queryset


@admin.register(ServiceRequest)
class ServiceRequestAdmin(ConsoleAdmin):
    list_display = (
        "id",
        "title",
        "client",
        "coach",
        "service_type",
        "price",
        "status",
        "attachment_count",
        "created_at",
        "expires_at",
        "decided_at",
    )
    list_display_links = ("id", "title")
    list_filter = ("status", "service_type", OpenRequestFilter)
    search_fields = ("=id", "title", "client__email", "coach__user__email")
    list_select_related = ("client", "coach__user")
    date_hierarchy = "created_at"
    readonly_fields = (
        "client",
        "coach",
        "service_type",
        "title",
        "requirements",
        "deadline",
        "price",
        "status",
        "created_at",
        "expires_at",
        "reminder_sent_at",
        "decided_at",
        "rejection_reason",
        "attachments",
        "order_link",
    )
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(attachment_count=Count("attachments"))

    @admin.display(description="price", ordering="price_minor")
    def price(self, obj):
        return money(obj.price_minor, obj.currency) if obj.price_minor is not None else "—"

    @admin.display(description="files", ordering="attachment_count")
    def attachment_count(self, obj):
        return obj.attachment_count

    @admin.display(description="order")
    def order_link(self, obj):
        return change_link(getattr(obj, "order", None))


@admin.register(RequestDecline)
class RequestDeclineAdmin(ConsoleAdmin):
    list_display = ("request", "coach", "reason", "created_at")
    search_fields = ("=request__id", "coach__user__email", "reason")
    list_select_related = ("request", "coach__user")
    date_hierarchy = "created_at"
    readonly_fields = ("request", "coach", "reason", "created_at")
