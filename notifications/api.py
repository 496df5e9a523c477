"""notifications on the REST API: my inbox (cursor), mark read (some or all), my email choices.

The same services as the pages (notifications.services): the inbox's filters, mark_read scoped to the
caller's own rows, and set_email_preferences with its rule that money emails stay on.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import StrictSerializer, examples, takes, validated_query
from core.exceptions import DomainError
from core.http import client_ip

from . import kinds, services
from .models import Notification


@examples(
    {
        "A delivery, unread": {
            "id": 9071,
            "kind": "order_delivered",
            "category": "delivery",
            "text": "Grace Holloway delivered order #311.",
            "link": "/orders/311/",
            "read": False,
            "created_at": "2026-12-01T08:12:30Z",
        }
    }
)
class NotificationSerializer(serializers.ModelSerializer):
    category = serializers.ChoiceField(choices=kinds.Category.choices, read_only=True)
    read = serializers.SerializerMethodField(help_text="Whether you have read it.")

    class Meta:
        model = Notification
        fields = ["id", "kind", "category", "text", "link", "read", "created_at"]

    def get_read(self, notification: Notification) -> bool:
        return notification.read_at is not None


class InboxQuery(StrictSerializer):
    category = serializers.ChoiceField(choices=kinds.Category.choices, required=False)
    unread = serializers.BooleanField(required=False, default=False)


@examples({"Some": {"ids": [9071, 9072]}, "All": {}})
class MarkReadSerializer(StrictSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=500,
        help_text="Leave out to mark every notification read. Ids that are not yours are ignored.",
    )


@examples({"Two marked": {"marked": 2, "unread": 5}})
class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many were unread and are read now.")
    unread = serializers.IntegerField(help_text="Your unread notifications left.")


def _preferences_serializer(name: str, base: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """One boolean per category, built from the category list so a new category appears on its own."""
    fields = {
        str(category): serializers.BooleanField(required=False, help_text=info.email_help)
        for category, info in kinds.CATEGORIES.items()
    }
    return type(name, (base,), fields)


MESSAGES_OFF = {"money": True, "request": True, "delivery": True, "message": False, "dispute": True}
EmailChoicesSerializer = examples({"Messages off": {"message": False}})(
    _preferences_serializer("EmailChoicesSerializer", StrictSerializer)
)
EmailPreferencesSerializer = examples({"Messages off": MESSAGES_OFF})(
    _preferences_serializer("EmailPreferencesSerializer", serializers.Serializer)
)


class Inbox(generics.ListAPIView):
    serializer_class = NotificationSerializer

    def get_queryset(self):
        query = validated_query(InboxQuery, self.request)
        rows = Notification.objects.for_user(self.request.user)
        if query.get("category"):
            rows = rows.filter(category=query["category"])
        return rows.unread() if query["unread"] else rows

    @extend_schema(
        summary="My notifications, newest first (cursor)",
        parameters=[
            OpenApiParameter(
                "category", str, enum=[str(value) for value in kinds.Category.values], description="Only this category."
            ),
            OpenApiParameter("unread", bool, description="Only unread ones."),
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MarkRead(APIView):
    @takes(MarkReadSerializer, summary="Mark notifications read (the given ids, or all)", responses=MarkedSerializer)
    def post(self, request, data):
        marked = services.mark_read(actor=request.user, notification_ids=data.get("ids"))
        return Response({"marked": marked, "unread": services.unread_count(request.user)})


class EmailPreferences(APIView):
    @extend_schema(summary="Which notification emails I get", responses=EmailPreferencesSerializer)
    def get(self, request):
        return Response(services.email_preferences(request.user))

    @takes(
        EmailChoicesSerializer,
        summary="Choose which notification emails I get (money emails stay on)",
        responses=EmailPreferencesSerializer,
    )
    def patch(self, request, data):
        try:
            chosen = services.set_email_preferences(
                request.user, actor=request.user, choices=data, ip_address=client_ip(request)
            )
        except DomainError as exc:
            raise serializers.ValidationError({"money": [str(exc)]}) from exc
        return Response(chosen)


urlpatterns = [
    path("notifications", Inbox.as_view(), name="notifications"),
    path("notifications/read", MarkRead.as_view(), name="notifications-read"),
    path("notifications/email-preferences", EmailPreferences.as_view(), name="notification-email-preferences"),
]
