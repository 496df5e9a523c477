"""What each role's dashboard shows. Lives at project level because it reads every app.

Every list is capped and every relation it shows is joined, so the query count does not grow
with the rows behind it (orders/tests/test_dashboards.py).
"""

from functools import cache

from django.db.models import Count, Max, Q

from core.fragments import rendered_each
from notifications import services as notifications
from orders.models import Order, OrderStatus, Review
from orders.views import waiting_for
from requests_app.models import RequestStatus, ServiceRequest
from requests_app.views import available_for

REVIEWS_TO_ANSWER = 3  # the newest reviews without a reply, each with its reply form
LIST_SIZE = 8


ORDER_ROW = "dashboards/_order_row.html"


def _order_row_key(order, user) -> tuple:
    """Everything dashboards/_order_row.html shows (core.fragments caches each row under it)."""
    as_coach = user.pk == order.coach_id
    return (
        user.pk,
        as_coach,
        order.pk,
        order.title,
        order.status,
        (order.client if as_coach else order.coach).display_name,
        order.deadline.isoformat() if order.deadline else None,
        order.amount_minor,
        order.currency,
        order.escalated_at is not None,
        order.waiting_for,
    )


def _order_rows(orders, user) -> list:
    return rendered_each(
        ORDER_ROW,
        orders,
        key=lambda o: _order_row_key(o, user),
        context=lambda o: {"o": o, "user": {"pk": user.pk}},
    )


def _recent_notifications(user):
    return notifications.recent(user, 5)


def _client(user) -> dict:
    active = list(
        Order.objects.filter(client=user).active().select_related("coach").order_by("deadline", "id")[:LIST_SIZE]
    )
    for order in active:
        order.waiting_for = waiting_for(order, user)
    open_requests = list(
        ServiceRequest.objects.for_client(user)
        .pending()
        .select_related("coach__user")
        .order_by("expires_at", "id")[:LIST_SIZE]
    )
    return {
        "active_orders": active,
        "active_order_rows": _order_rows(active, user),
        "open_requests": open_requests,
        "notifications": _recent_notifications(user),
        # Shown only when no order is active: counted then, once (the template calls it).
        "completed_count": cache(Order.objects.filter(client=user, status=OrderStatus.COMPLETED).count),
    }


def _coach(user) -> dict:
    profile = getattr(user, "coach_profile", None)
    incoming, incoming_count = [], 0
    if profile is not None:
        queryset = available_for(profile)
        incoming = list(queryset[:LIST_SIZE])
        incoming_count = queryset.count()
    jobs = list(
        Order.objects.filter(coach=user).active().select_related("client").order_by("deadline", "id")[:LIST_SIZE]
    )
    for order in jobs:
        order.waiting_for = waiting_for(order, user)
    completed = Order.objects.filter(coach=user, status=OrderStatus.COMPLETED).count()
    unanswered = []
    if profile is not None:
        unanswered = list(
            Review.objects.filter(coach=profile, replied_at__isnull=True, is_hidden=False)
            .select_related("client", "order")
            .only("rating", "comment", "created_at", "order__title", "client__first_name", "client__email")
            .order_by("-created_at", "-id")[:REVIEWS_TO_ANSWER]
        )
    return {
        "profile": profile,
        "unanswered_reviews": unanswered,
        "incoming": incoming,
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
