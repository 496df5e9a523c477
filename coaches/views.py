"""Coach directory, public coach pages and the coach's own profile editor."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from core.exceptions import NotPermitted

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
                "rates": facts.shown_rates(),
                "base_currency": facts.base,
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
# the user's password hash and the rest stay in the database.
PAGE_FIELDS = (
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
    "user__id",
    "user__email",
    "user__first_name",
    "user__last_name",
    "user__is_active",
    "user__account_status",
    "user__avatar__asset__id",
    "user__avatar__asset__scan_status",
    "user__avatar__asset__deleted_at",
)
SERVICE_FIELDS = ("id", "coach_id", "service_type", "price_minor", "currency", "delivery_days", "revisions_included")
REVIEW_FIELDS = (
    "id",
    "coach_id",
    "order_id",
    "rating",
    "comment",
    "reply",
    "created_at",
    "client",
    "client__first_name",
    "client__last_name",
)
VISIBLE = Q(reviews__is_hidden=False)


def _visible_coach(request, pk: int) -> CoachProfile:
    """A listed coach, or the signed-in coach's own profile (so they can preview it unlisted), with the count
    of visible reviews per rating (`r1`…`r5`) counted in the same query."""
    profile = (
        CoachProfile.objects.filter(pk=pk)
        .select_related("user__avatar__asset")
        .only(*PAGE_FIELDS)
        .annotate(**{f"r{n}": Count("reviews", filter=VISIBLE & Q(reviews__rating=n)) for n in range(1, 6)})
        .prefetch_related(
            Prefetch("services", queryset=CoachService.objects.filter(is_active=True).only(*SERVICE_FIELDS)),
            Prefetch("languages", queryset=Language.objects.order_by("name")),
        )
        .first()
    )
    if profile is None or not (profile.is_listed or profile.user_id == request.user.pk):
        raise Http404("No such coach.")
    return profile


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
    distribution = [
        {"stars": n, "count": counts[n], "percent": round(counts[n] * 100 / total) if total else 0}
        for n in range(5, 0, -1)
    ]
    reviews = profile.reviews.filter(is_hidden=False).select_related("client").only(*REVIEW_FIELDS)
    review_page = Paginator(reviews.order_by("-created_at", "-id"), REVIEWS_PER_PAGE)
    review_page.count = total  # known from the profile's counts: no COUNT
    body = render_to_string(
        "coaches/partials/detail_body.html",
        {
            "profile": profile,
            "coach_services": sorted(profile.services.all(), key=lambda s: SERVICE_ORDER[s.service_type]),
            "distribution": distribution,
            "review_total": total,
            "page": review_page.get_page(request.GET.get("page")),
            "can_request": can_request,
            "reply_forms": for_owner,
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
