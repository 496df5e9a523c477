"""In-app notifications in the operator console (read-only: what each user was told, and when)."""

from django.contrib import admin

from core.console import ConsoleAdmin

from .models import EmailPreference, Notification, SentEmail


class ReadFilter(admin.SimpleListFilter):
    title = "read"
    parameter_name = "read"

    def lookups(self, request, model_admin):
        return [("no", "Unread"), ("yes", "Read")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(read_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(read_at__isnull=False)
        return queryset


@admin.register(Notification)
class NotificationAdmin(ConsoleAdmin):
    list_display = ("created_at", "user", "category", "kind", "text", "read_at")
    list_filter = ("category", "kind", ReadFilter)
    search_fields = ("user__email", "text")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    readonly_fields = ("user", "category", "kind", "text", "link", "read_at", "created_at")
    fields = readonly_fields


@admin.register(SentEmail)
class SentEmailAdmin(ConsoleAdmin):
    """The outbox: an email with attempts > 1 was retried after its worker died or SMTP failed."""

    list_display = ("created_at", "key", "description", "attempts", "sent_at")
    search_fields = ("key", "description")
    date_hierarchy = "created_at"
    readonly_fields = ("key", "description", "attempts", "sent_at", "created_at")
    fields = readonly_fields


@admin.register(EmailPreference)
class EmailPreferenceAdmin(ConsoleAdmin):
    """Who switched which emails off (read-only: users choose on their email page or by unsubscribing)."""

    list_display = ("user", "category", "enabled", "updated_at")
    list_filter = ("category", "enabled")
    search_fields = ("user__email",)
    list_select_related = ("user",)
    readonly_fields = ("user", "category", "enabled", "created_at", "updated_at")
    fields = readonly_fields
