"""coaches' section of a user's data export: a coach's public profile as they wrote it (headline, bio,
languages, links, availability) and the services they offer with their prices. The figures the
marketplace derives (rating, response time, directory prices) are not the coach's words and stay out.
Registered with files.exports in ready()."""

from collections.abc import Iterable

from accounts.models import User
from files.exports import Entry, as_json

from .models import CoachProfile


def section(user: User) -> Iterable[Entry]:
    profile = CoachProfile.objects.filter(user=user).prefetch_related("languages", "services").first()
    if profile is None:
        return
    yield (
        "profile.json",
        as_json(
            {
                "headline": profile.headline,
                "bio": profile.bio,
                "years_experience": profile.years_experience,
                "languages": sorted(language.code for language in profile.languages.all()),
                "portfolio_links": profile.portfolio_links,
                "is_available": profile.is_available,
                "created_at": profile.created_at,
                "services": [
                    {
                        "service_type": service.service_type,
                        "price_minor": service.price_minor,
                        "currency": service.currency,
                        "delivery_days": service.delivery_days,
                        "revisions_included": service.revisions_included,
                        "is_active": service.is_active,
                    }
                    for service in sorted(profile.services.all(), key=lambda s: (s.service_type, s.pk))
                ],
            }
        ),
    )
