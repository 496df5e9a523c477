"""The readable text of every CV and delivery, the redlines between versions, comments anchored to the
text, and the job descriptions a client compares their versions against. All of it is personal data:
only the order's parties and staff reach it (scoped querysets), and the retention job deletes it."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.models import TimeStampedModel


class ExtractionStatus(models.TextChoices):
    OK = "ok", "Read"
    FAILED = "failed", "Could not be read"


class Extraction(TimeStampedModel):
    """What we could read of one file: blocks of text (headings, paragraphs, items, tables) and facts."""

    asset = models.OneToOneField("files.FileAsset", on_delete=models.CASCADE, related_name="extraction")
    status = models.CharField(max_length=8, choices=ExtractionStatus.choices)
    failure_code = models.CharField(max_length=24, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    kind = models.CharField(max_length=8, blank=True)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    pages_estimated = models.BooleanField(default=False)
    has_text_layer = models.BooleanField(null=True)
    blocks = models.JSONField(default=list, blank=True)
    flags = models.JSONField(default=dict, blank=True)
    word_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"Text of file #{self.asset_id} ({self.get_status_display()})"

    @property
    def ok(self) -> bool:
        return self.status == ExtractionStatus.OK


class Redline(TimeStampedModel):
    """The word-level comparison of two extractions, computed once per pair."""

    old = models.ForeignKey(Extraction, on_delete=models.CASCADE, related_name="+")
    new = models.ForeignKey(Extraction, on_delete=models.CASCADE, related_name="+")
    rows = models.JSONField(default=list)
    summary = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["old", "new"], name="documents_redline_pair_unique")]

    def __str__(self) -> str:
        return f"Redline {self.old_id} → {self.new_id}"


class CommentQuerySet(models.QuerySet):
    def visible_to(self, user):
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all()
        return self.filter(Q(order__client=user) | Q(order__coach=user))


class Comment(TimeStampedModel):
    """A comment on a passage of one version (or a reply to one: parent set, no passage)."""

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="document_comments")
    asset = models.ForeignKey("files.FileAsset", on_delete=models.CASCADE, related_name="document_comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    block = models.PositiveIntegerField(null=True, blank=True)
    quote = models.TextField(blank=True)
    body = models.TextField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set when the comment went into a revision request as one item of its checklist.
    sent_in_revision_at = models.DateTimeField(null=True, blank=True)

    objects = CommentQuerySet.as_manager()

    class Meta:
        ordering = ["block", "created_at", "id"]
        indexes = [models.Index(fields=["order", "asset"])]

    def __str__(self) -> str:
        return f"Comment #{self.pk} on file #{self.asset_id}"

    @property
    def is_open(self) -> bool:
        return self.parent_id is None and self.resolved_at is None


class JobDescription(TimeStampedModel):
    """A job the client is aiming for: every version's match report is measured against it."""

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="job_descriptions")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=160)
    text = models.TextField()
    # The job the client attached to the request, carried onto the order when it was created.
    from_request = models.BooleanField(default=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=Q(from_request=True), name="documents_job_one_from_request"
            )
        ]

    def __str__(self) -> str:
        return self.title


class OrderRetention(TimeStampedModel):
    """When a finished order's documents were announced for deletion, and when (and what) was deleted.

    One row per order, written by the retention jobs: `warned_at` makes the advance notice go out once,
    `purged_at` lets the order page say the documents were removed and after how many days."""

    order = models.OneToOneField("orders.Order", on_delete=models.CASCADE, related_name="document_retention")
    warned_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    retention_days = models.PositiveIntegerField()
    deleted = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"Retention of order #{self.order_id}"
