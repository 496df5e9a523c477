"""Beat jobs on requests: expiry and the coach's reminder, each safe to run twice."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from notifications.models import Notification
from requests_app import tasks
from requests_app.models import RequestStatus, ServiceRequest
from requests_app.tests.factories import ServiceRequestFactory

pytestmark = pytest.mark.django_db


def _hours(h):
    return timezone.now() + datetime.timedelta(hours=h)


def test_expiry_job_expires_overdue_pending_requests_once(client_user, coach_user, django_capture_on_commit_callbacks):
    overdue = ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile, expires_at=_hours(-1))
    fresh = ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile, expires_at=_hours(5))
    withdrawn = ServiceRequestFactory(client=client_user, expires_at=_hours(-1), status=RequestStatus.WITHDRAWN)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.expire_requests.delay().get() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.expire_requests.delay().get() == 0
    statuses = dict(ServiceRequest.objects.values_list("pk", "status"))
    assert statuses == {overdue.pk: "expired", fresh.pk: "pending", withdrawn.pk: "withdrawn"}
    assert Notification.objects.filter(user=client_user, kind="request_expired").count() == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [client_user.email]


def test_reminder_goes_to_the_coach_once_before_expiry(client_user, coach_user, settings):
    settings.REQUEST_REMINDER_HOURS_BEFORE = 12
    soon = ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile, expires_at=_hours(6))
    later = ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile, expires_at=_hours(40))
    ServiceRequestFactory(client=client_user, coach=None, expires_at=_hours(6))  # open: nobody to remind
    assert tasks.send_expiry_reminders.delay().get() == 1
    assert tasks.send_expiry_reminders.delay().get() == 0
    soon.refresh_from_db()
    later.refresh_from_db()
    assert soon.reminder_sent_at is not None and later.reminder_sent_at is None
    reminder = Notification.objects.get(user=coach_user, kind="request_reminder")
    assert "expires in about" in reminder.text


def test_expired_request_cannot_be_accepted(client_user, coach_user):
    from core.exceptions import InvalidState
    from orders.services import accept_request

    overdue = ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile, expires_at=_hours(-1))
    tasks.expire_requests.delay().get()
    with pytest.raises(InvalidState, match="expired"):
        accept_request(overdue.pk, actor=coach_user)


def test_beat_schedule_lists_every_marketplace_job(settings):
    tasks_scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "requests_app.tasks.expire_requests",
        "requests_app.tasks.send_expiry_reminders",
        "orders.tasks.auto_complete_silent_deliveries",
        "orders.tasks.escalate_overdue_orders",
        "orders.tasks.cancel_unpaid_orders",
    } <= tasks_scheduled
    from elite.celery import app

    app.loader.import_default_modules()
    assert tasks_scheduled <= set(app.tasks)
