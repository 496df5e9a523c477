"""Conversation pages and the plain-form / JSON endpoints. Thin: every change goes through services."""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from coaches.models import CoachProfile
from core import sqlmemo
from core.exceptions import DomainError
from core.pages import cached_page, fresh_per_visit
from orders.models import Order

from . import realtime, services
from .forms import MessageForm
from .models import Message, ThreadReadState

PAGE_SIZE = 30
THREADS_PER_PAGE = 20
CATCH_UP_LIMIT = 100


def _wants_json(request) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


def _int_param(request, name: str) -> int | None:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        return -1
    return value if value >= 0 else -1


@login_required
@require_GET
def thread_list(request):
    page = Paginator(services.threads_for_list(request.user), THREADS_PER_PAGE).get_page(request.GET.get("page"))
    threads = list(page.object_list)
    services.attach_last_messages(threads)
    for thread in threads:
        if not services.is_participant(thread, request.user):
            thread.unread = 0  # staff read as moderators: nothing is "unread" for them
    return render(request, "messaging/thread_list.html", {"page": page, "threads": threads})


# The page's queries are compiled once per process (core.sqlmemo: on a miss the thread page spent more on
# building them than on running them, issue 13). The messages and their attachments are planned on every run,
# not kept prepared: their best plan depends on the thread's size (a generic plan sorts a whole thread for a
# page of 30). The read marks, a lookup by (thread, user), are kept prepared.


def _newest_messages(given) -> QuerySet:
    queryset = Message.objects.filter(thread_id=given["thread"]).select_related("sender")
    if "before" in given:
        queryset = queryset.filter(pk__lt=given["before"])
    return queryset.order_by("-id")[: PAGE_SIZE + 1]


def _attachment_links(given) -> QuerySet:
    """Each attachment of the thread's messages with ids in [first, last], in FileAsset's own order (what
    prefetch_related("attachments") reads). A page is the thread's messages between its oldest and newest id."""
    links = Message.attachments.through.objects.filter(
        message__thread_id=given["thread"], message_id__gte=given["first"], message_id__lte=given["last"]
    )
    return links.select_related("fileasset").order_by("-fileasset__created_at", "-fileasset__id")


def _messages_page(thread, before: int | None):
    """The page's messages (oldest first), whether older ones exist, and each message's attachments."""
    given = {"thread": thread.pk, **({"before": before} if before else {})}
    shape = ("thread page: messages", "before" in given)
    newest_first: list[Any] = sqlmemo.instances(shape, _newest_messages, given)
    has_older = len(newest_first) > PAGE_SIZE
    messages = list(reversed(newest_first[:PAGE_SIZE]))
    attachments: dict[int, list] = {m.pk: [] for m in messages}
    if messages:
        span = {"thread": thread.pk, "first": messages[0].pk, "last": messages[-1].pk}
        links: list[Any] = sqlmemo.instances("thread page: attachments", _attachment_links, span)
        for link in links:
            attachments[link.message_id].append(link.fileasset)
    return messages, has_older, attachments


def _read_marks_query(given) -> QuerySet:
    marks = ThreadReadState.objects.filter(thread_id=given["thread"], user_id__in=[given["client"], given["coach"]])
    return marks.values_list("user_id", "last_read_message_id")


def _read_marks(thread) -> dict[int, int]:
    """How far each participant has read (one query for both: the viewer's mark and the other's)."""
    client_id, coach_id = services.participant_ids(thread)
    given = {"thread": thread.pk, "client": client_id, "coach": coach_id}
    marks: list[Any] = sqlmemo.rows("thread page: read marks", _read_marks_query, given, prepare=True)
    return dict(marks)


def _render_thread(request, thread, *, form=None, status=200, error=None):
    before = _int_param(request, "before")
    if before == -1:
        before = None
    messages, has_older, attachments = _messages_page(thread, before)
    participant = services.is_participant(thread, request.user)
    marks = _read_marks(thread)
    if participant and not before and status == 200 and messages and marks.get(request.user.pk, 0) < messages[-1].pk:
        services.mark_read(thread, actor=request.user)  # a revisit with nothing new writes nothing
    client, coach = thread.client, thread.coach
    other_read_up_to = max((m for user_id, m in marks.items() if user_id != request.user.pk), default=0)
    context = {
        "thread": thread,
        "order": thread.order,
        "chat_messages": messages,
        "chat_messages_html": realtime.messages_html(
            messages, viewer_id=request.user.pk, other_read_up_to=other_read_up_to, attachments=attachments
        ),
        "has_older": has_older,
        "oldest_id": messages[0].pk if messages else None,
        "latest_id": messages[-1].pk if messages else 0,
        "viewing_older": bool(before),
        "is_participant": participant,
        "other": coach if request.user.pk == client.pk else client,
        "other_read_up_to": other_read_up_to,
        "read_only_since": services.read_only_since(thread),
        "form": form or MessageForm(initial={"client_token": fresh_per_visit(request)}),
        "error": error,
    }
    return render(request, "messaging/thread_detail.html", context, status=status)


@login_required
@require_GET
@cached_page
def thread_detail(request, thread_id: int):
    thread = services.thread_for(request.user, thread_id)
    return _render_thread(request, thread)


@login_required
@require_http_methods(["GET", "POST"])
def thread_messages(request, thread_id: int):
    """GET: JSON catch-up (?after=<id>) or older page (?before=<id>). POST: send a message."""
    thread = services.thread_for(request.user, thread_id)
    if request.method == "POST":
        return _post_message(request, thread)
    after, before = _int_param(request, "after"), _int_param(request, "before")
    if after == -1 or before == -1:
        return JsonResponse({"error": "after and before must be message ids."}, status=400)
    queryset = Message.objects.filter(thread=thread).select_related("sender").prefetch_related("attachments")
    if before is not None:
        rows = list(queryset.filter(pk__lt=before).order_by("-id")[: CATCH_UP_LIMIT + 1])
        has_more = len(rows) > CATCH_UP_LIMIT
        rows = list(reversed(rows[:CATCH_UP_LIMIT]))
    else:
        rows = list(queryset.filter(pk__gt=after or 0).order_by("id")[: CATCH_UP_LIMIT + 1])
        has_more = len(rows) > CATCH_UP_LIMIT
        rows = rows[:CATCH_UP_LIMIT]
    other_read_up_to = services.other_party_read_up_to(thread, request.user)
    messages = [realtime.message_data(m, viewer_id=request.user.pk, other_read_up_to=other_read_up_to) for m in rows]
    return JsonResponse({"messages": messages, "has_more": has_more, "other_read_up_to": other_read_up_to})


def _post_message(request, thread):
    form = MessageForm(request.POST, request.FILES)
    json_reply = _wants_json(request)
    if not form.is_valid():
        error = " ".join(e for errors in form.errors.values() for e in errors)
        if json_reply:
            return JsonResponse({"error": error}, status=400)
        return _render_thread(request, thread, form=form, status=400, error=error)
    body = form.cleaned_data["body"]
    ids = request.POST.getlist("attachment_ids")
    uploads = form.cleaned_data["files"]
    try:
        services.check_can_send(thread, actor=request.user, body=body, has_attachments=bool(ids or uploads))
        attachments = services.attachments_from_ids(request.user, ids) if ids else []
        attachments += services.store_attachments(uploads, actor=request.user)
        message = services.send_message(
            thread,
            actor=request.user,
            body=body,
            attachments=attachments,
            client_token=form.cleaned_data["client_token"],
        )
    except (DomainError, ValidationError) as exc:
        message_text = exc.message if isinstance(exc, DomainError) else " ".join(exc.messages)
        status = exc.status if isinstance(exc, DomainError) else 400
        if json_reply:
            return JsonResponse({"error": message_text}, status=status)
        return _render_thread(request, thread, form=form, status=status, error=message_text)
    if json_reply:
        data = message.payload or realtime.message_data(message, viewer_id=request.user.pk)
        return JsonResponse({"message": realtime.as_seen_by(data, request.user.pk)}, status=201)
    return redirect(reverse("messaging:detail", args=[thread.pk]) + f"#m{message.pk}")


@login_required
@require_GET
def order_thread(request, order_id: int):
    """The order page links here: open (creating it if an older order has none) the order's thread."""
    order = get_object_or_404(Order.objects.visible_to(request.user), pk=order_id)
    thread = services.get_or_create_thread(order)
    return redirect("messaging:detail", thread.pk)


@login_required
@require_http_methods(["GET", "POST"])
def coach_thread(request, profile_id: int):
    """From the coach page: ask before ordering. GET asks to confirm (the coach page is cached and
    carries no form); POST finds or opens the client's conversation with the coach."""
    profile = get_object_or_404(CoachProfile.objects.listed().select_related("user"), pk=profile_id)
    if request.method == "POST":
        try:
            thread = services.open_preorder_thread(profile.user, actor=request.user)
        except DomainError as exc:
            return render(
                request, "messaging/coach_thread.html", {"profile": profile, "error": exc.message}, status=exc.status
            )
        return redirect("messaging:detail", thread.pk)
    return render(request, "messaging/coach_thread.html", {"profile": profile})
