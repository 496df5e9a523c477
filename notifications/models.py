"""In-app notifications: one row per event that concerns a user."""

from django.conf import settings
from django.db import models

from core.models import TimeStampedModel

from .kinds import CATEGORIES, Category, CategoryInfo, category_of


class NotificationQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(user=user)

    def unread(self):
        return self.filter(read_at__isnull=True)


class Notification(TimeStampedModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=48, db_index=True)
    # Derived from `kind` when the row is written (kinds.category_of), stored so the inbox filters by it.
    category = models.CharField(max_length=16, choices=Category.choices, default=Category.REQUEST)
    text = models.CharField(max_length=300)
    link = models.CharField(max_length=300, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "read_at", "-created_at"]),
            models.Index(fields=["user", "category", "-created_at"]),
        ]

    def __str__(self) -> str:
        return self.text

    def save(self, *args, **kwargs):
        # The category is a function of the kind; filed here so no writer can disagree with the map.
        # (bulk_create skips save(): its callers pass category= themselves, or get the default.)
        if self._state.adding:
            self.category = category_of(self.kind)
        super().save(*args, **kwargs)

    @property
    def category_info(self) -> CategoryInfo:
        return CATEGORIES.get(self.category, CATEGORIES[Category.REQUEST])


class EmailPreference(TimeStampedModel):
    """A user's choice to get (or not) the emails of one category. No row means yes: defaults are on.

    Categories whose emails are transactional (money) are never stored as off; the service refuses.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_preferences")
    category = models.CharField(max_length=16, choices=Category.choices)
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "category"], name="notifications_one_preference_per_category"),
            models.CheckConstraint(
                condition=~models.Q(category=Category.MONEY, enabled=False),
                name="notifications_money_email_stays_on",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.category}: {'on' if self.enabled else 'off'}"


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
