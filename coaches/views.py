"""Coach directory, public coach pages and the coach's own profile editor."""

import datetime
import functools
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Aggregate, Count, F, Func, JSONField, OuterRef, Q, QuerySet, Subquery
from django.db.models.base import DEFERRED
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.defaultfilters import floatformat
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import dateformat, timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.safestring import mark_safe

from accounts.models import User
from core import sqlmemo
from core.exceptions import NotPermitted
from core.money import format_money
from files.models import Avatar, FileAsset

from . import services
from .directory import (
    CURRENCY_COOKIE,
    PAGE_SIZE,
    RATING_CHOICES,
    SORTS,
    CappedPaginator,
    CoachPageCache,
    offered_language_choices,
    price_notices,
    read_directory,
    render_cards,
)
from .forms import ProfileForm, service_formset
from .models import CoachProfile, CoachService, Language, ServiceType
from .templatetags.coach_tags import stars

REVIEWS_PER_PAGE = 5
SERVICE_ORDER = {value: index for index, value in enumerate(ServiceType.values)}


def directory(request):
    """The public directory. The filter form and results depend only on the (normalised) filters,
    never on the visitor, so they are rendered without the request and reused from the cache;
    notices about ignored input and the page chrome are rendered per request.

    The viewer's currency is part of the filters (`currency` in the URL); a chosen one is remembered in
    a cookie, so the next visit without it in the URL shows prices the same way."""
    page_param = request.GET.get("page", "").strip()
    facts, filters, results, body = read_directory(
        request.GET, page_param, preferred_currency=request.COOKIES.get(CURRENCY_COOKIE, "")
    )
    if body is None:
        page = CappedPaginator(results.matching_ids(filters, facts), PAGE_SIZE).get_page(page_param)
        cards = render_cards(
            list(page.object_list),
            filters.service,
            results.card_version,
            filters.currency,
            facts,
            stash=results.pending,
        )
        body = render_to_string(
            "coaches/partials/directory_body.html",
            {
                "filters": filters,
                "chips": filters.active(),
                "page": page,
                "cards": cards,
                "querystring": filters.querystring(),
                "service_choices": ServiceType.choices,
                "language_choices": offered_language_choices(facts, filters.language),
                "rating_choices": RATING_CHOICES,
                "sort_choices": SORTS.items(),
                "currency_choices": facts.currency_choices(),
                "rates_text": facts.rates_text(),
            },
        )
        results.set(body)
    response = render(
        request,
        "coaches/directory.html",
        {"filters": filters, "price_notices": price_notices(filters, facts), "body": mark_safe(body)},  # noqa: S308
    )
    if request.GET.get("currency", "").strip().upper() in facts.rates:  # a valid choice: remember it
        response.set_cookie(CURRENCY_COOKIE, filters.shown_currency, max_age=365 * 24 * 3600, samesite="Lax")
    return response


# What the coach page shows of a profile, its coach and their photo, and what is_listed reads; the search text,
# the user's password hash and the rest stay in the database. Loaded as rows (core.sqlmemo: each query is
# compiled once per process, a miss runs it with the coach's id) and made into the instances the template reads.
PROFILE_COLUMNS = (
    "id",
    "user_id",
    "headline",
    "bio",
    "portfolio_links",
    "years_experience",
    "is_available",
    "is_verified",
    "rating_avg",
    "ratings_count",
    "response_time_hours",
    "price_from_minor",
)
USER_COLUMNS = ("id", "email", "first_name", "last_name", "is_active", "account_status")
ASSET_COLUMNS = ("id", "scan_status", "deleted_at")
# Read back through _json_rows (JSON), so only JSON-native types: no dates or decimals, which would arrive as text.
# (The first page of reviews comes as JSON too: its one date is parsed back in _review_row.)
SERVICE_COLUMNS = ("id", "coach_id", "service_type", "price_minor", "currency", "delivery_days", "revisions_included")
REVIEW_COLUMNS = ("id", "coach_id", "order_id", "rating", "comment", "reply", "created_at", "client_id")
CLIENT_COLUMNS = ("first_name", "last_name")
CLIENT_NAMES = tuple(f"client__{name}" for name in CLIENT_COLUMNS)
REVIEW_ORDER = ("-created_at", "-id")
VISIBLE = Q(reviews__is_hidden=False)
RATING_COUNTS = tuple(f"r{n}" for n in range(1, 6))


class _JSONArray(Func):
    """One row's columns as a JSON array: JSONB_BUILD_ARRAY on PostgreSQL, JSON_ARRAY on SQLite."""

    output_field = JSONField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="JSONB_BUILD_ARRAY", **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="JSON_ARRAY", **extra_context)


class _JSONRows(Aggregate):
    """A JSON array with one array of the given columns per row: JSONB_AGG(JSONB_BUILD_ARRAY(…)) on PostgreSQL
    (jsonb: the backend hands it over as text, which JSONField decodes), JSON_GROUP_ARRAY(JSON_ARRAY(…)) on SQLite.
    `ordered`: the rows in the order of the first column, on PostgreSQL in the aggregate (its collation, as an
    ORDER BY would); SQLite's aggregates take no ORDER BY before 3.44, so there the caller sorts (_coach_lists)."""

    output_field = JSONField()

    def __init__(self, *columns: str, ordered: bool = False):
        self.ordered = ordered
        super().__init__(_JSONArray(*(F(column) for column in columns)))

    def as_postgresql(self, compiler, connection, **extra_context):
        order = ""
        if self.ordered:
            first, params = compiler.compile(self.get_source_expressions()[0].get_source_expressions()[0])
            if params:
                raise ValueError("order by a column")
            order = f" ORDER BY {first}"
        return self.as_sql(compiler, connection, template=f"JSONB_AGG(%(expressions)s{order})", **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="JSON_GROUP_ARRAY(%(expressions)s)", **extra_context)


def _json_rows(queryset: QuerySet, group: str, *columns: str, ordered: bool = False) -> Subquery:
    """`columns` of the rows of `queryset` for the outer coach (`group` = the coach's column) as one JSON value
    (NULL without rows): a scalar subquery of the profile's query, so its rows cost no statement of their own."""
    return Subquery(
        queryset.order_by().values(group).annotate(rows=_JSONRows(*columns, ordered=ordered)).values("rows")
    )


class _JSONPage(Subquery):
    """`columns` of the rows of an ordered, sliced queryset (a page of them) as one JSON array of arrays: the
    aggregate runs over the page as a derived table, so the slice holds (an aggregate over the table itself
    would take every row). Neither vendor promises the aggregate keeps the derived table's order: the caller
    sorts. JSON_GROUP_ARRAY gives [] without rows, JSONB_AGG NULL."""

    output_field = JSONField()

    def __init__(self, queryset: QuerySet, *columns: str):
        super().__init__(queryset.annotate(item=_JSONArray(*(F(column) for column in columns))).values("item"))

    def as_postgresql(self, compiler, connection, **extra_context):
        template = '(SELECT JSONB_AGG(page."item") FROM (%(subquery)s) page)'
        return self.as_sql(compiler, connection, template=template, **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        # JSON(): the inner JSON_ARRAY reaches the outer query as text, which JSON_GROUP_ARRAY would quote
        template = '(SELECT JSON_GROUP_ARRAY(JSON(page."item")) FROM (%(subquery)s) page)'
        return self.as_sql(compiler, connection, template=template, **extra_context)


def _profile_rows(given) -> QuerySet:
    return (
        CoachProfile.objects.filter(pk=given["pk"])
        .annotate(
            **{f"r{n}": Count("reviews", filter=VISIBLE & Q(reviews__rating=n)) for n in range(1, 6)},
            # The active services and the language names, in the same statement (not two more).
            service_rows=_json_rows(
                CoachService.objects.filter(coach=OuterRef("pk"), is_active=True), "coach", *SERVICE_COLUMNS
            ),
            language_names=_json_rows(Language.objects.filter(coaches=OuterRef("pk")), "coaches", "name", ordered=True),
            # and the first page of reviews, which is the page most visits show (a later page is a statement more)
            first_reviews=_JSONPage(_review_page(OuterRef("pk"), 0), *REVIEW_COLUMNS, *CLIENT_NAMES),
        )
        .order_by()
        .values_list(
            *PROFILE_COLUMNS,
            *(f"user__{name}" for name in USER_COLUMNS),
            *(f"user__avatar__asset__{name}" for name in ASSET_COLUMNS),
            *RATING_COUNTS,
            "service_rows",
            "language_names",
            "first_reviews",
        )
    )


def _review_page(coach, offset: int) -> QuerySet:
    """The coach's visible reviews from `offset` on, newest first, one page of them."""
    review_model: Any = CoachProfile._meta.get_field("reviews").related_model  # orders.Review, a layer above
    return review_model.objects.filter(coach_id=coach, is_hidden=False).order_by(*REVIEW_ORDER)[
        offset : offset + REVIEWS_PER_PAGE
    ]


def _review_rows(offset: int):
    def build(given) -> QuerySet:
        return _review_page(given["pk"], offset).values_list(*REVIEW_COLUMNS, *CLIENT_NAMES)

    return build


def _instance(model, names: tuple[str, ...], values) -> Any:
    """A model instance from some of its columns, as the ORM makes one for .only() (the rest deferred)."""
    given = dict(zip(names, values, strict=True))
    return model.from_db(DEFAULT_DB_ALIAS, names, [given.get(f.attname, DEFERRED) for f in model._meta.concrete_fields])


def _visible_coach(request, pk: int) -> CoachProfile:
    """A listed coach, or the signed-in coach's own profile (so they can preview it unlisted), with the count
    of visible reviews per rating (`r1`…`r5`) counted in the same query, its user and photo."""
    found = sqlmemo.rows("coach page: profile", _profile_rows, {"pk": pk}, prepare=True)
    if not found:
        raise Http404("No such coach.")
    row = found[0]
    profile_end = len(PROFILE_COLUMNS)
    user_end = profile_end + len(USER_COLUMNS)
    asset_end = user_end + len(ASSET_COLUMNS)
    profile = _instance(CoachProfile, PROFILE_COLUMNS, row[:profile_end])
    user = _instance(User, USER_COLUMNS, row[profile_end:user_end])
    CoachProfile.user.field.set_cached_value(profile, user)
    asset_id = row[user_end]
    if asset_id is None:
        User.avatar.related.set_cached_value(user, None)
    else:
        avatar = _instance(Avatar, ("user_id", "asset_id"), (user.pk, asset_id))
        Avatar.asset.field.set_cached_value(avatar, _instance(FileAsset, ASSET_COLUMNS, row[user_end:asset_end]))
        User.avatar.related.set_cached_value(user, avatar)
    counts_end = asset_end + len(RATING_COUNTS)
    for name, count in zip(RATING_COUNTS, row[asset_end:counts_end], strict=True):
        setattr(profile, name, count)
    profile.service_rows, profile.language_names, profile.first_reviews = row[counts_end:]
    if not (profile.is_listed or profile.user_id == request.user.pk):
        raise Http404("No such coach.")
    return profile


def _coach_lists(profile: Any) -> tuple[list[Any], list[str]]:
    """The coach's active services and their languages' names by name, from the profile's row (_visible_coach)."""
    services = [_instance(CoachService, SERVICE_COLUMNS, row) for row in profile.service_rows or ()]
    languages = [name for (name,) in profile.language_names or ()]
    if connection.vendor == "sqlite":
        # No ORDER BY in SQLite's aggregates (before 3.44): sorted here. Its default (BINARY) collation compares
        # code points, as Python's str does, so this is the order ORDER BY name gives there.
        languages.sort()
    return services, languages


CREATED = REVIEW_COLUMNS.index("created_at")


def _json_review(row: list) -> list:
    """A review row of the profile's JSON (first_reviews) as the ORM's own query returns it: the date came as
    text, ISO 8601 with the session's offset on PostgreSQL, naive UTC on SQLite (its converter's reading)."""
    created = parse_datetime(row[CREATED])
    if created is None:
        raise ValueError(f"not a date: {row[CREATED]!r}")
    if timezone.is_naive(created):
        created = timezone.make_aware(created, connection.timezone)
    return [*row[:CREATED], created, *row[CREATED + 1 :]]


def _review_rows_from(profile: Any, offset: int) -> list:
    """A page of review rows: the first from the profile's own statement, a later one by a statement of its own."""
    if offset:
        return sqlmemo.rows(("coach page: reviews", offset), _review_rows(offset), {"pk": profile.pk}, prepare=True)
    rows = [_json_review(row) for row in profile.first_reviews or ()]
    # Newest first, as REVIEW_ORDER: the page's rows are right, the aggregate's order is not promised.
    rows.sort(key=lambda row: (row[CREATED], row[0]), reverse=True)
    return rows


@functools.lru_cache(maxsize=4096)
def _day_text(day: datetime.date, language: str | None) -> str:
    """“28 Mar 2026”, as the date filter shows it: once per day and language per process (a page shows
    a date per review; the month's name is translated)."""
    return dateformat.format(day, "j M Y")


def _reviews(profile: CoachProfile, offset: int) -> list:
    """A page of the coach's visible reviews, newest first, each with its client's name as the page shows it."""
    review_model: Any = CoachProfile._meta.get_field("reviews").related_model  # orders.Review, a layer above
    reviews = []
    for row in _review_rows_from(profile, offset):
        review = _instance(review_model, REVIEW_COLUMNS, row[: len(REVIEW_COLUMNS)])
        first_name, last_name = row[len(REVIEW_COLUMNS) :]
        # “Ann B.”: the reviewer as the page names them (first name, last initial)
        review.client_name = (first_name or "A client") + (f" {last_name[:1]}." if last_name else "")
        review.stars = stars(review.rating)
        created = timezone.localtime(review.created_at)  # as the date filter shows it
        review.created_iso = created.isoformat()
        review.created_text = _day_text(created.date(), translation.get_language())
        reviews.append(review)
    return reviews


def detail(request, pk: int):
    """A coach's public page. Its body depends only on the coach, the review page and whether the
    viewer may request work, so it is reused from CoachPageCache; the owner sees a live preview."""
    can_request = not request.user.is_authenticated or request.user.is_client
    cached = CoachPageCache(pk, request.GET.get("page", "").strip(), can_request)
    coach_page = cached.get()
    if coach_page is not None and coach_page["owner_id"] == request.user.pk:
        # The owner's page carries reply forms (with their CSRF token): rendered for them, never cached.
        coach_page, is_listed = _coach_page(request, pk, can_request, for_owner=True)
    elif coach_page is None:
        coach_page, is_listed = _coach_page(request, pk, can_request)
        if is_listed and coach_page["owner_id"] != request.user.pk:
            cached.set(coach_page)
    else:
        is_listed = True  # only listed coaches' pages are cached
    return render(
        request,
        "coaches/detail.html",
        {
            **coach_page,
            "body": mark_safe(coach_page["body"]),  # noqa: S308 - rendered from our template above
            "is_owner": coach_page["owner_id"] == request.user.pk,
            "is_listed": is_listed,
        },
    )


def _coach_page(request, pk: int, can_request: bool, *, for_owner: bool | None = None) -> tuple[dict, bool]:
    """Render the page body of a visible coach: (what CoachPageCache stores, whether listed).

    The owner's own view (`for_owner`, by default: is the viewer this coach?) adds a reply form under
    each review they have not answered; it carries their CSRF token, so the caller must not cache it."""
    profile = _visible_coach(request, pk)
    if for_owner is None:
        for_owner = profile.user_id == request.user.pk
    counts = {n: getattr(profile, f"r{n}") for n in range(1, 6)}
    total = sum(counts.values())  # a rating is 1 to 5 (orders_review_rating_range)
    # Rendered by coach_tags.rating_distribution, not a template loop.
    distribution = [
        {
            "stars": n,
            "count": counts[n],
            "percent": round(counts[n] * 100 / total) if total else 0,
        }
        for n in range(5, 0, -1)
    ]
    # The count is known from the profile's counts: the paginator counts a range, and the page's reviews are
    # one query for just that page (none for a coach without reviews).
    review_page = Paginator(range(total), REVIEWS_PER_PAGE).get_page(request.GET.get("page"))
    review_page.object_list = _reviews(profile, review_page.start_index() - 1) if total else []
    services, languages = _coach_lists(profile)
    request_url = reverse("requests_app:new")  # once, not per service
    for service in services:
        service.label = service.get_service_type_display()
        service.delivery_text = f"{service.delivery_days}-day delivery"
        revisions = service.revisions_included
        service.revisions_text = f"{revisions} revision{'' if revisions == 1 else 's'}"
        service.price_text = format_money(service.price_minor, service.currency)
        service.request_url = f"{request_url}?coach={pk}&service={service.service_type}"
    body = render_to_string(
        "coaches/partials/detail_body.html",
        {
            "profile": profile,
            "languages": languages,
            "coach_services": sorted(services, key=lambda s: SERVICE_ORDER[s.service_type]),
            "distribution": distribution,
            "review_total": total,
            "page": review_page,
            "can_request": can_request,
            "reply_forms": for_owner,
            # each shown twice, or once per review: made once
            "rating_stars": stars(profile.rating_avg),
            "rating_text": floatformat(profile.rating_avg, 1),
            "reply_from": profile.user.first_name or profile.user.display_name,
        },
        request=request if for_owner else None,
    )
    page = {
        "owner_id": profile.user_id,
        "name": profile.user.display_name,
        "headline": profile.headline,
        "body": body,
    }
    return page, profile.is_listed


@login_required
def edit_profile(request):
    if not request.user.is_coach:
        raise NotPermitted("Only coaches have a public profile to edit.")
    profile = services.get_or_create_profile(request.user)
    if request.method == "POST":
        form = ProfileForm(request.POST, instance=profile)
        formset = service_formset(profile, data=request.POST)
        if form.is_valid() and formset.is_valid():
            data = form.cleaned_data
            services.update_profile(
                profile,
                actor=request.user,
                changes={name: data[name] for name in services.PROFILE_FIELDS},
                languages=data["languages"],
                portfolio_links=data["portfolio_links"],
                offers=formset.offers(),
            )
            messages.success(request, "Your profile is saved.")
            return redirect("coaches:edit_profile")
        status = 400
    else:
        form = ProfileForm(instance=profile)
        formset = service_formset(profile)
        status = 200
    listed = CoachProfile.objects.listed().filter(pk=profile.pk).exists()
    return render(
        request,
        "coaches/profile_edit.html",
        {"form": form, "formset": formset, "profile": profile, "is_listed": listed},
        status=status,
    )
