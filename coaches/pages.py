"""Which cached pages (core.pages) show coaches' rows: the coach's own dashboard (rating, response time,
the requests their services match), and everyone's for a profile that appears or goes (order pages link it)
and for rates and languages."""

from core.pages import Everyone, follow, ignore

from .models import CoachProfile, CoachService, DirectoryOffer, ExchangeRate, Language


def _profile(profile: CoachProfile, *, created: bool, deleted: bool, **_) -> tuple[int, ...]:
    if created or deleted:
        raise Everyone
    return (profile.user_id,)


def _everyone(*args, **kwargs):
    raise Everyone


def connect() -> None:
    follow(CoachProfile, _profile)
    follow(CoachService, lambda service, **_: (service.coach.user_id,))
    follow(ExchangeRate, _everyone)
    follow(Language, _everyone)
    # Derived from the rows above (coaches.services.refresh_offers), which already make the pages stale;
    # only the public directory reads it, under its own version (coaches.directory).
    ignore(DirectoryOffer)
