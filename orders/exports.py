"""orders' section of a user's data export: their orders (as client or coach) with the timeline, the
notes they wrote on it, their deliveries' notes and their review (or reply). Registered in ready()."""

from collections.abc import Iterable

from django.db.models import Q

from accounts.models import User
from files.exports import Entry, as_json

from .models import DisputeStatement, Order, Review


def section(user: User) -> Iterable[Entry]:
    orders = (
        Order.objects.filter(Q(client=user) | Q(coach=user))
        .prefetch_related("events", "deliveries__files")
        .order_by("created_at", "id")
    )
    yield "orders.json", as_json([_order(order, user) for order in orders])
    reviews = Review.objects.filter(Q(client=user) | Q(coach__user=user)).order_by("created_at", "id")
    yield (
        "reviews.json",
        as_json(
            [
                {
                    "order": r.order_id,
                    "rating": r.rating,
                    # the review is the client's words, the reply the coach's: each gets their own
                    "comment": r.comment if r.client_id == user.pk else None,
                    "reply": r.reply if r.client_id != user.pk else None,
                    "created_at": r.created_at,
                }
                for r in reviews
            ]
        ),
    )
    statements = DisputeStatement.objects.filter(author=user).order_by("created_at", "id")
    if statements:
        yield (
            "dispute_statements.json",
            as_json(
                [{"order": s.order_id, "role": s.role, "body": s.body, "created_at": s.created_at} for s in statements]
            ),
        )


def _order(order: Order, user: User) -> dict:
    return {
        "id": order.pk,
        "you_were": "client" if order.client_id == user.pk else "coach",
        "title": order.title,
        "service_type": order.service_type,
        "amount_minor": order.amount_minor,
        "currency": order.currency,
        "status": order.status,
        "created_at": order.created_at,
        "paid_at": order.paid_at,
        "delivered_at": order.delivered_at,
        "completed_at": order.completed_at,
        "cancelled_at": order.cancelled_at,
        # Other people's notes are theirs: the timeline keeps the moves, and the notes you wrote.
        "timeline": [
            {
                "from": e.from_status,
                "to": e.to_status,
                "kind": e.kind,
                "by_you": e.actor_id == user.pk,
                "note": e.note if e.actor_id == user.pk else "",
                "at": e.created_at,
            }
            for e in order.events.all()
        ],
        "deliveries": [
            {
                "number": d.number,
                "note": d.note if d.created_by_id == user.pk else "",
                "files": [asset.pk for asset in d.files.all()],
                "at": d.created_at,
            }
            for d in order.deliveries.all()
        ],
    }
