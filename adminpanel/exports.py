"""CSV copies of the staff analytics tables: the same figures as the page, for the same filters.

Each chart on the analytics page has a table beside it; `analytics_table_rows` turns one of those tables
into rows a spreadsheet reads. Free text (names, emails) is neutralised against formula injection and
money is written as a decimal in the range's currency (through core.money, so ¥ has no decimals).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from core.money import minor_to_decimal

from . import analytics


class _Echo:
    """csv.writer writes into this and gets the line back, so rows stream one by one."""

    def write(self, value: str) -> str:
        return value


def safe_text(value: Any) -> str:
    """Neutralise spreadsheet formulas in free text (CSV injection): a leading = + - @ tab or CR."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_lines(rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)


def _person(first: str, last: str, email: str) -> str:
    name = f"{first} {last}".strip()
    return safe_text(name or email)


def _revenue(data: dict, span: analytics.Range) -> Iterator[list[Any]]:
    money = lambda minor: minor_to_decimal(minor, span.currency)  # noqa: E731 - a short local alias
    yield ["period start", "gross", "refunds", "net", "platform fees", "coach payouts", "currency"]
    for row in data["revenue"]:
        yield [
            row["period"].isoformat(),
            *(money(row[key]) for key in ("gross", "refunds", "net", "fees", "payouts")),
            span.currency,
        ]


def _orders_by_status(data: dict, span: analytics.Range) -> Iterator[list[Any]]:
    yield ["status", "orders"]
    for row in data["orders_by_status"]:
        yield [row["label"], row["count"]]


def _conversion(data: dict, span: analytics.Range) -> Iterator[list[Any]]:
    yield ["step", "count", "percent of requests"]
    for row in data["conversion"]:
        yield [row["label"], row["count"], "" if row["percent"] is None else row["percent"]]


def _top_by_revenue(data: dict, span: analytics.Range) -> Iterator[list[Any]]:
    yield ["coach", "email", "payments", "revenue", "platform fees", "currency"]
    for row in data["top_by_revenue"]:
        yield [
            _person(row["coach__first_name"], row["coach__last_name"], row["coach__email"]),
            safe_text(row["coach__email"]),
            row["orders"],
            minor_to_decimal(row["revenue"], span.currency),
            minor_to_decimal(row["fees"], span.currency),
            span.currency,
        ]


def _top_by_rating(data: dict, span: analytics.Range) -> Iterator[list[Any]]:
    yield ["coach", "email", "reviews", "average rating"]
    for row in data["top_by_rating"]:
        yield [
            _person(row["coach__user__first_name"], row["coach__user__last_name"], row["coach__user__email"]),
            safe_text(row["coach__user__email"]),
            row["reviews"],
            f"{row['rating']:.2f}",
        ]


def _new_users(data: dict, span: analytics.Range) -> Iterator[list[Any]]:
    roles = [(row["role"], row["label"]) for row in data["new_users"]["totals"]]
    yield ["period start", *(label.lower() for _, label in roles)]
    for point in data["new_users"]["series"]:
        yield [point["period"].isoformat(), *(point[role] for role, _ in roles)]


TABLES: dict[str, tuple[str, Callable[[dict, analytics.Range], Iterator[list[Any]]]]] = {
    "revenue": ("revenue", _revenue),
    "orders_by_status": ("orders-by-status", _orders_by_status),
    "conversion": ("conversion", _conversion),
    "top_by_revenue": ("top-coaches-by-revenue", _top_by_revenue),
    "top_by_rating": ("top-coaches-by-rating", _top_by_rating),
    "new_users": ("new-users", _new_users),
}


def analytics_table_rows(name: str, data: dict, span: analytics.Range) -> Iterator[list[Any]]:
    """The header and rows of one analytics table; KeyError for a table that does not exist."""
    _, build = TABLES[name]
    return build(data, span)


def filename(name: str, span: analytics.Range) -> str:
    slug, _ = TABLES[name]
    return f"analytics-{slug}-{span.start:%Y%m%d}-{span.end:%Y%m%d}-{span.currency}.csv"


def utc_stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
