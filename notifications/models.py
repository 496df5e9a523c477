"""In-app notifications: one row per event that concerns a user."""

from django.conf import settings
from django.db import models

from core.models import TimeStampedModel


class NotificationQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(user=user)

    def unread(self):
        return self.filter(read_at__isnull=True)


class Notification(TimeStampedModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=48, db_index=True)
    text = models.CharField(max_length=300)
    link = models.CharField(max_length=300, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at", "-created_at"])]

    def __str__(self) -> str:
        return self.text


class SentEmail(TimeStampedModel):
    """The outbox: one row per email (or push) with an idempotency key, written before it is sent.

    A task redelivered after its worker died (acks_late + reject_on_worker_lost) finds the key already
    sent and does not send it again.
    """

    key = models.CharField(max_length=200, unique=True)
    description = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.key
