"""What each role's dashboard shows. Lives at project level because it reads every app.

Every list is capped and every relation it shows is joined, so the query count does not grow
with the rows behind it (orders/tests/test_dashboards.py).
"""

import datetime
from functools import cache, lru_cache
from types import SimpleNamespace
from typing import Any

from django.db.models import Count, Max, Q, QuerySet, Subquery, Window
from django.db.models.functions import Coalesce
from django.template.defaultfilters import date as date_filter
from django.template.defaultfilters import timeuntil_filter
from django.utils import translation
from django.utils.safestring import SafeString

from coaches.models import CoachProfile
from core import sqlmemo
from core.fragments import STAND_IN_PK, printed, slotted
from core.templatetags.money import money
from notifications import services as notifications
from orders.models import Order, OrderStatus, Review
from orders.views import waiting_for
from requests_app.models import RequestStatus, ServiceRequest

REVIEWS_TO_ANSWER = 3  # the newest reviews without a reply, each with its reply form
LIST_SIZE = 8


ORDER_ROW = "dashboards/_order_row.html"

# Each order row is filled in from its per-process form (core.fragments.slotted): the row prints the order's
# title, other party, deadline, amount and what it waits for, and tests nothing of it but the shape below. The
# id, the deadline and the amount cannot pass through {% url %}, |date and {% money %} as slot strings, so the
# stand-in has an id, a deadline and an amount no order has (amount_minor is a 32-bit column; the amount in CLF,
# a unit of account nobody pays in: the currency is printed only inside the amount), and the text each prints
# as is marked. A row printed from its form costs about an eighth of a render and its fragment read (issue 13).
_NO_DEADLINE = datetime.date(1, 1, 1)
_NO_AMOUNT = 44_444_444_444_444
_NO_CURRENCY = "CLF"
_DUE = "j M Y"  # the row's o.deadline|date:"j M Y"; another format leaves the sentinel in the form (rendered)
_STAND_IN_USER = {"pk": -1}


@lru_cache(maxsize=4096)
def _due(deadline: datetime.date | None, language: str | None) -> str:
    """The deadline (a date: no time zone to convert to) as the row prints it, in `language` (the active one);
    deadlines repeat from row to row."""
    return printed(date_filter(deadline, _DUE))


@lru_cache(maxsize=16)
def _marks(language: str | None) -> dict[str, str]:
    amount = printed(money(_NO_AMOUNT, _NO_CURRENCY))
    return {"pk": str(STAND_IN_PK), "due": _due(_NO_DEADLINE, language), "amount": amount}


class _StandInOrder:
    """An order as dashboards/_order_row.html may see it: the shape's values, slots and sentinels for the rest."""

    def __init__(self, slots: dict[str, str], *, order: Order, as_coach: bool) -> None:
        self.pk = STAND_IN_PK
        self.title = slots["title"]
        self.status = order.status
        self._status_display = order.get_status_display()  # the status's, in the active language
        self.coach_id = _STAND_IN_USER["pk"] if as_coach else None
        party = SimpleNamespace(display_name=slots["name"])
        self.client: SimpleNamespace | None = party if as_coach else None
        self.coach: SimpleNamespace | None = None if as_coach else party
        self.deadline = _NO_DEADLINE
        self.amount_minor = _NO_AMOUNT
        self.currency = _NO_CURRENCY
        self.escalated_at = True if order.escalated_at is not None else None
        self.waiting_for = slots["waiting"]

    def get_status_display(self) -> str:
        return self._status_display


def _order_row(order, user, language: str | None) -> SafeString:
    """One row of `order` (its waiting_for set for `user`), as dashboards/_order_row.html renders it."""
    as_coach = user.pk == order.coach_id
    values = {
        "pk": str(order.pk),  # what the path's <int:pk> prints; data-order-id's {{ o.pk }} too, ungrouped
        "title": printed(order.title),
        "name": printed((order.client if as_coach else order.coach).display_name),
        "due": _due(order.deadline, language),
        "amount": printed(money(order.amount_minor, order.currency)),
        "waiting": printed(order.waiting_for),
    }
    return slotted(
        ORDER_ROW,
        (as_coach, order.status, order.escalated_at is not None),
        values,
        stand_in=lambda slots: {"o": _StandInOrder(slots, order=order, as_coach=as_coach), "user": _STAND_IN_USER},
        real=lambda: {"o": order, "user": {"pk": user.pk}},
        marks=_marks(language),
    )


def _order_rows(orders, user) -> list[SafeString]:
    language = translation.get_language()
    return [_order_row(order, user, language) for order in orders]


OPEN_REQUEST_ROW = "dashboards/_open_request_row.html"
INCOMING_ROW = "dashboards/_incoming_row.html"
_REQUEST_MARKS = {"pk": str(STAND_IN_PK)}
# The rows print r.expires_in: its expires_at|timeuntil, computed once here (the template's own filter) for the row
# and for its first fill's check, which a render a moment later could print otherwise ("1 minute", "0 minutes").


def _request_rows(requests, template_name: str, *, incoming: bool) -> list[SafeString]:
    """Each request as `template_name` renders it: the client's open requests (to a coach or open), or the
    coach's incoming ones (for them or open)."""
    return [_request_row(request, template_name, incoming=incoming) for request in requests]


def _request_row(request: ServiceRequest, template_name: str, *, incoming: bool) -> SafeString:
    request.expires_in = timeuntil_filter(request.expires_at)  # type: ignore[attr-defined]
    if incoming:
        addressed = request.coach_id is not None
        name = request.client.display_name
        kind = printed(request.get_service_type_display())
    else:
        addressed = request.coach is not None
        name = request.coach.user.display_name if request.coach is not None else ""
        kind = ""
    values = {
        "pk": str(request.pk),  # what the path's <int:pk> prints; data-request-id's {{ r.pk }} too, ungrouped
        "title": printed(request.title),
        "name": printed(name),
        "kind": kind,
        "expires": printed(request.expires_in),  # type: ignore[attr-defined]
    }

    def stand_in(slots: dict[str, str]) -> dict[str, Any]:
        party = SimpleNamespace(display_name=slots["name"])
        coach = SimpleNamespace(user=party) if addressed else None
        shown = SimpleNamespace(
            pk=STAND_IN_PK,
            title=slots["title"],
            coach=None if incoming else coach,
            coach_id=(_STAND_IN_USER["pk"] if addressed else None) if incoming else None,
            client=party if incoming else None,
            get_service_type_display=(lambda: slots["kind"]) if incoming else None,
            expires_in=slots["expires"],
        )
        return {"r": shown}

    return slotted(
        template_name,
        (addressed,),
        values,
        stand_in=stand_in,
        real=lambda: {"r": request},
        marks=_REQUEST_MARKS,
    )


def _recent_notifications(user):
    return notifications.recent(user, 5)


# The context's queries are compiled once per process and kept prepared (core.sqlmemo: a dashboard on a miss
# spent more on building these querysets than on running them). Each is a lookup by the user's id, whose
# generic plan is the custom one (an index on the user's column).


# Only the columns the lists show (and what waiting_for and the shapes test): a cold dashboard converted every
# column of every row, a dozen timestamps nobody shows among them.
_ORDER_ROW_FIELDS = ("title", "status", "deadline", "amount_minor", "currency", "escalated_at", "client_id", "coach_id")
_NAME_FIELDS = ("first_name", "last_name", "email")  # User.display_name's


def _client_active_orders(given) -> QuerySet:
    orders = Order.objects.filter(client_id=given["user"]).active().select_related("coach")
    orders = orders.only(*_ORDER_ROW_FIELDS, *(f"coach__{name}" for name in _NAME_FIELDS))
    return orders.order_by("deadline", "id")[:LIST_SIZE]


def _client_open_requests(given) -> QuerySet:
    requests = ServiceRequest.objects.for_client(given["user"]).pending().select_related("coach__user")
    requests = requests.only(
        "title", "expires_at", "coach_id", "coach__user_id", *(f"coach__user__{n}" for n in _NAME_FIELDS)
    )
    return requests.order_by("expires_at", "id")[:LIST_SIZE]


def _client(user) -> dict:
    mine = {"user": user.pk}
    active: list = sqlmemo.instances("client dashboard: active orders", _client_active_orders, mine, prepare=True)
    for order in active:
        order.waiting_for = waiting_for(order, user)
    open_requests = sqlmemo.instances("client dashboard: open requests", _client_open_requests, mine, prepare=True)
    return {
        "active_orders": active,
        "active_order_rows": _order_rows(active, user),
        "open_requests": open_requests,
        "open_request_rows": _request_rows(open_requests, OPEN_REQUEST_ROW, incoming=False),
        "notifications": _recent_notifications(user),
        # Shown only when no order is active: counted then, once (the template calls it).
        "completed_count": cache(Order.objects.filter(client=user, status=OrderStatus.COMPLETED).count),
    }


def _coach_jobs(given) -> QuerySet:
    """The coach's first active jobs, each with the count of their completed orders: one statement for the
    two (the count's subquery is uncorrelated: PostgreSQL runs it once). No job, no row: then _coach_completed."""
    jobs = Order.objects.filter(coach_id=given["user"]).active().select_related("client")
    jobs = jobs.only(*_ORDER_ROW_FIELDS, *(f"client__{name}" for name in _NAME_FIELDS))
    completed = Subquery(_coach_completed({"user": given["completed_of"]}))
    return jobs.annotate(completed_count=Coalesce(completed, 0)).order_by("deadline", "id")[:LIST_SIZE]


def _coach_completed(given) -> QuerySet:
    # COUNT(*) as a row: what .count() sends, in a shape sqlmemo can keep
    orders = Order.objects.filter(coach_id=given["user"], status=OrderStatus.COMPLETED)
    return orders.order_by().values("coach_id").annotate(n=Count("*")).values_list("n")


# What the coach dashboard shows of the profile (its link, rating, response time) and tests (is_available)
_PROFILE_FIELDS = ("user_id", "is_available", "rating_avg", "ratings_count", "response_time_hours")


def _coach_profile(given) -> QuerySet:
    return CoachProfile.objects.filter(user_id=given["user"]).only(*_PROFILE_FIELDS).order_by()[:1]


def _coach_unanswered(given) -> QuerySet:
    reviews = Review.objects.filter(coach_id=given["profile"], replied_at__isnull=True, is_hidden=False)
    return (
        reviews.select_related("client", "order")
        .only("rating", "comment", "created_at", "order__title", "client__first_name", "client__email")
        .order_by("-created_at", "-id")[:REVIEWS_TO_ANSWER]
    )


def _coach_incoming(is_available: bool):
    def build(given) -> QuerySet:
        available = ServiceRequest.objects.available_to_profile_id(
            given["addressed"], given["offering"], given["declined"], is_available=is_available
        )
        shown = ("title", "service_type", "coach_id", "expires_at", *(f"client__{name}" for name in _NAME_FIELDS))
        return available.select_related(None).select_related("client").only(*shown)  # the coach's only its id

    return build


def _incoming_rows(build):
    """The first incoming requests, each with the count of all of them (COUNT(*) OVER (): counted before the
    LIMIT), so the list and the "Requests waiting" figure are one statement."""

    def first_rows(given) -> QuerySet:
        return build(given).annotate(incoming_count=Window(Count("*")))[:LIST_SIZE]

    return first_rows


def _coach(user) -> dict:
    mine = {"user": user.pk}
    found: list = sqlmemo.instances("coach dashboard: profile", _coach_profile, mine, prepare=True)
    profile = found[0] if found else None
    incoming: list[Any] = []
    incoming_count = 0
    if profile is not None:
        # available_for(profile), its first rows and their count
        build = _coach_incoming(profile.is_available)
        ids = {"addressed": profile.pk, "offering": profile.pk, "declined": profile.pk}
        shape = ("coach dashboard: incoming", profile.is_available)
        incoming = list(sqlmemo.instances(shape, _incoming_rows(build), ids, prepare=True, annotations=True))
        incoming_count = incoming[0].incoming_count if incoming else 0
    jobs: list = sqlmemo.instances(
        "coach dashboard: jobs", _coach_jobs, {**mine, "completed_of": user.pk}, prepare=True, annotations=True
    )
    for order in jobs:
        order.waiting_for = waiting_for(order, user)
    if jobs:
        completed = jobs[0].completed_count
    else:
        counted = sqlmemo.rows("coach dashboard: completed", _coach_completed, mine, prepare=True)
        completed = counted[0][0] if counted else 0
    unanswered = []
    if profile is not None:
        unanswered = sqlmemo.instances(
            "coach dashboard: reviews to answer", _coach_unanswered, {"profile": profile.pk}, prepare=True
        )
    return {
        "profile": profile,
        "unanswered_reviews": unanswered,
        "incoming": incoming,
        "incoming_rows": _request_rows(incoming, INCOMING_ROW, incoming=True),
        "incoming_count": incoming_count,
        "jobs": jobs,
        "job_rows": _order_rows(jobs, user),
        "completed_count": completed,
        "notifications": _recent_notifications(user),
    }


def _staff(user) -> dict:
    by_status = dict(Order.objects.values_list("status").annotate(n=Count("id")).order_by())
    requests_by_status = dict(ServiceRequest.objects.values_list("status").annotate(n=Count("id")).order_by())
    disputes = list(
        Order.objects.filter(status=OrderStatus.DISPUTED)
        .select_related("client", "coach")
        .annotate(disputed_since=Max("events__created_at", filter=Q(events__to_status=OrderStatus.DISPUTED)))
        .order_by("disputed_since", "id")[:LIST_SIZE]
    )
    return {
        "orders_by_status": [(value, label, by_status.get(value, 0)) for value, label in OrderStatus.choices],
        "requests_by_status": [
            (value, label, requests_by_status.get(value, 0)) for value, label in RequestStatus.choices
        ],
        "disputes": disputes,
        "disputes_count": by_status.get(OrderStatus.DISPUTED, 0),
        "in_progress": by_status.get(OrderStatus.IN_PROGRESS, 0),
        "pending_requests": requests_by_status.get(RequestStatus.PENDING, 0),
        "overdue_count": Order.objects.filter(status=OrderStatus.IN_PROGRESS, escalated_at__isnull=False).count(),
        "notifications": _recent_notifications(user),
    }


def dashboard_context(user) -> tuple[str, dict]:
    if user.is_staff:
        return "dashboards/staff.html", _staff(user)
    if user.role == "coach":
        return "dashboards/coach.html", _coach(user)
    return "dashboards/client.html", _client(user)
