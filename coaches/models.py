"""Coaches' public profiles and the services (with prices) they offer."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from core.models import INT_MAX, TimeStampedModel

from .pricing import rating_score


class ServiceType(models.TextChoices):
    CV = "cv", "CV writing"
    COVER_LETTER = "cover_letter", "Cover letter"
    LINKEDIN = "linkedin", "LinkedIn profile"
    BUNDLE = "bundle", "Career bundle (all three)"


class Language(models.Model):
    code = models.CharField(max_length=8, unique=True)
    name = models.CharField(max_length=64)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CoachProfileQuerySet(models.QuerySet):
    def listed(self):
        """Coaches the public directory shows: active account and at least one service offered."""
        # in_directory is derived from exactly that rule (coaches.services.refresh_listing), so the
        # directory's queries join neither the services nor the users table to decide it.
        return self.filter(in_directory=True)


class CoachProfile(TimeStampedModel):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coach_profile")
    headline = models.CharField(max_length=160, blank=True)
    bio = models.TextField(blank=True)
    years_experience = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(60)])
    languages = models.ManyToManyField(Language, blank=True, related_name="coaches")
    portfolio_links = models.JSONField(default=list, blank=True)
    is_available = models.BooleanField(default=True, db_index=True)
    is_verified = models.BooleanField(default=False, db_index=True)
    rating_avg = models.DecimalField(max_digits=3, decimal_places=2, default=0, db_index=True)
    ratings_count = models.PositiveIntegerField(default=0, validators=[INT_MAX])
    response_time_hours = models.FloatField(null=True, blank=True, db_index=True)
    search_text = models.TextField(
        blank=True, editable=False, help_text="Lower-cased name, headline and bio for the directory search. Derived."
    )
    price_from_minor = models.PositiveIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="Cheapest active service price (minor units); empty when no service is offered. Derived.",
    )
    price_from_base_minor = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="Cheapest active service converted to the marketplace's base currency (DEFAULT_CURRENCY), "
        "minor units; empty when no active service has an exchange rate. Derived (coaches.pricing).",
    )
    rating_score = models.DecimalField(
        max_digits=6,
        decimal_places=4,
        default=0,
        editable=False,
        help_text="Bayesian average of the visible reviews, what the rating sort orders by. Derived "
        "(coaches.pricing.rating_score).",
    )
    in_directory = models.BooleanField(
        default=False,
        editable=False,
        help_text="Listed in the public directory: an active account offering at least one service. Derived.",
    )

    objects = CoachProfileQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(rating_avg__gte=0) & Q(rating_avg__lte=5), name="coaches_rating_avg_range"
            )
        ]
        # The directory's sorts (coaches.directory.SORTS) each walk one of these for the first page.
        indexes = [
            models.Index(fields=["-rating_avg", "-ratings_count", "id"], name="coaches_rating_sort_idx"),
            models.Index(fields=["response_time_hours", "id"], name="coaches_response_sort_idx"),
            models.Index(fields=["-created_at", "-id"], name="coaches_newest_sort_idx"),
            models.Index(fields=["price_from_minor", "id"], name="coaches_price_sort_idx"),
            models.Index(fields=["price_from_base_minor", "id"], name="coaches_base_price_sort_idx"),
            models.Index(fields=["-rating_score", "-ratings_count", "id"], name="coaches_score_sort_idx"),
            # search_text also has a trigram (GIN) index on PostgreSQL: migration 0006.
        ]

    def __str__(self) -> str:
        return self.user.display_name

    SEARCH_SOURCE_FIELDS = frozenset({"headline", "bio", "user"})
    RATING_FIELDS = frozenset({"rating_avg", "ratings_count"})

    def save(self, *args, **kwargs):
        # The search document and the rating score are derived here so every save (services, admin,
        # factories) keeps them; coaches.services.set_rating keeps the score on its .update().
        self.search_text = self.build_search_text(self.user.first_name, self.user.last_name, self.headline, self.bio)
        self.rating_score = rating_score(self.rating_avg, self.ratings_count)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            extra = set()
            if self.SEARCH_SOURCE_FIELDS & set(update_fields):
                extra.add("search_text")
            if self.RATING_FIELDS & set(update_fields):
                extra.add("rating_score")
            if extra:
                kwargs["update_fields"] = {*update_fields, *extra}
        super().save(*args, **kwargs)

    @staticmethod
    def build_search_text(first_name: str, last_name: str, headline: str, bio: str) -> str:
        return " ".join(part for part in (first_name, last_name, headline, bio) if part).lower()

    @property
    def is_listed(self) -> bool:
        """The rule in_directory is derived from, read live from a profile loaded with its user
        (the coach page decides its 404 on this, not on the stored column)."""
        user = self.user
        return self.price_from_minor is not None and user.is_active and user.account_status == "active"


class CoachService(TimeStampedModel):
    coach = models.ForeignKey(CoachProfile, on_delete=models.CASCADE, related_name="services")
    service_type = models.CharField(max_length=16, choices=ServiceType.choices)
    price_minor = models.PositiveIntegerField(help_text="Price in minor units (pence, cents).", validators=[INT_MAX])
    currency = models.CharField(max_length=3, default="GBP")
    delivery_days = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    revisions_included = models.PositiveSmallIntegerField(default=2, validators=[MaxValueValidator(10)])
    is_active = models.BooleanField(default=True)
    price_base_minor = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="The price in the base currency (DEFAULT_CURRENCY) at the current exchange rate, minor "
        "units; empty when its currency has no rate. Derived (coaches.services.refresh_base_prices).",
    )

    class Meta:
        ordering = ["service_type"]
        constraints = [
            models.UniqueConstraint(fields=["coach", "service_type"], name="coaches_service_unique_per_type"),
            models.CheckConstraint(condition=Q(price_minor__gt=0), name="coaches_service_price_positive"),
            models.CheckConstraint(condition=Q(delivery_days__gte=1), name="coaches_service_delivery_days_min"),
        ]
        indexes = [
            models.Index(fields=["service_type", "is_active", "price_minor"]),
            models.Index(fields=["service_type", "is_active", "price_base_minor"], name="coaches_service_base_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_service_type_display()} by {self.coach}"


class ExchangeRate(TimeStampedModel):
    """What one unit of the base currency (DEFAULT_CURRENCY) buys in `currency`, as staff entered it in
    the console on `as_of`. The directory converts prices with it (coaches.pricing); a currency
    without a row is shown in its own money only and left out of price comparisons."""

    currency = models.CharField(max_length=3, unique=True)
    units_per_base = models.DecimalField(
        max_digits=18,
        decimal_places=8,
        help_text="How much of this currency one unit of the base currency buys, e.g. 1.17 EUR per GBP.",
    )
    as_of = models.DateField(help_text="The day the rate is from.")

    class Meta:
        ordering = ["currency"]
        constraints = [models.CheckConstraint(condition=Q(units_per_base__gt=0), name="coaches_rate_positive")]

    def __str__(self) -> str:
        return f"{self.currency} {self.units_per_base} ({self.as_of:%d %b %Y})"


class DirectoryOffer(models.Model):
    """One active service of a listed coach in one language the coach writes in: the directory's
    "this service, in this language, by price" ids come from one index of this table, with no probe of the
    profile (listed?) or the languages (speaks it?) per row. Derived, never edited: rows exist exactly for
    listed coaches' active services × their languages (coaches.services.refresh_offers keeps them)."""

    coach = models.ForeignKey(
        CoachProfile,
        on_delete=models.CASCADE,
        related_name="directory_offers",
        db_index=False,  # the unique constraint's index starts with coach_id
    )
    service_type = models.CharField(max_length=16, choices=ServiceType.choices)
    # No index of its own: a language is deleted rarely, the main index serves every read.
    language = models.ForeignKey(Language, on_delete=models.CASCADE, related_name="+", db_index=False)
    price_base_minor = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The service's price_base_minor (empty: its currency has no rate)."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["coach", "service_type", "language"], name="coaches_offer_unique_per_language"
            )
        ]
        indexes = [
            # The ids in the directory's price order (NULLS LAST is the ascending default), index-only.
            models.Index(
                fields=["service_type", "language", "price_base_minor", "coach"], name="coaches_offer_price_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.service_type} in {self.language_id} by coach {self.coach_id}"
