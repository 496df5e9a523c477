"""requests_app's section of a user's data export: the requests they sent (with their target job) and,
for a coach, the reasons they gave when passing on one. Registered with files.exports in ready()."""

from collections.abc import Iterable

from accounts.models import User
from files.exports import Entry, as_json

from .models import RequestDecline, ServiceRequest


def section(user: User) -> Iterable[Entry]:
    sent = ServiceRequest.objects.filter(client=user).prefetch_related("attachments").order_by("created_at", "id")
    yield (
        "requests.json",
        as_json(
            [
                {
                    "id": r.pk,
                    "service_type": r.service_type,
                    "title": r.title,
                    "requirements": r.requirements,
                    "deadline": r.deadline,
                    "status": r.status,
                    "price_minor": r.price_minor,
                    "currency": r.currency,
                    "job_title": r.job_title,
                    "job_description": r.job_description,
                    "attachments": [asset.pk for asset in r.attachments.all()],
                    "created_at": r.created_at,
                }
                for r in sent
            ]
        ),
    )
    declines = RequestDecline.objects.filter(coach__user=user).order_by("created_at", "id")
    if declines:
        yield (
            "declined.json",
            as_json([{"request": d.request_id, "reason": d.reason, "created_at": d.created_at} for d in declines]),
        )
