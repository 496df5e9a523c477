"""Every change to a coach's public profile, services and standing goes through here.

Signature: `verb(profile, *, actor, …, ip_address=None)`: what a coach or staff member does takes
the CoachProfile instance (re-read under a lock where it matters) and records `ip_address` on the
audit row. Derived data (price from, rating, listing, search text, response time) is re-derived by
`refresh_*`/`set_rating`/`recompute_*`, which take the profile (or its id) and no actor: they run
inside the transaction of the change that made them stale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from accounts.models import AccountStatus, User
from audit.services import record as audit
from core.exceptions import DomainError, NotPermitted

from .directory import directory_changed
from .models import CoachProfile, CoachService, Language, ServiceType

CURRENCIES = ("GBP", "EUR", "USD")
MAX_PORTFOLIO_LINKS = 5
PROFILE_FIELDS = ("headline", "bio", "years_experience", "is_available")
LISTABLE_ACCOUNT_STATUS = AccountStatus.ACTIVE


@dataclass(frozen=True)
class ServiceOffer:
    """One service a coach offers, as the profile form hands it over (price already in minor units)."""

    service_type: str
    price_minor: int
    currency: str
    delivery_days: int
    revisions_included: int
    is_active: bool = True


# How many of a coach's most recent decisions the response time averages over, and how far back.
RESPONSE_TIME_SAMPLE = 50
RESPONSE_TIME_WINDOW_DAYS = 180


def get_or_create_profile(user: User) -> CoachProfile:
    """A coach's profile, created empty the first time they need it (signup creates none)."""
    if not getattr(user, "is_coach", False):
        raise NotPermitted("Only coaches have a coach profile.")
    profile, _created = CoachProfile.objects.get_or_create(user=user)
    return profile


def _check_owner(profile: CoachProfile, actor: User | None) -> None:
    if actor is None or actor.pk != profile.user_id:
        raise NotPermitted("You can only edit your own coach profile.")


def update_profile(
    profile: CoachProfile,
    *,
    actor: User,
    changes: dict[str, object],
    languages: Iterable[Language] | None = None,
    portfolio_links: list[str] | None = None,
    offers: list[ServiceOffer] | None = None,
) -> CoachProfile:
    """The coach saves their public profile, and (when `offers` is given) the full list of their services.

    `changes` holds only PROFILE_FIELDS. Validation of values belongs to the form; this checks
    the actor and the rules that hold whatever the caller (form, admin, seed) is.
    """
    _check_owner(profile, actor)
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise DomainError(f"Unknown profile fields: {', '.join(sorted(unknown))}.")
    if portfolio_links is not None and len(portfolio_links) > MAX_PORTFOLIO_LINKS:
        raise DomainError(f"At most {MAX_PORTFOLIO_LINKS} portfolio links.")
    with transaction.atomic():
        locked = CoachProfile.objects.select_for_update().get(pk=profile.pk)
        for field, value in changes.items():
            setattr(locked, field, value)
        fields = [*changes, "updated_at"]
        if portfolio_links is not None:
            locked.portfolio_links = list(portfolio_links)
            fields.append("portfolio_links")
        locked.save(update_fields=fields)
        if languages is not None:
            locked.languages.set(languages)
        if offers is not None:
            _set_services(locked, offers)
    return locked


def set_services(profile: CoachProfile, *, actor: User, offers: list[ServiceOffer]) -> list[CoachService]:
    """Make the coach's services exactly `offers`: update those kept, add new ones, remove the rest."""
    _check_owner(profile, actor)
    with transaction.atomic():
        locked = CoachProfile.objects.select_for_update().get(pk=profile.pk)
        return _set_services(locked, offers)


def _set_services(profile: CoachProfile, offers: list[ServiceOffer]) -> list[CoachService]:
    types = [offer.service_type for offer in offers]
    if len(types) != len(set(types)):
        raise DomainError("Each service can be offered only once.")
    for offer in offers:
        if offer.service_type not in ServiceType.values:
            raise DomainError(f"Unknown service “{offer.service_type}”.")
        if offer.currency not in CURRENCIES:
            raise DomainError(f"Prices can be in {', '.join(CURRENCIES)}.")
        if offer.price_minor <= 0 or offer.delivery_days < 1 or offer.revisions_included < 0:
            raise DomainError("Prices and delivery days must be positive.")
    CoachService.objects.filter(coach=profile).exclude(service_type__in=types).delete()
    saved = []
    for offer in offers:
        service, _created = CoachService.objects.update_or_create(
            coach=profile,
            service_type=offer.service_type,
            defaults={
                "price_minor": offer.price_minor,
                "currency": offer.currency,
                "delivery_days": offer.delivery_days,
                "revisions_included": offer.revisions_included,
                "is_active": offer.is_active,
            },
        )
        saved.append(service)
    return saved


def refresh_price_from(profile_id: int) -> None:
    """Re-derive the coach's “price from” (cheapest active service) and whether they are listed.

    Runs inside the caller's transaction whenever a CoachService row is saved or deleted
    (coaches.signals); code that bulk-updates services with .update() must call it itself.
    """
    low = CoachService.objects.filter(coach_id=profile_id, is_active=True).aggregate(low=Min("price_minor"))["low"]
    CoachProfile.objects.filter(pk=profile_id).update(price_from_minor=low)
    _refresh_listings(CoachProfile.objects.filter(pk=profile_id))
    transaction.on_commit(directory_changed)


def set_rating(profile_id: int, *, average: Decimal, count: int) -> None:
    """Store a coach's visible-review aggregates (orders computes them from its reviews, holding the
    profile row lock, in the transaction that changed a review)."""
    CoachProfile.objects.filter(pk=profile_id).update(
        rating_avg=average, ratings_count=count, updated_at=timezone.now()
    )
    transaction.on_commit(directory_changed)  # .update() sends no post_save (coaches.signals)


def refresh_search_text_for_user(user: User) -> None:
    """A coach's name is part of their search text: re-derive it after the account was renamed."""
    for profile in CoachProfile.objects.filter(user_id=user.pk).only("id", "headline", "bio"):
        text = CoachProfile.build_search_text(user.first_name, user.last_name, profile.headline, profile.bio)
        CoachProfile.objects.filter(pk=profile.pk).update(search_text=text)


def refresh_listing_for_user(user: User) -> None:
    """A coach's account was saved (suspended, reactivated, deactivated): re-derive their listing."""
    _refresh_listings(CoachProfile.objects.filter(user_id=user.pk))


def refresh_all_listings() -> int:
    """Re-derive every coach's listing (bulk imports, bulk account updates, the benchmark's seed)."""
    changed = _refresh_listings(CoachProfile.objects.all())
    if changed:
        transaction.on_commit(directory_changed)
    return changed


def _refresh_listings(profiles) -> int:
    """Store the listing rule (an active account offering a service) in `profiles`' in_directory.

    Two UPDATEs that match no row unless a listing really changes; returns how many changed.
    """
    listed = CoachProfile.objects.filter(
        price_from_minor__isnull=False, user__is_active=True, user__account_status=LISTABLE_ACCOUNT_STATUS
    ).values("pk")
    changed = profiles.filter(pk__in=listed, in_directory=False).update(in_directory=True)
    return changed + profiles.exclude(pk__in=listed).filter(in_directory=True).update(in_directory=False)


def set_verified(profile: CoachProfile, *, actor: User, verified: bool, ip_address: str | None = None) -> CoachProfile:
    """Staff mark a coach as verified (the directory shows a badge) or take it back. Audited."""
    if actor is None or not actor.is_staff:
        raise NotPermitted("Only staff can verify coaches.")
    with transaction.atomic():
        locked = CoachProfile.objects.select_for_update().get(pk=profile.pk)
        before = locked.is_verified
        if before != verified:
            locked.is_verified = verified
            locked.save(update_fields=["is_verified", "updated_at"])
        audit(
            "coach.verify" if verified else "coach.unverify",
            locked,
            actor=actor,
            details={"from": before, "to": verified},
            ip_address=ip_address,
        )
    profile.is_verified = verified
    return profile


def recompute_response_time(profile: CoachProfile) -> float | None:
    """Average hours from a request's creation to this coach's accept/reject decision.

    Averages the coach's most recent decided requests (at most RESPONSE_TIME_SAMPLE, within
    RESPONSE_TIME_WINDOW_DAYS), so the figure follows how the coach answers now. No decisions → None.
    The requests are reached through the reverse relation so coaches does not import requests_app
    (DESIGN.md §3a); orders calls this after every accept/reject.
    """
    since = timezone.now() - timedelta(days=RESPONSE_TIME_WINDOW_DAYS)
    pairs = list(
        profile.requests.filter(status__in=("accepted", "rejected"), decided_at__isnull=False, decided_at__gte=since)
        .order_by("-decided_at")
        .values_list("created_at", "decided_at")[:RESPONSE_TIME_SAMPLE]
    )
    hours = None
    if pairs:
        total = sum(max((decided - created).total_seconds(), 0.0) for created, decided in pairs)
        hours = round(total / len(pairs) / 3600, 2)
    CoachProfile.objects.filter(pk=profile.pk).update(response_time_hours=hours, updated_at=timezone.now())
    transaction.on_commit(directory_changed)  # .update() sends no post_save (coaches.signals)
    profile.response_time_hours = hours
    return hours
