"""The landing page's figures: price ranges, marketplace totals and testimonials.

They aggregate the whole marketplace (every listed coach's services, every visible review), so
they are computed once and cached until a coach, a service or a review changes
(coaches.directory.directory_changed, which the services and signals already call) or the
directory cache time passes. A visit then costs one cache round trip and no query.
"""

from django.conf import settings
from django.db.models import Avg, Count, Max, Min

from coaches.directory import cached_with_directory
from coaches.models import CoachProfile, CoachService, ServiceType
from orders.models import Review

CACHE_KEY = "elite:landing:v1"  # bump when the cached shape changes
TESTIMONIALS = 6


def landing_figures() -> dict:
    return cached_with_directory(CACHE_KEY, _compute)


def _compute() -> dict:
    visible_reviews = Review.objects.filter(is_hidden=False)
    stats = visible_reviews.aggregate(average=Avg("rating"), count=Count("id"))
    stats["coaches"] = CoachProfile.objects.listed().count()
    return {"plans": _plans(), "stats": stats, "testimonials": _testimonials(visible_reviews)}


def _plans() -> list[dict]:
    offers = (
        CoachService.objects.filter(is_active=True, coach__in=CoachProfile.objects.listed().values("pk"))
        .values("service_type", "currency")
        .annotate(low=Min("price_minor"), high=Max("price_minor"), coaches=Count("coach", distinct=True))
        .order_by("service_type", "currency")
    )
    ranges: dict[str, list[dict]] = {}
    for row in offers:
        ranges.setdefault(row["service_type"], []).append(row)
    for rows in ranges.values():
        # The site's own currency first; coaches may price in others too.
        rows.sort(key=lambda r: (r["currency"] != settings.DEFAULT_CURRENCY, -r["coaches"]))
    plans = []
    for value, label in ServiceType.choices:
        rows = ranges.get(value, [])
        plans.append({"type": value, "label": label, "range": rows[0] if rows else None, "others": rows[1:]})
    return plans


def _testimonials(visible_reviews) -> list[dict]:
    """The best recent reviews with words, as plain values (what the carousel shows, nothing more).

    Served by the partial index orders_review_testimonials: the first six rows of an index scan
    instead of sorting every qualifying review."""
    rows = (
        visible_reviews.filter(rating__gte=4)
        .exclude(comment="")
        .select_related("client", "coach__user", "order")
        .only(
            "rating",
            "comment",
            "coach_id",
            "client__first_name",
            "coach__user__first_name",
            "coach__user__last_name",
            "coach__user__email",
            "order__service_type",
        )
        .order_by("-rating", "-created_at")[:TESTIMONIALS]
    )
    return [
        {
            "rating": review.rating,
            "comment": review.comment,
            "client_first_name": review.client.first_name,
            "coach_id": review.coach_id,
            "coach_name": review.coach.user.display_name,
            "service_label": review.order.get_service_type_display(),
        }
        for review in rows
    ]
