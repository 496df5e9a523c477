"""Uploaded files: stored under generated keys, scanned before anyone may download them."""

from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.db import models

from core.models import TimeStampedModel


class FileCategory(models.TextChoices):
    CV_UPLOAD = "cv_upload", "CV or document"
    DELIVERY = "delivery", "Delivery"
    MESSAGE_ATTACHMENT = "message_attachment", "Message attachment"
    AVATAR = "avatar", "Avatar"
    DISPUTE_EVIDENCE = "dispute_evidence", "Dispute evidence"
    DATA_EXPORT = "data_export", "Data export"


class ScanStatus(models.TextChoices):
    PENDING = "pending", "Scanning"
    CLEAN = "clean", "Clean"
    INFECTED = "infected", "Infected"
    ERROR = "error", "Scan failed"


class StorageKind(models.TextChoices):
    LOCAL = "local", "Local folder"
    S3 = "s3", "S3"


# Who besides the owner may see a file, as lookups over the relations that point at FileAsset.
_SHARED_WITH = (
    "service_requests__order__coach",
    "deliveries__order__client",
    "deliveries__order__coach",
    "messages__thread__order__client",
    "messages__thread__order__coach",
    "dispute_statements__order__client",
    "dispute_statements__order__coach",
)


class FileAssetQuerySet(models.QuerySet):
    def live(self):
        return self.filter(deleted_at__isnull=True)

    def clean(self):
        return self.live().filter(scan_status=ScanStatus.CLEAN)

    def visible_to(self, user):
        """Live files `user` may download: their own, and those of their orders, requests and threads.

        files sits below requests_app, orders and messaging, so it reaches them only through the
        app registry and the reverse relations they declare (service_requests, deliveries,
        messages), never by import.
        """
        if user is None or not user.is_authenticated:
            return self.none()
        live = self.live()
        if user.is_staff:
            return live
        # A request's attachments travel with the request: whoever may open it (its client, the coach it
        # was sent to, matching coaches while it is open, the coach of its order) may open them.
        ServiceRequest = apps.get_model("requests_app", "ServiceRequest")
        shared = models.Q(owner=user) | models.Q(pk__in=ServiceRequest.objects.visible_to(user).values("attachments"))
        for lookup in _SHARED_WITH:
            shared |= models.Q(pk__in=self.model.objects.filter(**{lookup: user}).values("pk"))
        return live.filter(shared)


class FileAsset(TimeStampedModel):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="files")
    storage = models.CharField(max_length=8, choices=StorageKind.choices, default=StorageKind.LOCAL)
    key = models.CharField(max_length=255, unique=True)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    category = models.CharField(max_length=24, choices=FileCategory.choices, db_index=True)
    scan_status = models.CharField(max_length=12, choices=ScanStatus.choices, default=ScanStatus.PENDING, db_index=True)
    scan_detail = models.CharField(max_length=255, blank=True)
    scanned_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = FileAssetQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.original_name

    @property
    def is_downloadable(self) -> bool:
        return self.scan_status == ScanStatus.CLEAN and self.deleted_at is None


class Avatar(TimeStampedModel):
    """A user's profile photo: a files record keyed by the user, so accounts never points up at files.

    `user.avatar.asset` is the photo; a user without one has no row (`getattr(user, "avatar", None)`).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="avatar"
    )
    asset = models.OneToOneField(FileAsset, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"avatar of user {self.user_id}"


class ExportStatus(models.TextChoices):
    BUILDING = "building", "Being prepared"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class DataExport(TimeStampedModel):
    """A user's request for a copy of their data: a ZIP built in the background, kept FILE_EXPORT_DAYS."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_exports")
    status = models.CharField(max_length=10, choices=ExportStatus.choices, default=ExportStatus.BUILDING)
    asset = models.OneToOneField(FileAsset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)
    failure = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One export at a time is being built per user: a second click finds the first one.
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(status="building"), name="files_one_export_building"
            )
        ]

    def __str__(self) -> str:
        return f"Data export #{self.pk} of user {self.user_id} ({self.status})"

    @property
    def expires_at(self):
        """When the expiry job erases the ZIP (it counts from the file's creation)."""
        if self.asset is None:
            return None
        return self.asset.created_at + timedelta(days=settings.FILE_EXPORT_DAYS)
