"""The target job pasted on the request becomes the order's first job of the job-match report, once."""

import datetime

import pytest
from django.utils import timezone

from documents.models import JobDescription
from documents.services import carry_request_job
from orders import services as order_services
from requests_app.services import create_request

pytestmark = pytest.mark.django_db

JOB = "Senior Project Manager. Agile delivery, Jira, budgets and stakeholder communication."


def _request(client_user, coach_user, **job):
    return create_request(
        actor=client_user,
        coach_profile=coach_user.coach_profile,
        service_type="cv",
        title="CV please",
        requirements="A CV for engineering management roles.",
        deadline=timezone.localdate() + datetime.timedelta(days=20),
        **job,
    )


def test_the_requests_job_is_on_the_orders_report(client, client_user, coach_user):
    made = _request(client_user, coach_user, job_title="PM at Gamma", job_description=JOB)
    order = order_services.accept_request(made.pk, actor=coach_user)
    job = JobDescription.objects.get(order=order)
    assert (job.title, job.text, job.from_request, job.author) == ("PM at Gamma", JOB, True, client_user)
    order_services.mark_paid(order.pk, actor=None)
    client.force_login(client_user)
    page = client.get(f"/documents/orders/{order.pk}/report/").content.decode()
    assert "PM at Gamma" in page


def test_a_request_without_a_job_gives_the_order_none(client_user, coach_user):
    order = order_services.accept_request(_request(client_user, coach_user).pk, actor=coach_user)
    assert not JobDescription.objects.filter(order=order).exists()


def test_carrying_the_job_twice_makes_one(client_user, coach_user):
    made = _request(client_user, coach_user, job_description=JOB)
    order = order_services.accept_request(made.pk, actor=coach_user)
    assert carry_request_job(order) == carry_request_job(order)
    assert JobDescription.objects.filter(order=order).count() == 1
    assert JobDescription.objects.get(order=order).title == "Target job"
