"""The figures of the staff analytics page. Every number is aggregated by the database.

At 100,000 orders the figures of one range cost ~250 ms of aggregates (bench/analytics.py; each
scans every order, request and review of the range: an index cannot shorten that). So a report is
cached per range and currency, stamped with one version that every write to its inputs bumps after
commit (adminpanel.signals: orders, requests, reviews, ledger rows, signups and names): a change
shows on the next visit, and a page between changes costs one cache round trip.

Ledger conventions (payments.models.LedgerEntry): charges are positive, refunds negative with the
fee/payout split reversed, payouts record the coach's share released (gross = payout, fee 0).
So for a period: gross = Σ charge gross, refunds = −Σ refund gross, platform fees = Σ fee over
charges and refunds (a refund gives back its share of the fee), coach payouts = Σ payout gross.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, FilteredRelation, Q, Sum
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek
from django.utils import timezone

from accounts.models import Role, User
from coaches.models import CoachProfile
from core.cache import DEFAULT_SECONDS, bump_after_commit, cached_for
from orders.models import Order, OrderStatus, Review
from payments.models import LedgerEntry, LedgerEntryType
from requests_app.models import RequestStatus, ServiceRequest

TRUNC = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}
TOP_N = 10
FIGURES_SCOPE = "adminpanel:figures"  # one version for every figure below (pk 0)
REPORT_SHAPE = 1  # bump when the cached report's shape changes
# After a change (or an expiry) every staff visit at once would run the ~250 ms of aggregates: one does,
# the others wait up to this long for its figures (core.cache.cached_for's `wait`).
COMPUTE_WAIT = 5.0
# An order is made when its request is accepted, so it is never older than its request; the funnel joins only
# orders created since the range began (less this slack, for servers whose clocks disagree), which the
# created_at index finds, instead of hashing every order ever placed (30 days on the year-long seed: 20 → 8 ms).
ORDER_AFTER_REQUEST_SLACK = dt.timedelta(days=1)


@dataclass(frozen=True)
class Range:
    """Whole days from `start` to `end` inclusive, in the site's time zone."""

    start: dt.date
    end: dt.date
    granularity: str  # day | week | month
    currency: str

    @property
    def since(self) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.start, dt.time.min))

    @property
    def until(self) -> dt.datetime:
        """Exclusive upper bound: midnight after `end`."""
        return timezone.make_aware(dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min))

    def within(self, field: str) -> Q:
        return Q(**{f"{field}__gte": self.since, f"{field}__lt": self.until})


def period_starts(span: Range) -> list[dt.date]:
    """Every period's first day in the range, so a chart shows quiet days as zero, not as gaps."""
    if span.granularity == "month":
        current = span.start.replace(day=1)
    elif span.granularity == "week":
        current = span.start - dt.timedelta(days=span.start.weekday())
    else:
        current = span.start
    starts = []
    while current <= span.end:
        starts.append(current)
        if span.granularity == "month":
            current = (current.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        elif span.granularity == "week":
            current += dt.timedelta(days=7)
        else:
            current += dt.timedelta(days=1)
    return starts


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def revenue(span: Range) -> list[dict]:
    """Gross, refunds, platform fees, coach payouts and net per period, in minor units of the currency."""
    charge, refund, payout = LedgerEntryType.CHARGE, LedgerEntryType.REFUND, LedgerEntryType.PAYOUT
    rows = (
        LedgerEntry.objects.filter(span.within("created_at"), currency=span.currency)
        .annotate(period=TRUNC[span.granularity]("created_at"))
        .values("period")
        .annotate(
            gross=Sum("gross_minor", filter=Q(entry_type=charge), default=0),
            refunded=Sum("gross_minor", filter=Q(entry_type=refund), default=0),
            fees=Sum("fee_minor", filter=Q(entry_type__in=(charge, refund)), default=0),
            payouts=Sum("payout_minor", filter=Q(entry_type=payout), default=0),
        )
        .order_by("period")
    )
    by_period = {_as_date(row["period"]): row for row in rows}
    series = []
    for start in period_starts(span):
        row = by_period.get(start, {})
        gross, refunded = row.get("gross", 0), -row.get("refunded", 0)
        series.append(
            {
                "period": start,
                "gross": gross,
                "refunds": refunded,
                "fees": row.get("fees", 0),
                "payouts": row.get("payouts", 0),
                "net": gross - refunded,
            }
        )
    return series


def revenue_totals(series: list[dict]) -> dict:
    keys = ("gross", "refunds", "fees", "payouts", "net")
    return {key: sum(row[key] for row in series) for key in keys}


def orders_by_status(span: Range) -> list[dict]:
    """Orders created in the range, by their status now (every status listed, zeros included)."""
    counts = dict(
        Order.objects.filter(span.within("created_at"))
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return [{"status": value, "label": label, "count": counts.get(value, 0)} for value, label in OrderStatus.choices]


def conversion(span: Range) -> list[dict]:
    """The funnel for requests created in the range: request → order → paid → completed."""
    placed = FilteredRelation("order", condition=Q(order__created_at__gte=span.since - ORDER_AFTER_REQUEST_SLACK))
    totals = (
        ServiceRequest.objects.filter(span.within("created_at"))
        .annotate(placed=placed)
        .aggregate(
            requests=Count("id"),
            orders=Count("placed"),
            paid=Count("placed", filter=Q(placed__paid_at__isnull=False)),
            completed=Count("placed", filter=Q(placed__status=OrderStatus.COMPLETED)),
        )
    )
    steps = [
        ("requests", "Requests sent"),
        ("orders", "Accepted (order created)"),
        ("paid", "Paid"),
        ("completed", "Completed"),
    ]
    base = totals["requests"] or 0
    return [
        {
            "step": key,
            "label": label,
            "count": totals[key] or 0,
            "percent": round(100 * (totals[key] or 0) / base, 1) if base else None,
        }
        for key, label in steps
    ]


def _duration(end: str, start: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


def timings(span: Range) -> dict:
    """Average time from request to acceptance, and from payment to (latest) delivery."""
    accept = ServiceRequest.objects.filter(
        span.within("created_at"), status=RequestStatus.ACCEPTED, decided_at__isnull=False
    ).aggregate(avg=Avg(_duration("decided_at", "created_at")), n=Count("id"))
    deliver = Order.objects.filter(span.within("paid_at"), paid_at__isnull=False, delivered_at__isnull=False).aggregate(
        avg=Avg(_duration("delivered_at", "paid_at")), n=Count("id")
    )
    return {
        "accept": _hours(accept["avg"]),
        "accept_count": accept["n"],
        "deliver": _hours(deliver["avg"]),
        "deliver_count": deliver["n"],
    }


def _hours(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        return round(value.total_seconds() / 3600, 1)
    # Some backends hand back microseconds for an average of intervals.
    return round(float(value) / 3_600_000_000, 1)


def top_coaches_by_revenue(span: Range) -> list[dict]:
    """Coaches ranked by what their orders brought in (charges less refunds) in the range.

    Grouped by coach id alone (a narrow sort), then the ten names are read in one more query.
    """
    rows = list(
        LedgerEntry.objects.filter(
            span.within("created_at"),
            currency=span.currency,
            entry_type__in=(LedgerEntryType.CHARGE, LedgerEntryType.REFUND),
        )
        .values("coach_id")
        .annotate(
            revenue=Sum("gross_minor"),
            fees=Sum("fee_minor"),
            orders=Count("id", filter=Q(entry_type=LedgerEntryType.CHARGE)),
        )
        .order_by("-revenue", "coach_id")[:TOP_N]
    )
    users = User.objects.only("email", "first_name", "last_name").in_bulk([row["coach_id"] for row in rows])
    for row in rows:
        user = users[row["coach_id"]]
        row.update(coach__email=user.email, coach__first_name=user.first_name, coach__last_name=user.last_name)
    return rows


def top_coaches_by_rating(span: Range) -> list[dict]:
    """Coaches ranked by the average of their visible reviews written in the range."""
    rows = list(
        Review.objects.filter(span.within("created_at"), is_hidden=False)
        .values("coach_id")
        .annotate(rating=Avg("rating"), reviews=Count("id"))
        .order_by("-rating", "-reviews", "coach_id")[:TOP_N]
    )
    profiles = CoachProfile.objects.select_related("user").in_bulk([row["coach_id"] for row in rows])
    for row in rows:
        user = profiles[row["coach_id"]].user
        row.update(
            coach__user__email=user.email,
            coach__user__first_name=user.first_name,
            coach__user__last_name=user.last_name,
        )
    return rows


def new_users(span: Range) -> dict:
    """Signups in the range: totals by role and a series per period and role."""
    base = User.objects.filter(span.within("date_joined"))
    totals = dict(base.values("role").annotate(n=Count("id")).values_list("role", "n"))
    rows = (
        base.annotate(period=TRUNC[span.granularity]("date_joined"))
        .values("period", "role")
        .annotate(n=Count("id"))
        .order_by("period")
    )
    grid: dict[dt.date, dict[str, int]] = {}
    for row in rows:
        grid.setdefault(_as_date(row["period"]), {})[row["role"]] = row["n"]
    series = [
        {"period": start, **{role: grid.get(start, {}).get(role, 0) for role in Role.values}}
        for start in period_starts(span)
    ]
    return {
        "totals": [{"role": value, "label": label, "count": totals.get(value, 0)} for value, label in Role.choices],
        "series": series,
    }


def currencies() -> list[str]:
    """Currencies that appear in the ledger (a DISTINCT over the whole table), cached with the figures."""
    return cached_for(
        FIGURES_SCOPE,
        0,
        "currencies",
        lambda: sorted(LedgerEntry.objects.order_by().values_list("currency", flat=True).distinct()),
        DEFAULT_SECONDS,
    )


def figures_changed() -> None:
    """An input of the figures changed: make every cached report stale once the write commits.

    Once per transaction however many rows it writes (a webhook's fulfilment saves several), in the
    same round trip as the transaction's other version bumps (core.cache.bump_after_commit). A report
    computed meanwhile read the old rows and is stamped with the version before this bump, so it is
    never believed afterwards.
    """
    bump_after_commit(FIGURES_SCOPE, 0)


def _span_name(span: Range) -> str:
    return f"{REPORT_SHAPE}:{span.start}:{span.end}:{span.granularity}:{span.currency}"


def report(span: Range) -> dict:
    """Every figure of the page for `span`: from the cache while no input changed, else computed."""
    name = f"report:{_span_name(span)}"
    return cached_for(FIGURES_SCOPE, 0, name, lambda: compute_report(span), DEFAULT_SECONDS, wait=COMPUTE_WAIT)


def cached_html(span: Range, variant: str, render: Callable[[], str]) -> str:
    """Markup made only from `span`'s figures (and `variant`, e.g. the page's query string), rendered once
    per version of the figures: the page's tables took ~70 % of a visit once the figures were cached."""
    name = f"html:{_span_name(span)}:" + hashlib.sha256(variant.encode()).hexdigest()[:32]
    return cached_for(FIGURES_SCOPE, 0, name, render, DEFAULT_SECONDS)


def compute_report(span: Range) -> dict:
    series = revenue(span)
    return {
        "revenue": series,
        "revenue_totals": revenue_totals(series),
        "orders_by_status": orders_by_status(span),
        "conversion": conversion(span),
        "timings": timings(span),
        "top_by_revenue": top_coaches_by_revenue(span),
        "top_by_rating": top_coaches_by_rating(span),
        "new_users": new_users(span),
    }
