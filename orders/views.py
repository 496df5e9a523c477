"""Order pages and the POST views of each move; every move goes through orders.services."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.forms import Form
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from accounts.access import role_required
from core import sqlmemo
from core.exceptions import InvalidState
from core.http import client_ip, post_only
from core.pages import cached_page
from files.models import FileCategory
from requests_app.attachments import AttachmentError, attached_again, collect_attachments
from requests_app.models import ServiceRequest

from . import pages, services
from .forms import DeliveryForm, DisputeStatementForm, NoteForm, OptionalNoteForm, ReplyForm, ReviewForm
from .models import ACTIVE_STATUSES, Delivery, DisputeRole, Order, OrderEvent, OrderStatus, Review

PAGE_SIZE = 20

# What each party is waiting for, per status (shown on lists and dashboards).
# Keyed by the status value: OrderStatus members are those strings.
WAITING_FOR: dict[str, dict[str, str]] = {
    "client": {
        OrderStatus.PENDING: "Waiting for your payment",
        OrderStatus.IN_PROGRESS: "The coach is working on it",
        OrderStatus.DELIVERED: "Waiting for you: accept or ask for a revision",
        OrderStatus.DISPUTED: "Our team is looking at the dispute",
    },
    "coach": {
        OrderStatus.PENDING: "Waiting for the client to pay",
        OrderStatus.IN_PROGRESS: "Waiting for your delivery",
        OrderStatus.DELIVERED: "Waiting for the client to review your delivery",
        OrderStatus.DISPUTED: "Our team is looking at the dispute",
    },
}


def waiting_for(order: Order, user) -> str:
    party = "coach" if order.coach_id == user.pk else "client"
    return WAITING_FOR[party].get(order.status, "")


ORDER_RELATED = ("client", "coach", "coach__coach_profile", "request")  # what every order view shows


def _party_order(given) -> QuerySet:
    """visible_to(user) for a party, the user's id given once per place it is used (core.sqlmemo)."""
    mine = Q(client_id=given["as_client"]) | Q(coach_id=given["as_coach"])
    orders = Order.objects.filter(mine).select_related(*ORDER_RELATED)
    return orders.filter(pk=given["order"]).order_by()[:2]


def _with_page_rows(orders: QuerySet, given) -> QuerySet:
    """`orders` with the rows the order page shows that an order has one of (its review; the apps above's,
    orders.pages.read_with_order_page): in the order's statement instead of one statement each (issue 13)."""
    orders = orders.select_related("review", *pages.PAGE_JOINS)
    return orders.annotate(**{name: build(given) for name, (build, _) in pages.PAGE_ANNOTATIONS.items()})


def _party_order_page(given) -> QuerySet:
    return _with_page_rows(_party_order(given), given)


def get_order_for(user, pk: int, *, page: bool = False) -> Order:
    """The order if `user` is a party to it (or staff), else 404.

    A party's read is compiled once per process and kept prepared (core.sqlmemo; a lookup by primary key):
    the order page on a miss spent more on building its querysets than on running them (issue 13). `page`:
    with the one-per-order rows the order page shows (_with_page_rows; not for a move's view, which writes
    them after reading the order)."""
    viewer = {key: user.pk for _, keys in pages.PAGE_ANNOTATIONS.values() for key in keys} if page else {}
    if not user.is_authenticated or user.is_staff or not isinstance(pk, int):
        orders = Order.objects.visible_to(user).select_related(*ORDER_RELATED)
        return get_object_or_404(_with_page_rows(orders, viewer) if page else orders, pk=pk)
    given = {"as_client": user.pk, "as_coach": user.pk, "order": pk, **viewer}
    if page:
        found: list[Any] = sqlmemo.instances(
            "get_order_for: page", _party_order_page, given, prepare=True, annotations=True
        )
    else:
        found = sqlmemo.instances("get_order_for: party", _party_order, given, prepare=True)
    if not found:
        raise Http404(f"No {Order._meta.object_name} matches the given query.")
    return found[0]


TABS = [("", "All"), ("active", "Active"), *OrderStatus.choices]


@login_required
def order_list(request):
    user = request.user
    if user.is_staff:
        base = Order.objects.all()
    elif user.is_coach:
        base = Order.objects.filter(coach=user)
    else:
        base = Order.objects.filter(client=user)
    status = request.GET.get("status", "")
    qs = base.select_related("client", "coach")
    if status == "active":
        qs = qs.filter(status__in=ACTIVE_STATUSES)
    elif status in OrderStatus.values:
        qs = qs.filter(status=status)
    elif status:
        messages.info(request, "Unknown status filter ignored.")
        status = ""
    if user.is_coach and status in ("active", OrderStatus.IN_PROGRESS):
        qs = qs.order_by("deadline", "id")
    counts = dict(base.order_by().values_list("status").annotate(n=Count("id")))
    counts["active"] = sum(counts.get(s, 0) for s in ACTIVE_STATUSES)
    counts[""] = sum(n for s, n in counts.items() if s in OrderStatus.values)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    for order in page.object_list:
        order.waiting_for = waiting_for(order, user)
    tabs = [(value, label, counts.get(value, 0)) for value, label in TABS]
    return render(
        request,
        "orders/list.html",
        {"page": page, "status": status, "tabs": tabs, "querystring": f"status={status}" if status else ""},
    )


PAGE_ACTIONS = {"cancel", "deliver", "request_revision", "accept_delivery", "open_dispute"}
STEP_LABELS = ["Accepted", "Paid", "Delivered", "Completed"]
# The step being worked towards says what is happening now: a phone shows only that label, and
# "Delivered" as the current step of an order in progress read as if the work had arrived.
CURRENT_STEP_LABELS = {1: "Awaiting payment", 2: "In progress", 3: "Awaiting acceptance"}


def order_steps(order: Order) -> list[tuple[str, str]]:
    """The progress bar: (label, done|current|stopped|todo) for each step of the happy path."""
    steps_reached: dict[str, int] = {
        OrderStatus.PENDING: 1,
        OrderStatus.IN_PROGRESS: 2,
        OrderStatus.DELIVERED: 3,
        OrderStatus.COMPLETED: 4,
    }
    reached = steps_reached.get(order.status)
    if reached is None:  # cancelled or disputed: stop after the last step that happened
        reached = 1 + bool(order.paid_at) + bool(order.delivered_at)
    stopped = order.status in (OrderStatus.CANCELLED, OrderStatus.DISPUTED)
    steps = []
    for index, label in enumerate(STEP_LABELS):
        if index < reached:
            state = "done"
        elif index == reached:
            state = "stopped" if stopped else "current"
            label = order.get_status_display() if stopped else CURRENT_STEP_LABELS.get(index, label)
        else:
            state = "todo"
        steps.append((label, state))
    return steps


_steps_html: dict[tuple, SafeString] = {}


def order_steps_html(order: Order) -> SafeString:
    """The progress bar's items as detail.html printed them from order_steps(): they depend on the status, the
    payment and delivery having happened and the language only, so each is made once per process (issue 13)."""
    key = (order.status, bool(order.paid_at), bool(order.delivered_at), translation.get_language())
    html = _steps_html.get(key)
    if html is None:
        current = mark_safe(' aria-current="step"')
        items = ((state, current if state == "current" else "", label) for label, state in order_steps(order))
        html = _steps_html[key] = format_html_join("", '<li class="{}"{}>{}</li>', items)
    return html


def _dispute_context(order: Order, user, events: list[OrderEvent] | None = None) -> dict:
    """The dispute panel: both sides' words, whose turn it is and by when (`events`: every event of the order,
    with its actor, when read already)."""
    stage = services.dispute_stage(order, events=events)
    if stage is None:
        return {"dispute": None}
    role = stage.role_of(order, user)
    waiting = stage.waiting_on() if order.status == OrderStatus.DISPUTED else None
    other = "coach" if user.pk == order.client_id else "client"
    context: dict[str, object] = {"dispute": stage, "dispute_due": waiting[1] if waiting else None}
    context["dispute_my_turn"] = False
    if waiting and role is not None:
        due = f"{timezone.localtime(waiting[1]):%-d %b %Y, %H:%M}"
        if waiting[0] == role:
            context["dispute_my_turn"] = True
            what = "Give your statement" if role == DisputeRole.STATEMENT else f"Answer the {other}’s statement"
            context["dispute_waiting"] = f"{what} by {due}; then our team decides."
        else:
            what = "statement" if waiting[0] == DisputeRole.STATEMENT else "answer"
            context["dispute_waiting"] = f"Waiting for the {other}’s {what} (due {due}); then our team decides."
    return context


# The order page's rows, compiled once per process and kept prepared (core.sqlmemo): each is a lookup by the
# order's id on an index of its order column, a few rows per order, whose generic plan is the custom one.


def _order_events(given) -> QuerySet:
    return OrderEvent.objects.filter(order_id=given["order"]).select_related("actor")


def _order_deliveries(given) -> QuerySet:
    # By number alone: the model's ordering ("order", "number") joins the order to sort by its dates.
    return Delivery.objects.filter(order_id=given["order"]).order_by("number").select_related("created_by")


def _order_delivery_files(given) -> QuerySet:
    """Every file of the order's deliveries, in FileAsset's own order (what prefetch_related("files") reads)."""
    links = Delivery.files.through.objects.filter(delivery__order_id=given["order"]).select_related("fileasset")
    return links.order_by("-fileasset__created_at", "-fileasset__id")


def _order_review(given) -> QuerySet:
    return Review.objects.filter(order_id=given["order"])[:1]


def order_deliveries(order: Order) -> list[Delivery]:
    """The order's deliveries by number, each with `shown_files` (its files, newest first): two statements."""
    this = {"order": order.pk}
    deliveries: list[Any] = sqlmemo.instances("order page: deliveries", _order_deliveries, this, prepare=True)
    files: dict[int, list] = {delivery.pk: [] for delivery in deliveries}
    if deliveries:
        links: list[Any] = sqlmemo.instances("order page: delivery files", _order_delivery_files, this, prepare=True)
        for link in links:
            files[link.delivery_id].append(link.fileasset)
    for delivery in deliveries:
        delivery.shown_files = files[delivery.pk]
    return deliveries


# The page's forms when nothing was sent back: unbound, so the same on every visit (issue 13: rendering them
# was ~20 % of a miss). Each is made once per process and language and rendered once (order_forms.crispy_once).
EMPTY_FORMS: dict[str, Callable[[], Form]] = {
    "cancel_form": lambda: OptionalNoteForm(label="Reason (optional)"),
    "deliver_form": DeliveryForm,
    "revision_form": lambda: NoteForm(
        label="What should change?", help_text="Be specific: the coach works from this note."
    ),
    "dispute_form": lambda: NoteForm(
        label="What went wrong?", help_text="Our team reads this and both sides’ messages."
    ),
    "review_form": ReviewForm,
    "reply_form": ReplyForm,
    "statement_form": DisputeStatementForm,
}
_empty_forms: dict[tuple[str, str | None], Form] = {}


def empty_form(name: str) -> Form:
    """The page's unbound form `name`, one per process and language (only ever read: never bound or cleaned)."""
    key = (name, translation.get_language())
    form = _empty_forms.get(key)
    if form is None:
        form = _empty_forms[key] = EMPTY_FORMS[name]()
    return form


def _render_detail(request, order: Order, *, status: int = 200, **forms):
    user = request.user
    this = {"order": order.pk}
    events = sqlmemo.instances("order page: events", _order_events, this, prepare=True)
    deliveries = order_deliveries(order)
    review: Any
    if Order.review.is_cached(order):  # joined by get_order_for(page=True)
        review = Order.review.related.get_cached_value(order)
    else:
        reviews = sqlmemo.instances("order page: review", _order_review, this, prepare=True)
        review = reviews[0] if reviews else None
    if review is not None and review.client_id == order.client_id:
        review.client = order.client  # the page shows the reviewer's name: the row get_order_for read (issue 13)
    # Moves with a button here; staff mark payments and settle disputes in the console.
    allowed = [m for m in services.allowed_transitions(order, user) if m in PAGE_ACTIONS]
    is_client, is_coach = order.client_id == user.pk, order.coach_id == user.pk
    context = {
        "order": order,
        "steps_html": order_steps_html(order),
        "events": events,
        "deliveries": deliveries,
        "allowed": allowed,
        "is_client": is_client,
        "is_coach": is_coach,
        "waiting_for": waiting_for(order, user) if (is_client or is_coach) else "",
        "review": review,
        "can_review": is_client and order.status == OrderStatus.COMPLETED and review is None,
        "can_reply": is_coach and review is not None and review.replied_at is None,
        **{name: forms.get(name) or empty_form(name) for name in EMPTY_FORMS},
        "attached": forms.get("attached") or [],
        "evidence_attached": forms.get("evidence_attached") or [],
        **_dispute_context(order, user, events),  # type: ignore[arg-type]  # instances(): OrderEvent rows
    }
    if context.get("dispute_waiting") and context["waiting_for"]:
        context["waiting_for"] = context["dispute_waiting"]
    return render(request, "orders/detail.html", context, status=status)


@login_required
@cached_page
def order_detail(request, pk: int):
    return _render_detail(request, get_order_for(request.user, pk, page=True))


def _form_action(request, pk: int, *, form, form_key: str, perform, success: str):
    """The shape of every note-carrying move: 404 for strangers, 400 on a bad form, else call the service.

    A form posted from another page of ours (the coach's dashboard) may ask to go back there (`next`)."""
    order = get_order_for(request.user, pk)
    if not form.is_valid():
        return _render_detail(request, order, status=400, **{form_key: form})
    perform(order, form.cleaned_data)
    messages.success(request, success)
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(back)
    return redirect("orders:detail", pk=order.pk)


@login_required
@post_only("orders:detail")
def cancel(request, pk: int):
    return _form_action(
        request,
        pk,
        form=OptionalNoteForm(request.POST, label="Reason (optional)"),
        form_key="cancel_form",
        perform=lambda order, data: services.cancel_order(
            order.pk, actor=request.user, reason=data["note"], ip_address=client_ip(request)
        ),
        success="The order was cancelled.",
    )


@login_required
@post_only("orders:detail")
def deliver(request, pk: int):
    order = get_order_for(request.user, pk)
    form = DeliveryForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, order, status=400, deliver_form=form)
    # Refuse a wrong actor or state before storing any upload.
    services.check_move(order, "deliver", request.user)
    files, refused = _attachments_or_refusal(
        request, order, form, category=FileCategory.DELIVERY, form_key="deliver_form", files_key="attached"
    )
    if refused is not None:
        return refused
    services.deliver(
        order.pk, actor=request.user, note=form.cleaned_data["note"], files=files, ip_address=client_ip(request)
    )
    messages.success(request, "Delivered. The client has been told.")
    return redirect("orders:detail", pk=order.pk)


def _attachments_or_refusal(request, order: Order, form, *, category: str, form_key: str, files_key: str):
    """(files, None) with the form's uploads stored, or ([], the page again with the error: 400/413/415)."""
    try:
        return collect_attachments(request, category=category), None
    except AttachmentError as exc:
        form.add_error(None, exc.message)
        again = attached_again(request, category=category)
        return [], _render_detail(request, order, status=exc.status, **{form_key: form, files_key: again})


@login_required
@post_only("orders:detail")
def dispute_statement(request, pk: int):
    """A side's statement on the dispute (or the opener's one answer), with optional evidence files."""
    order = get_order_for(request.user, pk)
    form = DisputeStatementForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, order, status=400, statement_form=form)
    services.check_dispute_turn(order, request.user)
    files, refused = _attachments_or_refusal(
        request,
        order,
        form,
        category=FileCategory.DISPUTE_EVIDENCE,
        form_key="statement_form",
        files_key="evidence_attached",
    )
    if refused is not None:
        return refused
    services.submit_dispute_statement(
        order.pk,
        actor=request.user,
        body=form.cleaned_data["body"],
        file_ids=[asset.pk for asset in files],
        ip_address=client_ip(request),
    )
    messages.success(request, "Thank you. The other side and our team can read your statement now.")
    return redirect("orders:detail", pk=order.pk)


@login_required
@post_only("orders:detail")
def request_revision(request, pk: int):
    return _form_action(
        request,
        pk,
        form=NoteForm(request.POST, label="What should change?"),
        form_key="revision_form",
        perform=lambda order, data: services.request_revision(
            order.pk, actor=request.user, note=data["note"], ip_address=client_ip(request)
        ),
        success="Revision requested. The coach has been told.",
    )


@login_required
@post_only("orders:detail")
def accept_delivery(request, pk: int):
    order = get_order_for(request.user, pk)
    services.accept_delivery(order.pk, actor=request.user, ip_address=client_ip(request))
    messages.success(request, "Order complete and the coach is paid. How did it go? Your review helps others choose.")
    # The order page now shows the review form first, right under this message.
    return redirect("orders:detail", pk=order.pk)


@login_required
@post_only("orders:detail")
def open_dispute(request, pk: int):
    return _form_action(
        request,
        pk,
        form=NoteForm(request.POST, label="What went wrong?"),
        form_key="dispute_form",
        perform=lambda order, data: services.open_dispute(
            order.pk, actor=request.user, reason=data["note"], ip_address=client_ip(request)
        ),
        success="Dispute opened. Our team will contact you both.",
    )


@login_required
@post_only("orders:detail")
def review(request, pk: int):
    return _form_action(
        request,
        pk,
        form=ReviewForm(request.POST),
        form_key="review_form",
        perform=lambda order, data: services.submit_review(
            order.pk, actor=request.user, rating=data["rating"], comment=data["comment"]
        ),
        success="Thank you for your review.",
    )


@login_required
@post_only("orders:detail")
def reply(request, pk: int):
    def perform(order, data):
        review_obj = get_object_or_404(Review, order=order)
        services.reply_to_review(review_obj.pk, actor=request.user, reply=data["reply"])

    return _form_action(
        request,
        pk,
        form=ReplyForm(request.POST),
        form_key="reply_form",
        perform=perform,
        success="Your reply is published.",
    )


@role_required("coach")
@require_POST
def accept_request(request, request_id: int):
    """Accept a request. A request that was open and is now taken answers 409 "already taken", not 404."""
    user = request.user
    service_request = get_object_or_404(ServiceRequest.objects.acceptable_by(user), pk=request_id)
    try:
        order = services.accept_request(service_request.pk, actor=user)
    except InvalidState as exc:
        if request.headers.get("Accept", "").startswith("application/json"):
            raise  # the error middleware answers JSON callers
        # The request page may be gone for this coach now, so "back" leads to their list instead.
        context = {"message": exc.message, "status": exc.status, "back_url": reverse("requests_app:available")}
        return render(request, "error.html", context, status=exc.status)
    messages.success(
        request, "Request accepted. The client has been asked to pay; you will be told when work can start."
    )
    return redirect("orders:detail", pk=order.pk)
