"""Every change to a coach's public profile, services and standing goes through here."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from audit.services import record as audit
from elite.exceptions import NotPermitted

from .models import CoachProfile

# How many of a coach's most recent decisions the response time averages over, and how far back.
RESPONSE_TIME_SAMPLE = 50
RESPONSE_TIME_WINDOW_DAYS = 180


def get_or_create_profile(user) -> CoachProfile:
    """A coach's profile, created empty the first time they need it (signup creates none)."""
    if not getattr(user, "is_coach", False):
        raise NotPermitted("Only coaches have a coach profile.")
    profile, _created = CoachProfile.objects.get_or_create(user=user)
    return profile


def set_verified(profile: CoachProfile, *, actor, verified: bool, ip_address: str | None = None) -> CoachProfile:
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
    profile.response_time_hours = hours
    return hours
