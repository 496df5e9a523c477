"""A client may paste the target job with the request (form and API); documents carries it onto the
order (documents/tests/test_request_jobs.py). Too long, or a title without text: a clear message,
nothing saved."""

import datetime

import pytest
from django.utils import timezone

from core.exceptions import DomainError
from core.tests.api import API, assert_problem, client_for
from requests_app.models import ServiceRequest
from requests_app.services import clean_job_description

pytestmark = pytest.mark.django_db

JOB = "Senior Project Manager. Agile delivery, Jira, budgets and stakeholder communication."


def _deadline(days: int = 20) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


def _form(**overrides):
    data = {
        "service_type": "cv",
        "title": "CV for project manager roles",
        "requirements": "Ten years in construction, moving into software project management.",
        "deadline": _deadline().isoformat(),
    }
    data.update(overrides)
    return data


def test_the_form_saves_the_job_and_the_request_page_shows_it(client, client_user, coach_user):
    client.force_login(client_user)
    url = f"/requests/new/?coach={coach_user.coach_profile.pk}&service=cv"
    assert "Target job description (optional)" in client.get(url).content.decode()
    response = client.post(url, _form(job_title="PM at Gamma", job_description=f"  {JOB}  "))
    assert response.status_code == 302
    made = ServiceRequest.objects.get()
    assert (made.job_title, made.job_description) == ("PM at Gamma", JOB)
    assert "Target job: PM at Gamma" in client.get(f"/requests/{made.pk}/").content.decode()


def test_a_50000_character_job_is_refused_on_the_form_with_its_length(client, client_user, coach_user):
    client.force_login(client_user)
    url = f"/requests/new/?coach={coach_user.coach_profile.pk}&service=cv"
    response = client.post(url, _form(job_title="PM", job_description="x" * 50_000))
    assert response.status_code == 400
    assert "at most 20,000 characters long (yours has 50,000)" in response.content.decode()
    assert not ServiceRequest.objects.exists()


def test_a_job_title_without_a_description_is_refused(client, client_user, coach_user):
    client.force_login(client_user)
    url = f"/requests/new/?coach={coach_user.coach_profile.pk}&service=cv"
    response = client.post(url, _form(job_title="PM at Gamma", job_description="   \n  "))
    assert response.status_code == 400
    assert "Paste the text of the job description, or leave the job title empty too." in response.content.decode()
    assert not ServiceRequest.objects.exists()


def test_the_service_refuses_what_the_form_refuses():
    assert clean_job_description("", "") == ("", "")
    assert clean_job_description("  A   title ", " text ") == ("A title", "text")
    with pytest.raises(DomainError, match="yours has 20,001"):
        clean_job_description("", "y" * 20_001)
    with pytest.raises(DomainError, match="Paste the text"):
        clean_job_description("Title", "")


def test_the_api_takes_the_job_and_answers_400_for_bad_ones(client_user, coach_user):
    api = client_for(client_user)
    body = {
        "coach_id": coach_user.coach_profile.pk,
        "service_type": "cv",
        "title": "CV for data roles",
        "requirements": "Senior analyst, ten years in banking, moving to tech.",
        "deadline": _deadline().isoformat(),
    }
    too_long = assert_problem(api.post(f"{API}requests", {**body, "job_description": "z" * 50_000}, format="json"), 400)
    assert "yours has 50,000" in str(too_long)
    assert "Paste the text" in str(
        assert_problem(api.post(f"{API}requests", {**body, "job_title": "Analyst"}, format="json"), 400)
    )
    assert not ServiceRequest.objects.exists()
    response = api.post(f"{API}requests", {**body, "job_title": "Analyst", "job_description": JOB}, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["job_title"], response.json()["job_description"]) == ("Analyst", JOB)
