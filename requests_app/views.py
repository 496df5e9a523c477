"""Service request pages. Accepting a request creates an order, so that view lives in orders."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.access import role_required, verified_email_required
from coaches.models import CoachProfile, CoachService, ServiceType
from core.exceptions import DomainError
from files.models import FileCategory

from . import services
from .attachments import AttachmentError, attached_again, collect_attachments
from .forms import RejectForm, ServiceRequestForm
from .models import RequestStatus, ServiceRequest

PAGE_SIZE = 20


def _coach_from_query(request) -> CoachProfile | None:
    raw = request.GET.get("coach", "")
    if not raw:
        return None
    if not raw.isdigit():
        raise Http404("No such coach.")
    return get_object_or_404(CoachProfile.objects.select_related("user").prefetch_related("services"), pk=int(raw))


def _refused_note(request, *, attached: bool) -> str:
    """The words that say a chosen file did not go with the request.

    The upload widget adds a `refused_files` field for each file it chose but could not upload, so
    the server knows honestly that the user meant to attach something (without JavaScript a bad file
    re-renders the form with the error instead, never reaching here).
    """
    names = [name[:80] for name in request.POST.getlist("refused_files")[:3] if name.strip()]
    if not names:
        return ""
    quoted = ", ".join(f"“{name}”" for name in names)
    if attached:
        return f" ({quoted} was not attached: it was refused)"
    return f" without an attachment ({quoted} was refused)"


@role_required("client")
@verified_email_required
def new_request(request):
    """/requests/new/?coach=<profile id>&service=<type> for one coach, /requests/new/ for an open request."""
    coach_profile = _coach_from_query(request)
    initial = {}
    if request.GET.get("service") in ServiceType.values:
        initial["service_type"] = request.GET["service"]
    form = ServiceRequestForm(request.POST or None, coach_profile=coach_profile, initial=initial)
    service = None
    if coach_profile is not None and initial.get("service_type"):
        service = next(
            (s for s in coach_profile.services.all() if s.service_type == initial["service_type"] and s.is_active),
            None,
        )
    if request.method == "GET" and coach_profile is not None:
        try:
            services.bookable_service(coach_profile, initial.get("service_type", ""))
        except DomainError as exc:
            messages.warning(request, exc.message)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            services.check_rate_limit(request.user)
            try:
                attachments = collect_attachments(request, category=FileCategory.CV_UPLOAD)
            except AttachmentError as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                data = form.cleaned_data
                service_request = services.create_request(
                    actor=request.user,
                    coach_profile=coach_profile,
                    service_type=data["service_type"],
                    title=data["title"],
                    requirements=data["requirements"],
                    deadline=data["deadline"],
                    attachments=attachments,
                    job_title=data["job_title"],
                    job_description=data["job_description"],
                )
                missing = _refused_note(request, attached=bool(attachments))
                if coach_profile is not None:
                    messages.success(request, f"Your request was sent to {coach_profile.user.display_name}{missing}.")
                else:
                    messages.success(
                        request, f"Your open request was published{missing}: matching coaches can now take it."
                    )
                return redirect("requests_app:detail", pk=service_request.pk)
    context = {
        "form": form,
        "coach_profile": coach_profile,
        "service": service,
        "expiry_hours": settings.REQUEST_EXPIRY_HOURS,
        "attached": attached_again(request, category=FileCategory.CV_UPLOAD) if request.method == "POST" else [],
    }
    return render(request, "requests_app/new.html", context, status=status)


@role_required("client")
def my_requests(request):
    mine = ServiceRequest.objects.for_client(request.user)
    qs = mine.select_related("coach__user", "order")
    status = request.GET.get("status", "")
    if status in RequestStatus.values:
        qs = qs.filter(status=status)
    elif status:
        messages.info(request, "Unknown status filter ignored.")
        status = ""
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = dict(mine.order_by().values_list("status").annotate(n=Count("id")))  # one query for every tab
    tabs = [("", "All", sum(counts.values()))]
    tabs += [(value, label, counts.get(value, 0)) for value, label in RequestStatus.choices]
    return render(
        request,
        "requests_app/mine.html",
        {
            "page": page,
            "status": status,
            "tabs": tabs,
            "querystring": f"status={status}" if status else "",
        },
    )


def available_for(profile: CoachProfile):
    return ServiceRequest.objects.available_to(profile)


@role_required("coach")
def available(request):
    profile = getattr(request.user, "coach_profile", None)
    if profile is None:
        messages.info(request, "Set up your coach profile and services first: requests follow what you offer.")
        return redirect("coaches:edit_profile")
    page = Paginator(available_for(profile), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "requests_app/available.html", {"page": page, "profile": profile})


def get_request_for(user, pk: int) -> ServiceRequest:
    """The request if `user` may see it, else 404 (never a hint that it exists)."""
    return get_object_or_404(ServiceRequest.objects.visible_to(user).select_related("client", "coach__user"), pk=pk)


@login_required
def detail(request, pk: int):
    service_request = get_request_for(request.user, pk)
    order = getattr(service_request, "order", None) if service_request.status == RequestStatus.ACCEPTED else None
    user = request.user
    profile = getattr(user, "coach_profile", None) if user.is_coach else None
    declined = profile is not None and service_request.declines.filter(coach=profile).exists()
    can_decide = (
        profile is not None
        and service_request.status == RequestStatus.PENDING
        and service_request.coach_id in (None, profile.pk)
        and not declined
    )
    offered_service = None
    if can_decide and service_request.coach_id is None:
        offered_service = CoachService.objects.filter(
            coach=profile, service_type=service_request.service_type, is_active=True
        ).first()
    context = {
        "req": service_request,
        "order": order if order and (user.is_staff or user.pk in (order.client_id, order.coach_id)) else None,
        "is_client": service_request.client_id == user.pk,
        "can_decide": can_decide,
        "declined": declined,
        "offered_service": offered_service,
        "reject_form": RejectForm(),
    }
    return render(request, "requests_app/detail.html", context)


@role_required("client")
@require_POST
def withdraw(request, pk: int):
    service_request = get_object_or_404(ServiceRequest.objects.for_client(request.user), pk=pk)
    services.withdraw_request(service_request.pk, actor=request.user)
    messages.success(request, f"You withdrew “{service_request.title}”.")
    return redirect("requests_app:mine")


@role_required("coach")
@require_POST
def reject(request, pk: int):
    service_request = get_request_for(request.user, pk)
    form = RejectForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The reason is too long (500 characters at most).")
        return redirect("requests_app:detail", pk=pk)
    services.reject_request(service_request.pk, actor=request.user, reason=form.cleaned_data["reason"])
    if service_request.coach_id is None:
        messages.success(request, f"You passed on “{service_request.title}”; other coaches can still take it.")
    else:
        messages.success(request, f"You rejected “{service_request.title}”. The client has been told.")
    return redirect("requests_app:available")
