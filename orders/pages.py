"""Which cached pages (core.pages) show orders' rows: both parties' (dashboards, the order page), and
for a file, the parties of every order it was delivered or given as evidence on."""

from django.db.models import Q

from core.pages import follow
from files.models import FileAsset

from .models import Delivery, DisputeStatement, Order, OrderEvent, Review


def parties(order: Order) -> tuple[int, int]:
    return (order.client_id, order.coach_id)


def _file(asset: FileAsset, *, created: bool, **_) -> list[int]:
    if created:
        return []  # on no order yet: attaching it saves the delivery or statement, which names the parties
    rows = Order.objects.filter(Q(deliveries__files=asset) | Q(dispute_statements__files=asset))
    return [pk for pair in rows.values_list("client_id", "coach_id").distinct() for pk in pair]


def connect() -> None:
    follow(Order, lambda order, **_: parties(order))
    for model in (OrderEvent, Delivery, Review, DisputeStatement):
        follow(model, lambda row, **_: parties(row.order))
    follow(FileAsset, _file)
