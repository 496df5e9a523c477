"""Order conversations in the operator console (staff may read; messages are never edited here)."""

from django.contrib import admin
from django.db.models import Count

from core.console import ConsoleAdmin, ReadOnlyInline

from .models import Message, MessageThread, ThreadReadState


class MessageInline(ReadOnlyInline):
    model = Message
    fields = ("created_at", "sender", "is_moderator", "body")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("sender")


@admin.register(MessageThread)
class MessageThreadAdmin(ConsoleAdmin):
    list_display = ("id", "order", "client", "coach", "message_count", "last_message_at", "created_at")
    search_fields = ("=order__id", "order__title", "client__email", "coach__email")
    list_select_related = ("order", "client", "coach")
    date_hierarchy = "created_at"
    readonly_fields = ("order", "client", "coach", "last_message_at", "created_at")
    fields = readonly_fields
    inlines = (MessageInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(message_count=Count("messages"))

    @admin.display(description="messages", ordering="message_count")
    def message_count(self, obj):
        return obj.message_count


@admin.register(Message)
class MessageAdmin(ConsoleAdmin):
    list_display = ("created_at", "thread", "sender", "excerpt", "is_moderator", "attachment_count")
    list_filter = ("is_moderator",)
    search_fields = ("body", "sender__email", "=thread__order__id")
    list_select_related = ("thread", "sender")
    date_hierarchy = "created_at"
    readonly_fields = ("thread", "sender", "body", "is_moderator", "attachments", "created_at")
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(attachment_count=Count("attachments"))

    @admin.display(description="message")
    def excerpt(self, obj):
        return (obj.body[:80] + "…") if len(obj.body) > 80 else obj.body

    @admin.display(description="files", ordering="attachment_count")
    def attachment_count(self, obj):
        return obj.attachment_count


@admin.register(ThreadReadState)
class ThreadReadStateAdmin(ConsoleAdmin):
    list_display = ("thread", "user", "last_read_message_id", "last_read_at", "last_emailed_at")
    search_fields = ("user__email", "=thread__order__id")
    list_select_related = ("thread", "user")
    readonly_fields = ("thread", "user", "last_read_message_id", "last_read_at", "last_emailed_at")
