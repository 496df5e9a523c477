"""The audit trail in the operator console: read-only for everyone, superusers included."""

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from core.console import ConsoleAdmin

from .models import AuditLog


@admin.register(AuditLog)
class AuditLogAdmin(ConsoleAdmin):
    list_display = ("created_at", "actor", "action", "target", "ip_address", "summary")
    list_filter = ("action", "target_type")
    search_fields = ("action", "target_repr", "=target_id", "actor__email", "=ip_address")
    list_select_related = ("actor",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "created_at",
        "actor",
        "action",
        "target",
        "target_type",
        "target_id",
        "target_repr",
        "details",
        "ip_address",
    )
    fields = readonly_fields
    actions = None

    # Never writable, whatever ConsoleAdmin's switches say: this is the record of what staff did.
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="target")
    def target(self, obj):
        app_label, _, model_name = obj.target_type.partition(".")
        try:
            url = reverse(f"admin:{app_label}_{model_name}_change", args=[obj.target_id])
        except NoReverseMatch:
            return f"{obj.target_repr} ({obj.target_type} #{obj.target_id})"
        return format_html('<a href="{}">{}</a> ({} #{})', url, obj.target_repr, obj.target_type, obj.target_id)

    @admin.display(description="details")
    def summary(self, obj):
        text = ", ".join(f"{key}: {value}" for key, value in (obj.details or {}).items())
        return (text[:120] + "…") if len(text) > 120 else text
