"""Orders, their timeline, versioned deliveries and reviews."""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q

from coaches.models import ServiceType
from core.models import SMALL_INT_MAX, TimeStampedModel


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Awaiting payment"
    IN_PROGRESS = "in_progress", "In progress"
    DELIVERED = "delivered", "Delivered"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    DISPUTED = "disputed", "Disputed"


ACTIVE_STATUSES = (OrderStatus.PENDING, OrderStatus.IN_PROGRESS, OrderStatus.DELIVERED, OrderStatus.DISPUTED)


class OrderQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Orders a user may open: staff all, everyone else only those they are a party to."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all()
        return self.filter(Q(client=user) | Q(coach=user))

    def active(self):
        return self.filter(status__in=ACTIVE_STATUSES)


class Order(TimeStampedModel):
    request = models.OneToOneField("requests_app.ServiceRequest", on_delete=models.PROTECT, related_name="order")
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="client_orders")
    coach = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="coach_orders")
    service_type = models.CharField(max_length=16, choices=ServiceType.choices)
    title = models.CharField(max_length=160)
    amount_minor = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=12, choices=OrderStatus.choices, default=OrderStatus.PENDING, db_index=True)
    deadline = models.DateField()
    revisions_included = models.PositiveSmallIntegerField(default=2, validators=[SMALL_INT_MAX])
    revisions_used = models.PositiveSmallIntegerField(default=0)
    paid_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    resolution_claimed_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Set while staff settle this dispute (a refund may be with the provider); a second "
        "resolution is refused meanwhile.",
    )

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="orders_amount_positive"),
            models.CheckConstraint(
                condition=Q(revisions_used__lte=models.F("revisions_included")), name="orders_revisions_within_limit"
            ),
        ]
        indexes = [
            models.Index(fields=["client", "status"]),
            models.Index(fields=["coach", "status"]),
            models.Index(fields=["status", "delivered_at"]),
            models.Index(fields=["status", "deadline"]),
            # Staff analytics' time from payment to delivery picks the orders paid in its range.
            models.Index(fields=["paid_at"], name="orders_order_paid_at"),
        ]

    def __str__(self) -> str:
        return f"Order #{self.pk}: {self.title}"

    @property
    def revisions_left(self) -> int:
        return max(self.revisions_included - self.revisions_used, 0)

    @property
    def completes_by_itself_at(self) -> datetime.datetime | None:
        """When a delivered order completes if the client neither accepts nor asks for a revision
        (the auto_complete_silent_deliveries job, ORDER_AUTO_COMPLETE_DAYS after the latest delivery)."""
        if self.status != OrderStatus.DELIVERED or self.delivered_at is None:
            return None
        return self.delivered_at + datetime.timedelta(days=settings.ORDER_AUTO_COMPLETE_DAYS)


class OrderEvent(models.Model):
    """One row per status change (and notable non-status event): the order's timeline."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    kind = models.CharField(max_length=32, default="status")
    note = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '-'} → {self.to_status or '-'}"


class Delivery(TimeStampedModel):
    """A numbered delivery; each revision round adds one, so history is kept."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="deliveries")
    number = models.PositiveSmallIntegerField(validators=[SMALL_INT_MAX])
    note = models.TextField(blank=True)
    files = models.ManyToManyField("files.FileAsset", blank=True, related_name="deliveries")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["order", "number"]
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["order", "number"], name="orders_delivery_number_unique")]

    def __str__(self) -> str:
        return f"Delivery {self.number} of order #{self.order_id}"


class Review(TimeStampedModel):
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="review")
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews_written")
    coach = models.ForeignKey("coaches.CoachProfile", on_delete=models.CASCADE, related_name="reviews")
    rating = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    reply = models.TextField(blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    is_hidden = models.BooleanField(default=False, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(rating__gte=1) & Q(rating__lte=5), name="orders_review_rating_range")
        ]
        indexes = [
            models.Index(fields=["coach", "is_hidden", "-created_at"]),
            # The landing's testimonials: the first rows of this index, not a sort of every review.
            models.Index(
                fields=["-rating", "-created_at"],
                condition=Q(is_hidden=False, rating__gte=4) & ~Q(comment=""),
                name="orders_review_testimonials",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rating}★ for {self.coach}"


class DisputeRole(models.TextChoices):
    """Who speaks: the side that did not open the dispute gives a statement, the opener may answer it."""

    STATEMENT = "statement", "Statement"
    ANSWER = "answer", "Answer"


class DisputeStatement(models.Model):
    """One side's account of a dispute, with optional evidence files: one statement, then one answer."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="dispute_statements")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=12, choices=DisputeRole.choices)
    body = models.TextField()
    files = models.ManyToManyField("files.FileAsset", blank=True, related_name="dispute_statements")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["order", "role"], name="orders_dispute_statement_once")]

    def __str__(self) -> str:
        return f"{self.get_role_display()} on order #{self.order_id}"
