"""Filters of the staff pages. Bad analytics ranges fall back to defaults with a message."""

from __future__ import annotations

import dataclasses
import datetime as dt

from django import forms
from django.conf import settings
from django.utils import timezone

from payments.models import LedgerEntryType, Provider

from .analytics import Range

DEFAULT_DAYS = 30
MAX_RANGE_DAYS = 3 * 366
# More points than this make a chart unreadable: the page moves to a coarser step and says so.
MAX_POINTS = {"day": 92, "week": 160, "month": 120}
GRANULARITIES = [("day", "Day"), ("week", "Week"), ("month", "Month")]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class FilterForm(forms.Form):
    """Bootstrap classes on every widget (the filter bars are laid out by hand, not by crispy)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = (
                "form-select form-select-sm"
                if isinstance(field.widget, forms.Select)
                else "form-control form-control-sm"
            )
            field.widget.attrs.setdefault("class", css)


class AnalyticsFilterForm(FilterForm):
    start = forms.DateField(label="From", required=False, widget=DateInput())
    end = forms.DateField(label="To", required=False, widget=DateInput())
    granularity = forms.ChoiceField(label="Group by", choices=GRANULARITIES, required=False)
    currency = forms.ChoiceField(label="Currency", required=False)

    def __init__(self, *args, currencies: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        currency = self.fields["currency"]
        assert isinstance(currency, forms.ChoiceField)  # declared above; narrows Field to set its choices
        currency.choices = [(code, code) for code in currencies]

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError("The start date is after the end date.")
            if (end - start).days > MAX_RANGE_DAYS:
                raise forms.ValidationError("Choose a range of at most three years.")
        return data


def analytics_range(params, *, currencies: list[str]) -> tuple[Range, AnalyticsFilterForm, list[str]]:
    """The range the page shows, the bound form, and the notes to tell the user (bad input, changes)."""
    today = timezone.localdate()
    default_currency = settings.DEFAULT_CURRENCY if settings.DEFAULT_CURRENCY in currencies else currencies[0]
    default = Range(
        start=today - dt.timedelta(days=DEFAULT_DAYS - 1), end=today, granularity="day", currency=default_currency
    )
    notes: list[str] = []
    if not any(params.get(field.name) for field in dataclasses.fields(Range)):
        form = AnalyticsFilterForm(initial=dataclasses.asdict(default), currencies=currencies)
        return default, form, notes
    form = AnalyticsFilterForm(params, currencies=currencies)
    if form.is_valid():
        cleaned = form.cleaned_data
        span = Range(
            start=cleaned.get("start") or default.start,
            end=cleaned.get("end") or default.end,
            granularity=cleaned.get("granularity") or default.granularity,
            currency=cleaned.get("currency") or default.currency,
        )
        if span.start > span.end or (span.end - span.start).days > MAX_RANGE_DAYS:
            notes.append("The start date is after the end date. Showing the last 30 days instead.")
            span = dataclasses.replace(span, start=default.start, end=default.end)
    else:
        problems = [str(error) for errors in form.errors.values() for error in errors]
        notes.append(" ".join(problems) + " Showing the last 30 days instead.")
        span = default
    steps = ["day", "week", "month"]
    while len_periods(span) > MAX_POINTS[span.granularity] and span.granularity != "month":
        coarser = steps[steps.index(span.granularity) + 1]
        notes.append(f"Too many {span.granularity}s for one chart: grouped by {coarser}.")
        span = Range(span.start, span.end, coarser, span.currency)
    bound = AnalyticsFilterForm(
        initial={
            "start": span.start,
            "end": span.end,
            "granularity": span.granularity,
            "currency": span.currency,
        },
        currencies=currencies,
    )
    return span, bound, notes


def len_periods(span: Range) -> int:
    days = (span.end - span.start).days + 1
    if span.granularity == "day":
        return days
    if span.granularity == "week":
        return days // 7 + 2
    return (span.end.year - span.start.year) * 12 + span.end.month - span.start.month + 1


class TransactionFilterForm(FilterForm):
    entry_type = forms.ChoiceField(label="Type", required=False, choices=[("", "Any type"), *LedgerEntryType.choices])
    provider = forms.ChoiceField(label="Provider", required=False, choices=[("", "Any provider"), *Provider.choices])
    start = forms.DateField(label="From", required=False, widget=DateInput())
    end = forms.DateField(label="To", required=False, widget=DateInput())
    coach = forms.CharField(
        label="Coach",
        required=False,
        max_length=254,
        widget=forms.TextInput(attrs={"placeholder": "email or user id"}),
    )
    order = forms.IntegerField(label="Order #", required=False, min_value=1)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError("The start date is after the end date.")
        return data

    def filter(self, queryset):
        """Apply the valid filters to a LedgerEntry queryset."""
        data = self.cleaned_data
        if data.get("entry_type"):
            queryset = queryset.filter(entry_type=data["entry_type"])
        if data.get("provider"):
            queryset = queryset.filter(payment__provider=data["provider"])
        if data.get("start"):
            since = timezone.make_aware(dt.datetime.combine(data["start"], dt.time.min))
            queryset = queryset.filter(created_at__gte=since)
        if data.get("end"):
            until = timezone.make_aware(dt.datetime.combine(data["end"] + dt.timedelta(days=1), dt.time.min))
            queryset = queryset.filter(created_at__lt=until)
        coach = (data.get("coach") or "").strip()
        if coach.isdigit():
            queryset = queryset.filter(coach_id=int(coach))
        elif coach:
            queryset = queryset.filter(coach__email__icontains=coach)
        if data.get("order"):
            queryset = queryset.filter(order_id=data["order"])
        return queryset
