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
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Min, OuterRef, QuerySet, Subquery
from django.utils import timezone

from accounts.models import AccountStatus, User
from audit.services import record as audit
from core.exceptions import DomainError, NotPermitted
from core.money import exponent

from . import pricing
from .directory import directory_changed
from .models import CoachProfile, CoachService, DirectoryOffer, ExchangeRate, Language, ServiceType

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
    """Re-derive the coach's “price from” (cheapest active service), their services' prices in the base
    currency, the cheapest of those, and whether they are listed.

    Runs inside the caller's transaction whenever a CoachService row is saved or deleted
    (coaches.signals); code that bulk-updates services with .update() must call it itself.
    """
    services = list(CoachService.objects.filter(coach_id=profile_id).only("id", "price_minor", "currency"))
    _store_base_prices(services, _rates_by_currency())
    low = CoachService.objects.filter(coach_id=profile_id, is_active=True).aggregate(low=Min("price_minor"))["low"]
    CoachProfile.objects.filter(pk=profile_id).update(price_from_minor=low)
    _refresh_price_from_base(CoachProfile.objects.filter(pk=profile_id))
    _refresh_listings(CoachProfile.objects.filter(pk=profile_id))
    refresh_offers(CoachProfile.objects.filter(pk=profile_id))
    transaction.on_commit(directory_changed)


def _rates_by_currency() -> dict[str, Decimal]:
    """Units per base unit for every currency with a rate, and 1 for the base currency itself."""
    rates = dict(ExchangeRate.objects.values_list("currency", "units_per_base"))
    rates[settings.DEFAULT_CURRENCY] = Decimal(1)
    return rates


def _store_base_prices(services: list[CoachService], rates: dict[str, Decimal]) -> None:
    base = settings.DEFAULT_CURRENCY
    for service in services:
        rate = rates.get(service.currency)
        service.price_base_minor = (
            None if rate is None else pricing.to_base_minor(service.price_minor, service.currency, rate, base)
        )
    CoachService.objects.bulk_update(services, ["price_base_minor"], batch_size=1000)


def _refresh_price_from_base(profiles) -> None:
    cheapest = (
        CoachService.objects.filter(coach=OuterRef("pk"), is_active=True, price_base_minor__isnull=False)
        .order_by("price_base_minor")
        .values("price_base_minor")[:1]
    )
    profiles.update(price_from_base_minor=Subquery(cheapest))


def refresh_base_prices(currency: str | None = None) -> int:
    """Re-derive the base-currency price of every service in `currency` (all services without one), and
    the “price from” of their coaches: after a rate was set or removed, and for bulk-created services
    (the benchmark's seed). Returns how many services were recomputed."""
    rates = _rates_by_currency()
    services = CoachService.objects.only("id", "coach_id", "price_minor", "currency")
    if currency is not None:
        services = services.filter(currency=currency)
    rows = list(services)
    _store_base_prices(rows, rates)
    coach_ids = {row.coach_id for row in rows}
    profiles = CoachProfile.objects.all() if currency is None else CoachProfile.objects.filter(pk__in=coach_ids)
    _refresh_price_from_base(profiles)
    refresh_offers(None if currency is None else CoachProfile.objects.filter(services__currency=currency))
    transaction.on_commit(directory_changed)
    return len(rows)


def check_exchange_rate(currency: str, units_per_base: Decimal, as_of: date) -> None:
    """The rules a rate must meet (the console form shows them as errors; set_exchange_rate enforces them)."""
    exponent(currency)  # UnsupportedCurrency (a DomainError) for a code core.money does not know
    if currency == settings.DEFAULT_CURRENCY:
        raise DomainError(f"{currency} is the base currency: its rate is always 1.")
    if not units_per_base.is_finite() or units_per_base <= 0:
        raise DomainError("The rate must be a positive number.")
    if as_of > timezone.localdate():
        raise DomainError("The rate's date cannot be in the future.")


def set_exchange_rate(
    currency: str, *, actor: User, units_per_base: Decimal, as_of: date, ip_address: str | None = None
) -> ExchangeRate:
    """Staff set what one unit of the base currency buys in `currency` (from the console). Every price in
    that currency is re-converted in the same transaction, so the directory never mixes two rates. Audited."""
    if actor is None or not actor.is_staff:
        raise NotPermitted("Only staff can set exchange rates.")
    currency = (currency or "").strip().upper()
    units_per_base = Decimal(units_per_base)
    check_exchange_rate(currency, units_per_base, as_of)
    with transaction.atomic():
        before = ExchangeRate.objects.select_for_update().filter(currency=currency).first()
        rate, _created = ExchangeRate.objects.update_or_create(
            currency=currency, defaults={"units_per_base": units_per_base, "as_of": as_of}
        )
        refresh_base_prices(currency)
        audit(
            "coach.exchange_rate",
            rate,
            actor=actor,
            details={
                "currency": currency,
                "from": None if before is None else f"{before.units_per_base.normalize():f}",
                "to": f"{units_per_base.normalize():f}",
                "as_of": as_of.isoformat(),
            },
            ip_address=ip_address,
        )
    return rate


def remove_exchange_rate(rate: ExchangeRate, *, actor: User, ip_address: str | None = None) -> None:
    """Staff remove a rate: prices in that currency are then shown in their own money only. Audited."""
    if actor is None or not actor.is_staff:
        raise NotPermitted("Only staff can remove exchange rates.")
    with transaction.atomic():
        audit(
            "coach.exchange_rate_removed",
            rate,
            actor=actor,
            details={"currency": rate.currency, "was": f"{rate.units_per_base.normalize():f}"},
            ip_address=ip_address,
        )
        ExchangeRate.objects.filter(pk=rate.pk).delete()
        refresh_base_prices(rate.currency)


def set_rating(profile_id: int, *, average: Decimal, count: int) -> None:
    """Store a coach's visible-review aggregates (orders computes them from its reviews, holding the
    profile row lock, in the transaction that changed a review), and the score the rating sort uses."""
    CoachProfile.objects.filter(pk=profile_id).update(
        rating_avg=average,
        ratings_count=count,
        rating_score=pricing.rating_score(average, count),
        updated_at=timezone.now(),
    )
    transaction.on_commit(directory_changed)  # .update() sends no post_save (coaches.signals)


def refresh_all_rating_scores() -> None:
    """Re-derive every coach's rating score (after bulk rating updates, e.g. the benchmark's seed)."""
    rows = list(CoachProfile.objects.only("id", "rating_avg", "ratings_count"))
    for row in rows:
        row.rating_score = pricing.rating_score(row.rating_avg, row.ratings_count)
    CoachProfile.objects.bulk_update(rows, ["rating_score"], batch_size=1000)
    transaction.on_commit(directory_changed)


def refresh_search_text_for_user(user: User) -> None:
    """A coach's name is part of their search text: re-derive it after the account was renamed."""
    for profile in CoachProfile.objects.filter(user_id=user.pk).only("id", "headline", "bio"):
        text = CoachProfile.build_search_text(user.first_name, user.last_name, profile.headline, profile.bio)
        CoachProfile.objects.filter(pk=profile.pk).update(search_text=text)


def refresh_listing_for_user(user: User) -> None:
    """A coach's account was saved (suspended, reactivated, deactivated): re-derive their listing."""
    profiles = CoachProfile.objects.filter(user_id=user.pk)
    if _refresh_listings(profiles):
        refresh_offers(profiles)


def refresh_all_listings() -> int:
    """Re-derive every coach's listing (bulk imports, bulk account updates, the benchmark's seed)."""
    changed = _refresh_listings(CoachProfile.objects.all())
    if changed:
        refresh_offers()
        transaction.on_commit(directory_changed)
    return changed


def refresh_offers(profiles: QuerySet[CoachProfile] | None = None) -> int:
    """Re-derive the directory's offers (coaches.models.DirectoryOffer) of `profiles`, of every coach when
    None: one row per active service of a listed coach × language they write in. Runs inside the
    transaction (its own when there is none) of whatever changed a listing, a service (added, removed, paused, activated, repriced, a
    rate) or a coach's languages (coaches.signals); code that does so with .update() must call it itself.
    Returns how many rows `profiles` have now."""
    offers = DirectoryOffer.objects.all()
    spoken = CoachProfile.languages.through.objects.filter(
        coachprofile__in_directory=True, coachprofile__services__is_active=True
    )
    locked = CoachProfile.objects.select_for_update().order_by("pk")
    if profiles is not None:  # a subquery in each statement: `profiles` must not be defined by the offers
        offers = offers.filter(coach__in=profiles.values("pk"))
        spoken = spoken.filter(coachprofile__in=profiles.values("pk"))
        locked = locked.filter(pk__in=profiles.values("pk"))
    with transaction.atomic(savepoint=False):
        # Two refreshes of one coach at once (a service saved while a language is added) would each delete
        # the rows they see and the later one's INSERT meet the earlier one's new rows: one at a time, and
        # each statement after the lock sees what the other committed.
        list(locked.values_list("pk", flat=True))
        offers.delete()
        rows = [
            DirectoryOffer(
                coach_id=coach_id, service_type=service_type, language_id=language_id, price_base_minor=price
            )
            for coach_id, service_type, language_id, price in spoken.values_list(
                "coachprofile_id",
                "coachprofile__services__service_type",
                "language_id",
                "coachprofile__services__price_base_minor",
            ).iterator(chunk_size=2000)
        ]
        DirectoryOffer.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


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
