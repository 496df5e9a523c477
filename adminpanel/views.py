"""Staff-only pages beside the admin: analytics and the transactions ledger (with CSV export)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from accounts.access import role_required
from core.money import minor_per_major, minor_to_decimal
from core.pages import cached_page
from payments import ledger
from payments.models import LedgerEntry

from . import analytics, exports
from .forms import AnalyticsFilterForm, TransactionFilterForm, analytics_range

staff_required = role_required("admin")


@staff_required
@cached_page(staff=True, also=lambda request: [(analytics.FIGURES_SCOPE, 0)])  # figures: adminpanel.signals
def analytics_view(request):
    currencies = list(analytics.currencies())
    if settings.DEFAULT_CURRENCY not in currencies:
        currencies.insert(0, settings.DEFAULT_CURRENCY)
    span, form, notes = analytics_range(request.GET, currencies=currencies)
    for note in notes:
        messages.warning(request, note)
    data = analytics.report(span)
    table = request.GET.get("export")
    if table is not None:
        refusal = _export_refusal(table, request.GET, currencies, notes)
        if refusal:
            return HttpResponse(f"{refusal}\n", status=400, content_type="text/plain; charset=utf-8")
        return _stream_csv(exports.analytics_table_rows(table, data, span), exports.filename(table, span))
    export_query = request.GET.copy()
    export_query.pop("export", None)
    chart_data = {
        "currency": span.currency,
        "minor_per_major": minor_per_major(span.currency),
        "labels": [_label(row["period"], span.granularity) for row in data["revenue"]],
        "revenue": {key: [row[key] for row in data["revenue"]] for key in ("gross", "refunds", "fees", "payouts")},
        "orders_by_status": {
            "labels": [row["label"] for row in data["orders_by_status"]],
            "statuses": [row["status"] for row in data["orders_by_status"]],
            "counts": [row["count"] for row in data["orders_by_status"]],
        },
        "conversion": {
            "labels": [row["label"] for row in data["conversion"]],
            "counts": [row["count"] for row in data["conversion"]],
        },
        "new_users": {
            "labels": [_label(row["period"], span.granularity) for row in data["new_users"]["series"]],
            "series": [
                {"label": row["label"], "counts": [point[row["role"]] for point in data["new_users"]["series"]]}
                for row in data["new_users"]["totals"]
            ],
        },
    }
    figures_context = {"span": span, "data": data, "chart_data": chart_data, "export_query": export_query.urlencode()}
    figures = analytics.cached_html(
        span, figures_context["export_query"], lambda: render_to_string("adminpanel/_figures.html", figures_context)
    )
    return render(
        request,
        "adminpanel/analytics.html",
        {
            **figures_context,
            "form": form,
            "figures": mark_safe(figures),  # noqa: S308  # our template's output, escaped when it was rendered
            "section": "analytics",
        },
    )


def _export_refusal(table: str, params, currencies: list[str], notes: list[str]) -> str:
    """Why a CSV export cannot be given, or "". The page corrects bad filters and says so; a download
    would silently hold other figures than the ones asked for, so it is refused instead."""
    if table not in exports.TABLES:
        return f"There is no analytics table called {table[:40]!r}."
    filters = {key: params[key] for key in ("start", "end", "granularity", "currency") if params.get(key)}
    if filters:
        form = AnalyticsFilterForm(filters, currencies=currencies)
        if not form.is_valid():
            return " ".join(str(error) for errors in form.errors.values() for error in errors)
        if any(note.startswith("The start date") for note in notes):
            return notes[0]
    return ""


def _label(day: dt.date, granularity: str) -> str:
    if granularity == "month":
        return day.strftime("%b %Y")
    if granularity == "week":
        return "w/c " + day.strftime("%d %b %Y")
    return day.strftime("%d %b %Y")


CSV_COLUMNS = (
    ("id", "id"),
    ("created_at", "date (UTC)"),
    ("entry_type", "type"),
    ("order_id", "order"),
    ("order__title", "order title"),
    ("coach__email", "coach"),
    ("payment__provider", "provider"),
    ("payment__provider_payment_id", "provider payment id"),
    ("gross_minor", "gross"),
    ("fee_minor", "platform fee"),
    ("payout_minor", "coach payout"),
    ("currency", "currency"),
    ("note", "note"),
)
MONEY_COLUMNS = {"gross_minor", "fee_minor", "payout_minor"}
TEXT_COLUMNS = {"order__title", "coach__email", "payment__provider_payment_id", "note"}


@staff_required
def transactions_view(request):
    form = TransactionFilterForm(request.GET or None)
    queryset = LedgerEntry.objects.all()
    status = 200
    if form.is_bound:
        if form.is_valid():
            queryset = form.filter(queryset)
        else:
            status = 400
            queryset = queryset.none()
    if request.GET.get("format") == "csv":
        if status != 200:
            errors = "; ".join(str(e) for errors in form.errors.values() for e in errors)
            return HttpResponse(f"Bad filter: {errors}\n", status=400, content_type="text/plain; charset=utf-8")
        return _csv_response(queryset)
    totals = ledger.totals(queryset)
    page = Paginator(queryset.select_related("order", "coach", "payment").order_by("-created_at", "-id"), 50).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    csv_query = query.copy()
    csv_query["format"] = "csv"
    return render(
        request,
        "adminpanel/transactions.html",
        {
            "form": form,
            "page": page,
            "totals": totals,
            "querystring": query.urlencode(),
            "csv_querystring": csv_query.urlencode(),
            "section": "transactions",
            "ledger_admin_url": _admin_url("payments_ledgerentry_changelist"),
        },
        status=status,
    )


def _admin_url(name: str) -> str:
    try:
        return reverse(f"admin:{name}")
    except NoReverseMatch:
        return ""


def _csv_rows(queryset):
    yield [label for _, label in CSV_COLUMNS]
    fields = [field for field, _ in CSV_COLUMNS]
    currency_at = fields.index("currency")
    convert = []
    for field in fields:
        if field in MONEY_COLUMNS:
            convert.append(lambda value, row: minor_to_decimal(value, row[currency_at]))
        elif field == "created_at":
            convert.append(lambda value, row: exports.utc_stamp(value))
        elif field in TEXT_COLUMNS:
            convert.append(lambda value, row: exports.safe_text(value))
        else:
            convert.append(lambda value, row: "" if value is None else value)
    rows = queryset.order_by("created_at", "id").values_list(*fields).iterator(chunk_size=2000)
    for row in rows:
        yield [fn(value, row) for fn, value in zip(convert, row, strict=True)]


def _csv_response(queryset) -> StreamingHttpResponse:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return _stream_csv(_csv_rows(queryset), f"transactions-{stamp}.csv")


def _stream_csv(rows: Iterable[Iterable[Any]], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(exports.csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
