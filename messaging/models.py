"""Conversations between a client and a coach (staff may read and moderate).

A thread belongs to an order, or is the one pre-order thread of a client and a coach (asked from the
coach page), which becomes the order's thread when that client orders from that coach.
"""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from core.models import TimeStampedModel


class MessageThreadQuerySet(models.QuerySet):
    def visible_to(self, user):
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all()
        return self.filter(Q(client=user) | Q(coach=user))


class MessageThread(TimeStampedModel):
    order = models.OneToOneField("orders.Order", on_delete=models.CASCADE, related_name="thread", null=True, blank=True)
    # The two people in the conversation: the order's client and coach once there is an order.
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    coach = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_message_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = MessageThreadQuerySet.as_manager()

    class Meta:
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "coach"], condition=Q(order__isnull=True), name="messaging_one_preorder_thread"
            ),
            models.CheckConstraint(condition=~Q(client=F("coach")), name="messaging_thread_two_people"),
        ]

    def __str__(self) -> str:
        return f"Thread for order #{self.order_id}" if self.order_id else f"Pre-order thread #{self.pk}"

    @property
    def title(self) -> str:
        return self.order.title if self.order is not None else "Before an order"


class Message(models.Model):
    thread = models.ForeignKey(MessageThread, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="messages_sent")
    body = models.TextField(blank=True)
    is_moderator = models.BooleanField(default=False)
    client_token = models.CharField(
        max_length=64, blank=True, help_text="The sender's id for the message, so a resend is not saved twice."
    )
    attachments = models.ManyToManyField("files.FileAsset", blank=True, related_name="messages")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    # Not a column: the broadcast form a fresh save carries (services.send_message), so the push after
    # commit and the sender's reply need no queries. None on a message loaded from the database.
    payload: dict[str, Any] | None = None

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["thread", "created_at", "id"]),
            # Unread counts and catch-up (?after=<id>) scan a thread's messages by id.
            models.Index(fields=["thread", "id"], name="messaging_msg_thread_id_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "client_token"],
                condition=~Q(client_token=""),
                name="messaging_message_client_token_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.sender_id}: {self.body[:40]}"


class ThreadReadState(models.Model):
    """How far each participant has read a thread: per-reader read time of every message, in one row."""

    thread = models.ForeignKey(MessageThread, on_delete=models.CASCADE, related_name="read_states")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_read_message_id = models.BigIntegerField(default=0)
    last_read_at = models.DateTimeField(null=True, blank=True)
    last_emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["thread", "user"], name="messaging_read_state_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} read thread {self.thread_id} up to message {self.last_read_message_id}"
