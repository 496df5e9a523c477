"""Which cached pages (core.pages) show requests: the client's and the addressed coach's dashboards, and
for an open request every coach's (the OPEN_REQUESTS topic their dashboards follow)."""

from core.pages import follow, topic_changed

from .models import RequestDecline, ServiceRequest

OPEN_REQUESTS = "open-requests"


def _request(service_request: ServiceRequest, **_) -> tuple[int | None, ...]:
    if service_request.posted_open:
        topic_changed(OPEN_REQUESTS)  # posted, taken, withdrawn or expired: every matching coach's list
    coach = service_request.coach
    return (service_request.client_id, coach.user_id if coach is not None else None)


def connect() -> None:
    follow(ServiceRequest, _request)
    follow(RequestDecline, lambda decline, **_: (decline.coach.user_id,))
