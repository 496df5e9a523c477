"""Every change to a service request goes through here; accepting one lives in orders.services.

A request is either addressed to one coach (price snapshotted from that coach's service) or open
(no coach; any available coach offering the service may take it, and the price is snapshotted on
acceptance). Only pending requests move, and each move locks the row first.

Signature: `verb(request_id, *, actor, …)`: every move locks the request, so it takes its id;
`actor` is the client or coach acting (jobs act as the system and take only `now`). Creating a
request has no target yet: `create_request(*, actor, …)`.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Min, Model, QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from coaches.models import CoachProfile, CoachService
from coaches.services import recompute_response_time
from core.exceptions import DomainError, InvalidState, NotPermitted, RateLimited
from core.pages import rows_changed
from files.models import FileAsset
from notifications.services import notify

from .models import RequestDecline, RequestStatus, ServiceRequest

M = TypeVar("M", bound=Model)


def _request_link(service_request: ServiceRequest) -> str:
    return reverse("requests_app:detail", args=[service_request.pk])


def bookable_service(coach_profile: CoachProfile, service_type: str) -> CoachService:
    """The active service a client may request from this coach now, or a DomainError saying why not."""
    user = coach_profile.user
    if not user.is_active or user.account_status != "active":
        raise DomainError("This coach is not taking requests at the moment.")
    if not coach_profile.is_available:
        raise DomainError("This coach is not available for new work at the moment.")
    service = CoachService.objects.filter(coach=coach_profile, service_type=service_type, is_active=True).first()
    if service is None:
        raise DomainError("This coach does not offer that service.")
    return service


def open_request_min_days(service_type: str) -> int | None:
    """The fastest delivery any available coach offers for this service (None: nobody offers it)."""
    return (
        CoachService.objects.filter(
            service_type=service_type,
            is_active=True,
            coach__is_available=True,
            coach__user__is_active=True,
            coach__user__account_status="active",
        )
        .aggregate(days=Min("delivery_days"))
        .get("days")
    )


def check_deadline(deadline: datetime.date, min_days: int) -> None:
    today = timezone.localdate()
    if deadline <= today:
        raise DomainError("The deadline must be in the future.")
    earliest = today + timedelta(days=min_days)
    if deadline < earliest:
        raise DomainError(
            f"The deadline is too soon: this service takes at least {min_days} day{'s' if min_days != 1 else ''}. "
            f"Choose {earliest:%d %B %Y} or later."
        )


def check_rate_limit(client: User) -> None:
    """At most REQUEST_RATE_LIMIT_PER_HOUR new requests per client per hour (cache-backed, shared).

    Called by the request form view, the door people come through; scripts (seed_demo) that
    create requests on behalf of many users are not throttled.
    """
    limit = settings.REQUEST_RATE_LIMIT_PER_HOUR
    key = f"request-rate:{client.pk}:{timezone.now():%Y%m%d%H}"
    cache.add(key, 0, 3600)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, 3600)
        count = 1
    if count > limit:
        raise RateLimited(f"You have sent {limit} requests in the last hour. Please try again later.")


def _open_request_audience(service_type: str):
    """Available coaches offering the service, best rated first, capped so one request is not a mass mailing."""
    return (
        CoachProfile.objects.filter(
            is_available=True,
            user__is_active=True,
            user__account_status="active",
            services__service_type=service_type,
            services__is_active=True,
        )
        .select_related("user")
        .order_by("-rating_avg", "pk")[: settings.OPEN_REQUEST_NOTIFY_MAX]
    )


def create_request(
    *,
    actor: User,
    service_type: str,
    title: str,
    requirements: str,
    deadline: datetime.date,
    coach_profile: CoachProfile | None = None,
    attachments: Iterable[FileAsset] = (),
    job_title: str = "",
    job_description: str = "",
) -> ServiceRequest:
    """A verified client asks one coach (coach_profile) or every matching coach (None) for a piece of work,
    optionally with the target job their CV should match (it carries onto the order's job-match report)."""
    _check_may_request(actor)
    price_minor, currency = _price_for(coach_profile, service_type, deadline)
    job_title, job_description = clean_job_description(job_title, job_description)
    with transaction.atomic():
        service_request = ServiceRequest.objects.create(
            client=actor,
            coach=coach_profile,
            service_type=service_type,
            title=title.strip(),
            requirements=requirements.strip(),
            deadline=deadline,
            price_minor=price_minor,
            currency=currency,
            posted_open=coach_profile is None,
            expires_at=timezone.now() + timedelta(hours=settings.REQUEST_EXPIRY_HOURS),
            job_title=job_title,
            job_description=job_description,
        )
        if attachments:
            service_request.attachments.set(attachments)
        _announce_new_request(service_request)
    return service_request


def _check_may_request(actor: User) -> None:
    if not actor.is_authenticated or not actor.is_client:
        raise NotPermitted("Only client accounts can request work.")
    if not actor.has_verified_email:
        raise NotPermitted("Please confirm your email address before sending a request.")


def _price_for(
    coach_profile: CoachProfile | None, service_type: str, deadline: datetime.date
) -> tuple[int | None, str]:
    """The addressed coach's price snapshot; an open request is priced when a coach accepts it. Either
    way the deadline must leave room for the (fastest) delivery time."""
    if coach_profile is not None:
        service = bookable_service(coach_profile, service_type)
        check_deadline(deadline, service.delivery_days)
        return service.price_minor, service.currency
    min_days = open_request_min_days(service_type)
    if min_days is None:
        raise DomainError("No available coach offers this service right now.")
    check_deadline(deadline, min_days)
    return None, ""


def clean_job_description(title: str, text: str) -> tuple[str, str]:
    """The target job of a request: optional, but a title without text, or a text over the job-match
    report's limit (DOCUMENTS_JOB_MAX_CHARS, since it becomes one of the order's jobs), is refused."""
    text = (text or "").replace("\x00", "").replace("\r\n", "\n").strip()
    title = " ".join((title or "").split())[:160]
    if not text:
        if title:
            raise DomainError("Paste the text of the job description, or leave the job title empty too.")
        return "", ""
    limit = settings.DOCUMENTS_JOB_MAX_CHARS
    if len(text) > limit:
        raise DomainError(
            f"A job description can be at most {limit:,} characters long (yours has {len(text):,}). "
            "Paste the part with the requirements."
        )
    return title or "Target job", text


def _announce_new_request(service_request: ServiceRequest) -> None:
    """Tell the addressed coach, or the best-rated matching coaches of an open request."""
    label = service_request.get_service_type_display()
    if service_request.coach is not None:
        audience = [(service_request.coach.user, f"New request from {service_request.client.display_name}")]
    else:
        audience = [
            (profile.user, "A new open request matches your services")
            for profile in _open_request_audience(service_request.service_type)
        ]
    for coach_user, opening in audience:
        notify(
            coach_user,
            "request_received",
            f"{opening}: “{service_request.title}” ({label}).",
            link=_request_link(service_request),
            context={"request_id": service_request.pk},
        )


def forget_job_description(service_request: ServiceRequest) -> bool:
    """Erase the request's target job: called by documents' retention job (the system, which records the
    purge in the audit log) once the order's retention period ended. Returns whether there was one."""
    with transaction.atomic():
        erased = (
            ServiceRequest.objects.filter(pk=service_request.pk)
            .exclude(job_description="", job_title="")
            .update(job_title="", job_description="", updated_at=timezone.now())
        )
        if erased:
            rows_changed(service_request)  # an update sends no signal (core.pages)
    return bool(erased)


def _locked_pending(request_id: int) -> ServiceRequest:
    service_request = ServiceRequest.objects.select_for_update().get(pk=request_id)
    if service_request.status != RequestStatus.PENDING:
        raise InvalidState(
            f"This request is {service_request.get_status_display().lower()}; it can no longer be changed."
        )
    return service_request


def withdraw_request(request_id: int, *, actor: User) -> ServiceRequest:
    """The client takes back a request nobody has accepted yet."""
    client = actor
    with transaction.atomic():
        service_request = ServiceRequest.objects.select_for_update().get(pk=request_id)
        if service_request.client_id != client.pk:
            raise NotPermitted("Only the client who sent a request can withdraw it.")
        if service_request.status != RequestStatus.PENDING:
            raise InvalidState(
                f"This request is {service_request.get_status_display().lower()}; it can no longer be withdrawn."
            )
        service_request.status = RequestStatus.WITHDRAWN
        service_request.decided_at = timezone.now()
        service_request.save(update_fields=["status", "decided_at", "updated_at"])
        if service_request.coach_id:
            notify(
                service_request.coach.user,
                "request_withdrawn",
                f"{client.display_name} withdrew the request “{service_request.title}”.",
                link=_request_link(service_request),
            )
    return service_request


def reject_request(request_id: int, *, actor: User, reason: str = "") -> ServiceRequest:
    """A coach says no. Addressed to them: the request is rejected and the client told.

    An open request stays open for the other coaches: this coach only declines it for themselves.
    """
    coach = actor
    profile = getattr(coach, "coach_profile", None)
    if profile is None or not coach.is_coach:
        raise NotPermitted("Only coaches can reject requests.")
    reason = reason.strip()[:500]
    with transaction.atomic():
        service_request = _locked_pending(request_id)
        if service_request.coach_id is None:
            _, created = RequestDecline.objects.get_or_create(
                request=service_request, coach=profile, defaults={"reason": reason}
            )
            if not created:
                raise InvalidState("You have already declined this request.")
        elif service_request.coach_id == profile.pk:
            service_request.status = RequestStatus.REJECTED
            service_request.decided_at = timezone.now()
            service_request.rejection_reason = reason
            service_request.save(update_fields=["status", "decided_at", "rejection_reason", "updated_at"])
            text = f"{coach.display_name} cannot take your request “{service_request.title}”."
            if reason:
                text += f" Reason: {reason}"
            notify(
                service_request.client,
                "request_rejected",
                text,
                link=_request_link(service_request),
                context={"reason": reason, "request_id": service_request.pk},
            )
        else:
            raise NotPermitted("This request is addressed to another coach.")
        transaction.on_commit(lambda: recompute_response_time(profile))
    return service_request


def mark_accepted(request_id: int, *, actor: User, service: CoachService) -> ServiceRequest:
    """orders.accept_request turns this pending request (locked in its transaction) into an order:
    record the coach who took it and, for an open request, the price of `service` now (its snapshot)."""
    service_request = _locked_pending(request_id)
    if service_request.price_minor is None:
        service_request.price_minor = service.price_minor
        service_request.currency = service.currency
    service_request.status = RequestStatus.ACCEPTED
    service_request.decided_at = timezone.now()
    service_request.coach_id = service.coach_id
    service_request.save(update_fields=["status", "decided_at", "coach", "price_minor", "currency", "updated_at"])
    return service_request


# --- Jobs (idempotent: each acts only on rows still due once they are locked) -------------------


def each_still_due(due: QuerySet[M], act: Callable[[M], object]) -> int:
    """Call act(row) for every row of `due`, each in its own transaction after locking it and
    checking it still matches (another worker or a person may have moved it). Returns how many.

    Running a job twice, or two beat workers at once, therefore acts on each row once.
    """
    done = 0
    for pk in due.values_list("pk", flat=True):
        with transaction.atomic():
            row = due.select_for_update(of=("self",)).filter(pk=pk).first()
            if row is not None:
                act(row)
                done += 1
    return done


def expire_requests(now: datetime.datetime | None = None) -> int:
    """Pending requests past expires_at become expired; the client is told once."""
    now = now or timezone.now()

    def expire(service_request: ServiceRequest) -> None:
        service_request.status = RequestStatus.EXPIRED
        service_request.decided_at = now
        service_request.save(update_fields=["status", "decided_at", "updated_at"])
        notify(
            service_request.client,
            "request_expired",
            f"Your request “{service_request.title}” expired without an answer. "
            "You can send it to another coach or as an open request.",
            link=_request_link(service_request),
        )

    due = ServiceRequest.objects.filter(status=RequestStatus.PENDING, expires_at__lte=now).select_related("client")
    return each_still_due(due, expire)


def send_expiry_reminders(now: datetime.datetime | None = None) -> int:
    """Remind the addressed coach once, REQUEST_REMINDER_HOURS_BEFORE hours before a request expires."""
    now = now or timezone.now()

    def remind(service_request: ServiceRequest) -> None:
        assert service_request.coach is not None  # only addressed requests are due (coach__isnull=False below)
        service_request.reminder_sent_at = now
        service_request.save(update_fields=["reminder_sent_at", "updated_at"])
        hours = max(int((service_request.expires_at - now).total_seconds() // 3600), 1)
        assert service_request.coach is not None  # `due` holds addressed requests only
        notify(
            service_request.coach.user,
            "request_reminder",
            f"The request “{service_request.title}” expires in about {hours} hour{'s' if hours != 1 else ''}. "
            "Accept or reject it so the client knows where they stand.",
            link=_request_link(service_request),
        )

    due = ServiceRequest.objects.filter(
        status=RequestStatus.PENDING,
        coach__isnull=False,
        reminder_sent_at__isnull=True,
        expires_at__gt=now,
        expires_at__lte=now + timedelta(hours=settings.REQUEST_REMINDER_HOURS_BEFORE),
    ).select_related("coach__user")
    return each_still_due(due, remind)
