from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from core import sqlmemo
from core.fragments import rendered_each
from core.http import client_ip
from core.pages import cached_page

from . import kinds, services
from .forms import EmailPreferencesForm
from .models import Notification


def _day_title(day, today) -> str:
    if day == today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    return f"{day:%A %-d %B}" if day.year == today.year else f"{day:%-d %B %Y}"


def _groups(rows: list[Notification]) -> list[tuple[str, list[Notification]]]:
    """A page of the inbox in sections: everything unread first, then the read ones by day."""
    today = timezone.localdate()
    groups: list[tuple[str, list[Notification]]] = []
    for row in rows:
        title = "Unread" if row.read_at is None else _day_title(timezone.localdate(row.created_at), today)
        if not groups or groups[-1][0] != title:
            groups.append((title, []))
        groups[-1][1].append(row)
    return groups


INBOX_ROW = "notifications/partials/inbox_row.html"


def _ago(title: str, notification: Notification) -> str:
    """Unread and today's rows say how long ago ("3 hours"), older ones the time of day."""
    return timesince(notification.created_at) if title in ("Unread", "Today") else ""


def _row_key(row: tuple[Notification, str]) -> tuple:
    """Everything notifications/partials/inbox_row.html shows (core.fragments caches each row under it):
    the "… ago" text itself is in it, so a row is re-rendered when that text moves on."""
    n, ago = row
    return (n.pk, n.read_at is None, n.category, n.link, n.text, n.created_at.isoformat(), ago)


def _rendered_groups(groups: list[tuple[str, list[Notification]]]) -> list[tuple[str, list]]:
    """Each group's rows rendered (core.fragments), all of the page's in one call: one cache round trip to
    read them and one to store those rendered, however many days the page spans (issue 13)."""
    rows = [(n, _ago(title, n)) for title, notifications in groups for n in notifications]
    rendered = iter(
        rendered_each(
            INBOX_ROW,
            rows,
            key=_row_key,
            context=lambda row: {"n": row[0], "meta": row[0].category_info, "ago": row[1]},
        )
    )
    return [(title, [next(rendered) for _ in notifications]) for title, notifications in groups]


INBOX_PAGE_SIZE = 20
_TAB = '\n  <li class="nav-item"><a class="nav-link{}" href="?{}"{}><i class="bi {}" aria-hidden="true"></i> {}{}</a></li>\n  '
_UNREAD = ' <span class="badge text-bg-light border">{}<span class="visually-hidden"> unread</span></span>'


def tabs_html(tabs: list[tuple[str, str, int, str]], category: str) -> SafeString:
    """The filter tabs as inbox.html's loop over them printed them: that loop was ~1,000 Python calls, a seventh of
    a cold inbox (issue 13). Most users' tabs are alike (the same labels, few unread): kept per process, bounded."""
    return _tabs_html(tuple(tabs), category)


@lru_cache(maxsize=1024)
def _tabs_html(tabs: tuple[tuple[str, str, int, str], ...], category: str) -> SafeString:
    active, current = mark_safe(" active"), mark_safe(' aria-current="page"')
    return format_html_join(
        "",
        _TAB,
        (
            (
                active if category == value else "",
                format_html("category={}", value) if value else "",
                current if category == value else "",
                icon,
                label,
                format_html(_UNREAD, count) if count else "",
            )
            for value, label, count, icon in tabs
        ),
    )


def _inbox_rows(given) -> QuerySet[Notification]:
    """services.inbox for the user whose id is given (with the category's, when one is)."""
    return services.inbox(User(pk=given["user"]), category=given.get("category"))


@login_required
@cached_page
def inbox(request):
    """Unread first, then by day; filter by category (the tabs show each one's unread count).

    The page's count and rows are compiled once per process and kept prepared (core.sqlmemo; lookups on the
    user's indexes): on a miss the inbox spent more on building its two querysets than on running them."""
    category = request.GET.get("category", "")
    if category not in kinds.CATEGORIES:
        category = ""
    given = {"user": request.user.pk, **({"category": category} if category else {})}
    rows = sqlmemo.Paged("inbox", _inbox_rows, given, count_by="user_id", per_page=INBOX_PAGE_SIZE, prepare=True)
    page = Paginator(rows, INBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    unread = services.unread_by_category(request.user)
    tabs = [("", "All", sum(unread.values()), "bi-bell")] + [
        (value, meta.label, unread.get(value, 0), meta.icon) for value, meta in kinds.CATEGORIES.items()
    ]
    return render(
        request,
        "notifications/inbox.html",
        {
            "page": page,
            "groups": _rendered_groups(_groups(list(page.object_list))),
            "category": category,
            "category_label": kinds.info(category).label if category else "",
            "tabs": tabs,
            "tabs_html": tabs_html(tabs, category),
            "querystring": f"category={category}" if category else "",
        },
    )


@login_required
@require_POST
def mark_read(request):
    """Mark the given ids read, or with none given all of the user's: only ever the user's own rows."""
    ids = request.POST.getlist("id")
    services.mark_read(actor=request.user, notification_ids=[int(i) for i in ids if i.isdigit()] if ids else None)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "notifications:inbox"
    return redirect(target)


@login_required
def open_notification(request, pk: int):
    """Follow a notification's link, marking it read: clicking it is reading it.

    A GET, so the link can be opened in a new tab; the only effect is on the viewer's own row
    (someone else's notification is a 404), and reading twice changes nothing.
    """
    notification = get_object_or_404(Notification.objects.for_user(request.user), pk=pk)
    if notification.read_at is None:
        services.mark_read(actor=request.user, notification_ids=[notification.pk])
    target = notification.link
    if not target or not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "notifications:inbox"
    return redirect(target)


@login_required
def preferences(request):
    """Which emails the user gets, one switch per category; the inbox itself always gets everything."""
    form = EmailPreferencesForm(request.POST or None, current=services.email_preferences(request.user))
    if request.method == "POST" and form.is_valid():
        services.set_email_preferences(
            request.user, actor=request.user, choices=form.choices(), ip_address=client_ip(request)
        )
        messages.success(request, "Your email choices were saved.")
        return redirect("notifications:preferences")
    return render(request, "notifications/preferences.html", {"form": form})


def _private(response: HttpResponse) -> HttpResponse:
    # The token in the URL is a credential: keep it out of caches and other sites' referrers.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@csrf_exempt  # the signed token is the credential; RFC 8058 mail apps POST without cookies or a form
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """One signed link from an email, no login: GET asks to confirm, POST switches the emails off.

    A mail app's one-click request (RFC 8058: POST with List-Unsubscribe=One-Click) lands here as well.
    A tampered, truncated or expired token, or one for a deleted account, is a 400 that changes nothing.
    """
    try:
        user, scope = services.read_unsubscribe_token(token, max_age_days=settings.NOTIFICATION_UNSUBSCRIBE_DAYS)
    except signing.SignatureExpired:
        return _bad_link(request, "This unsubscribe link has expired: links work for a few months.", expired=True)
    except (signing.BadSignature, User.DoesNotExist, ValueError, TypeError):
        return _bad_link(request, "This unsubscribe link is not valid: copy the whole link from the email.")
    everything = scope == services.ALL_OPTIONAL
    labels = [kinds.info(c).label.lower() for c in (kinds.OPTIONAL_CATEGORIES if everything else [scope])]
    context = {
        "token": token,
        "everything": everything,
        "labels": labels,
        "scope_label": kinds.info(scope).label.lower() if not everything else "",
        "masked_email": _masked(user.email),
        "done": False,
    }
    if request.method == "POST":
        services.unsubscribe(user, scope=scope, actor=user, ip_address=client_ip(request))
        context["done"] = True
    return _private(render(request, "notifications/unsubscribe.html", context))


def _bad_link(request, message: str, *, expired: bool = False) -> HttpResponse:
    context = {"message": message, "expired": expired}
    return _private(render(request, "notifications/unsubscribe_invalid.html", context, status=400))


def _masked(email: str) -> str:
    """Enough of the address for its owner to recognise it; the link may have been forwarded."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}{'•' * max(len(local) - 1, 1)}@{domain}" if domain else "your address"
