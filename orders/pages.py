"""Which cached pages (core.pages) show orders' rows: both parties' (dashboards, the order page), and
for a file, the parties of every order it was delivered or given as evidence on. And what the order page
reads with the order from the apps above orders (read_with_order_page)."""

from collections.abc import Callable, Mapping
from typing import Any

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


# The order page's rows of apps above orders that an order has at most one of (documents' retention row,
# messaging's thread), each named by its app in its AppConfig.ready(): orders.views.get_order_for(page=True)
# reads them in the order's own statement, where each was a statement of its own (issue 13).
PAGE_JOINS: list[str] = []  # reverse one-to-one relations of Order, for select_related
# name → (builder of the expression from the page's values, the names of the values that are the viewer's id)
PAGE_ANNOTATIONS: dict[str, tuple[Callable[[Mapping[str, int]], Any], tuple[str, ...]]] = {}


def read_with_order_page(
    *, join: str, annotate: Mapping[str, Callable[[Mapping[str, int]], Any]] | None = None, viewer: tuple[str, ...] = ()
) -> None:
    """Have the order page read the order's `join` (a reverse one-to-one) with the order, and `annotate`'s
    expressions on it, each built from a mapping that holds the viewer's id under each name in `viewer`
    (once per place it is used: core.sqlmemo finds each value once among the statement's parameters)."""
    if join not in PAGE_JOINS:
        PAGE_JOINS.append(join)
    for name, build in (annotate or {}).items():
        PAGE_ANNOTATIONS[name] = (build, viewer)
