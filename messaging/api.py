"""messaging on the REST API: open an order's thread, my threads, a thread's messages (cursor), send one.

Live delivery stays on the websocket (/ws/threads/<id>/, events in docs/api.md); this is the same
conversation for clients that poll, and sends through the same service, limits included.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.response import Response

from core.api import StrictSerializer, examples, takes
from orders.models import Order

from . import services
from .models import Message, MessageThread


@examples(
    {
        "The conversation of an order": {
            "id": 77,
            "order_id": 311,
            "last_message_at": "2026-12-01T08:12:30Z",
            "created_at": "2026-11-30T09:02:45Z",
            "unread": 2,
            "read_only": False,
        }
    }
)
class ThreadSerializer(serializers.ModelSerializer):
    unread = serializers.IntegerField(read_only=True, default=0)
    read_only = serializers.SerializerMethodField(help_text="The order ended: no new messages.")

    class Meta:
        model = MessageThread
        fields = ["id", "order_id", "last_message_at", "created_at", "unread", "read_only"]

    def get_read_only(self, thread: MessageThread) -> bool:
        return services.is_read_only(thread)


@examples(
    {
        "A message with an attachment": {
            "id": 4021,
            "thread_id": 77,
            "sender_id": 42,
            "is_moderator": False,
            "body": "Here is the job advert I mentioned.",
            "client_token": "9f1c2b7e-0d6a-4f61-a1f4-3b1e2d9c8a10",
            "created_at": "2026-12-01T08:12:30Z",
            "attachment_ids": [1211],
        }
    }
)
class MessageSerializer(serializers.ModelSerializer):
    attachment_ids = serializers.PrimaryKeyRelatedField(source="attachments", many=True, read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "thread_id",
            "sender_id",
            "is_moderator",
            "body",
            "client_token",
            "created_at",
            "attachment_ids",
        ]


@examples({"The conversation of an order": {"order_id": 311}})
class OpenThreadSerializer(StrictSerializer):
    order_id = serializers.IntegerField()


@examples(
    {
        "Text": {"body": "Thanks, the draft reads well.", "client_token": "4b0f8d2a-7c1e-4e59-9a3d-2f6b1c0e7d55"},
        "An attachment": {"body": "Here is the job advert I mentioned.", "attachment_ids": [1211]},
    }
)
class NewMessageSerializer(StrictSerializer):
    body = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="")
    attachment_ids = serializers.ListField(child=serializers.IntegerField(), required=False, max_length=20)
    client_token = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default="", help_text="Your id for it: a resend is saved once."
    )


class Threads(generics.ListAPIView):
    serializer_class = ThreadSerializer
    cursor_ordering = ("-activity", "-id")

    def get_queryset(self):
        return services.threads_for_list(self.request.user)

    @extend_schema(summary="My conversations, most recent activity first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @takes(
        OpenThreadSerializer,
        summary="Open (or get) the conversation of an order",
        responses={201: ThreadSerializer, 200: ThreadSerializer},
    )
    def post(self, request, data):
        order = get_object_or_404(Order.objects.visible_to(request.user), pk=data["order_id"])
        existed = MessageThread.objects.filter(order=order).exists()
        thread = services.get_or_create_thread(order)
        answer = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        return Response(ThreadSerializer(thread).data, status=answer)


class ThreadMessages(generics.ListAPIView):
    serializer_class = MessageSerializer

    def get_queryset(self):
        thread = services.thread_for(self.request.user, self.kwargs["pk"])
        return Message.objects.filter(thread=thread).prefetch_related("attachments")

    @extend_schema(summary="A conversation's messages, newest first (cursor)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @takes(
        NewMessageSerializer,
        summary="Send a message (participants; staff as moderator)",
        responses={201: MessageSerializer},
    )
    def post(self, request, data, pk: int):
        thread = services.thread_for(request.user, pk)
        try:
            attachments = services.attachments_from_ids(request.user, data.get("attachment_ids", []))
        except DjangoValidationError as exc:
            raise exceptions.ValidationError({"attachment_ids": exc.messages}) from exc
        message = services.send_message(
            thread, actor=request.user, body=data["body"], attachments=attachments, client_token=data["client_token"]
        )
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("threads", Threads.as_view(), name="threads"),
    path("threads/<int:pk>/messages", ThreadMessages.as_view(), name="thread-messages"),
]
