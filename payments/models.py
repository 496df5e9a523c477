"""Payments, provider webhooks and the append-only ledger (DESIGN.md §4)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from core.models import TimeStampedModel


class Provider(models.TextChoices):
    STRIPE = "stripe", "Stripe"
    PAYPAL = "paypal", "PayPal"
    TEST = "test", "Test provider"


class PaymentStatus(models.TextChoices):
    CREATED = "created", "Created"
    AUTHORIZED = "authorized", "Authorized"
    CAPTURED = "captured", "Captured"
    FAILED = "failed", "Failed"
    REFUNDED = "refunded", "Refunded"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"


class PaymentQuerySet(models.QuerySet):
    def visible_to(self, user):
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all()
        return self.filter(Q(client=user) | Q(order__coach=user))


class Payment(TimeStampedModel):
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="payments")
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=8, choices=Provider.choices)
    provider_payment_id = models.CharField(max_length=255, help_text="Checkout Session / PayPal order id.")
    provider_capture_id = models.CharField(max_length=255, blank=True, help_text="PaymentIntent / PayPal capture id.")
    amount_minor = models.PositiveIntegerField()
    refunded_minor = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.CREATED, db_index=True
    )
    flagged_reason = models.CharField(
        max_length=300, blank=True, help_text="Set when the provider's figures disagree with ours."
    )
    captured_at = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    objects = PaymentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "provider_payment_id"], name="payments_provider_id_unique"),
            models.CheckConstraint(
                condition=Q(refunded_minor__lte=F("amount_minor")), name="payments_refund_within_amount"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} payment {self.provider_payment_id}"

    @property
    def refundable_minor(self) -> int:
        return (
            self.amount_minor - self.refunded_minor
            if self.status in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED)
            else 0
        )


class WebhookStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored (unknown type)"
    FAILED = "failed", "Failed"
    FLAGGED = "flagged", "Flagged for staff"
    DEFERRED = "deferred", "Waiting for an earlier event"


class WebhookEvent(models.Model):
    """Every provider event, stored before it is acted on; (provider, event_id) makes replays harmless."""

    provider = models.CharField(max_length=8, choices=Provider.choices)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100)
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=WebhookStatus.choices, default=WebhookStatus.RECEIVED)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    payment = models.ForeignKey(
        Payment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="webhook_events",
        help_text="The payment this event concerns, once known (deferred events are replayed from it).",
    )
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="payments_webhook_event_unique")]
        # Plain b-trees for the console's filters. db_index=True on a CharField also makes PostgreSQL a
        # varchar_pattern_ops copy for LIKE 'x%', which nothing asks (the admin's search is icontains): two
        # index insertions more per row, on every delivery's INSERT and its non-HOT UPDATE.
        indexes = [
            models.Index(fields=["event_type"], name="payments_webhook_type_idx"),
            models.Index(fields=["status"], name="payments_webhook_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.event_id}"


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", "Requested (waiting for the provider)"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Refund(TimeStampedModel):
    """A refund staff asked for (or one the provider reported). The money moves in the ledger
    only when the provider confirms it; while requested it still counts against what is refundable.

    The idempotency key is drawn once, when the row is written, and every send of this refund (the
    first, a retry after a lost answer, the settling job) uses it, so the provider makes one refund.
    """

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount_minor = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=10, choices=RefundStatus.choices, default=RefundStatus.REQUESTED, db_index=True
    )
    provider_refund_id = models.CharField(max_length=255, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    error = models.CharField(max_length=500, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    idempotency_key = models.CharField(max_length=100, blank=True, help_text="Sent with every send of this refund.")
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When it was last sent to the provider.")
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payments_refund_amount_positive"),
            models.UniqueConstraint(
                fields=["payment", "provider_refund_id"],
                condition=~Q(provider_refund_id=""),
                name="payments_refund_provider_id_unique",
            ),
            models.UniqueConstraint(
                fields=["idempotency_key"], condition=~Q(idempotency_key=""), name="payments_refund_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"Refund {self.amount_minor} {self.currency} of payment {self.payment_id} ({self.status})"

    @property
    def answer_lost(self) -> bool:
        """Sent, but the provider's answer never reached us: its outcome is unknown, not failed."""
        return self.status == RefundStatus.REQUESTED and self.sent_at is not None and not self.provider_refund_id

    def progress(self, provider_name: str) -> str:
        """What staff read about where this refund is."""
        if self.answer_lost:
            return f"Sent, waiting for {provider_name}'s answer"
        if self.status == RefundStatus.REQUESTED:
            return f"Accepted by {provider_name}, waiting for its confirmation"
        return self.get_status_display()


class LedgerEntryType(models.TextChoices):
    CHARGE = "charge", "Charge"
    REFUND = "refund", "Refund"
    PAYOUT = "payout", "Payout"


class LedgerEntry(models.Model):
    """Append-only money rows. Invariant on every row: gross = platform fee + coach payout.

    Charges are positive, refunds negative (the split reversed proportionally), payouts record the
    coach's share released (gross = payout, fee 0).
    """

    entry_type = models.CharField(max_length=8, choices=LedgerEntryType.choices, db_index=True)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="ledger_entries")
    coach = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ledger_entries")
    gross_minor = models.BigIntegerField()
    fee_minor = models.BigIntegerField()
    payout_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    idempotency_key = models.CharField(max_length=255, unique=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(gross_minor=F("fee_minor") + F("payout_minor")), name="payments_ledger_balanced"
            )
        ]
        indexes = [models.Index(fields=["order", "entry_type"]), models.Index(fields=["coach", "entry_type"])]

    def __str__(self) -> str:
        return f"{self.entry_type} {self.gross_minor} {self.currency} (order {self.order_id})"
