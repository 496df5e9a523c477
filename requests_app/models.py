"""Service requests: a client asks one coach (or any matching coach) for a piece of work."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from coaches.models import CoachProfile, CoachService, ServiceType
from core.models import INT_MAX, TimeStampedModel


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"


class ServiceRequestQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(status=RequestStatus.PENDING)

    def for_client(self, user):
        return self.filter(client=user)

    def visible_to(self, user):
        """The requests a user may open: their own as client, or addressed/open-and-matching as coach."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all()
        if user.role == "coach":
            profile = getattr(user, "coach_profile", None)
            if profile is None:
                return self.none()
            offered = CoachService.objects.filter(coach=profile, is_active=True).values("service_type")
            return self.filter(
                Q(coach=profile)
                | Q(coach__isnull=True, service_type__in=offered, status=RequestStatus.PENDING)
                | Q(order__coach=user)
            ).distinct()
        return self.filter(client=user)

    def available_to(self, profile: CoachProfile):
        """Pending requests a coach can act on: addressed to them, or open, matching and not declined by them."""
        return self.available_to_profile_id(profile.pk, profile.pk, profile.pk, is_available=profile.is_available)

    def available_to_profile_id(self, addressed: int, offering: int, declined: int, *, is_available: bool):
        """available_to by the profile's id, given once for each place the query uses it (core.sqlmemo, which
        the coach's dashboard runs it through, finds each value once among the parameters)."""
        wanted = Q(coach=addressed)
        if is_available:
            offered = CoachService.objects.filter(coach=offering, is_active=True).values("service_type")
            wanted |= Q(coach__isnull=True, service_type__in=offered)
        return (
            self.pending()
            .filter(wanted)
            .exclude(declines__coach=declined)
            .select_related("client", "coach")
            .order_by("expires_at", "id")
        )

    def acceptable_by(self, user):
        """What a coach may try to accept: what they can see, plus open requests of their services that
        someone else already took (so the answer is 409 "already taken", not 404)."""
        profile = getattr(user, "coach_profile", None)
        offered = CoachService.objects.filter(coach=profile, is_active=True).values("service_type")
        return self.filter(
            Q(pk__in=self.model.objects.visible_to(user).values("pk")) | Q(posted_open=True, service_type__in=offered)
        )


class ServiceRequest(TimeStampedModel):
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="service_requests")
    coach = models.ForeignKey(
        CoachProfile,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="requests",
        help_text="Empty for an open request any matching coach may take.",
    )
    service_type = models.CharField(max_length=16, choices=ServiceType.choices, db_index=True)
    title = models.CharField(max_length=160)
    requirements = models.TextField()
    deadline = models.DateField()
    price_minor = models.PositiveIntegerField(
        validators=[INT_MAX],
        null=True,
        blank=True,
        help_text="Snapshot of the coach's price; set on acceptance for open requests.",
    )
    currency = models.CharField(max_length=3, blank=True)
    status = models.CharField(
        max_length=12, choices=RequestStatus.choices, default=RequestStatus.PENDING, db_index=True
    )
    expires_at = models.DateTimeField(db_index=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.CharField(max_length=500, blank=True)
    attachments = models.ManyToManyField("files.FileAsset", blank=True, related_name="service_requests")
    # Kept after acceptance (when `coach` is filled in), so a coach who lost the race for an open
    # request is told "already taken" (409) rather than "not found".
    posted_open = models.BooleanField(default=False)
    # A target job the client pastes with the request; it becomes the order's first job-match target.
    job_title = models.CharField(max_length=160, blank=True)
    job_description = models.TextField(blank=True)

    objects = ServiceRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "expires_at"]),
            models.Index(fields=["coach", "status"]),
            models.Index(fields=["client", "status"]),
        ]

    def __str__(self) -> str:
        return self.title


class RequestDecline(TimeStampedModel):
    """A coach passing on an open request: it disappears from their list, not from others'."""

    request = models.ForeignKey(ServiceRequest, on_delete=models.CASCADE, related_name="declines")
    coach = models.ForeignKey(CoachProfile, on_delete=models.CASCADE, related_name="declined_requests")
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["request", "coach"], name="requests_decline_once")]
