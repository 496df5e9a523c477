"""requests on the API: each endpoint for the owner, another client, the coaches, staff and anonymous."""

import datetime

import pytest
from django.utils import timezone

from accounts.tests.factories import ClientFactory
from core.tests.api import API, assert_problem, client_for
from requests_app.models import RequestStatus, ServiceRequest
from requests_app.tests.factories import ServiceRequestFactory

pytestmark = pytest.mark.django_db


def in_days(days: int) -> str:
    return (timezone.localdate() + datetime.timedelta(days=days)).isoformat()


@pytest.fixture
def body(coach_user):
    return {
        "coach_id": coach_user.coach_profile.pk,
        "service_type": "cv",
        "title": "CV for data roles",
        "requirements": "Senior analyst, ten years in banking, moving to tech.",
        "deadline": in_days(20),
    }


def test_a_verified_client_sends_a_request_to_a_coach(client_user, coach_user, body):
    response = client_for(client_user).post(f"{API}requests", body, format="json")
    assert response.status_code == 201, response.content
    made = ServiceRequest.objects.get(pk=response.json()["id"])
    assert made.client == client_user and made.coach == coach_user.coach_profile
    assert response.json()["price"] == "120.00" and made.status == RequestStatus.PENDING


def test_an_open_request_has_no_coach(client_user, coach_user, body):
    del body["coach_id"]
    response = client_for(client_user).post(f"{API}requests", body, format="json")
    assert response.status_code == 201 and response.json()["coach_id"] is None


def test_only_verified_clients_may_send(coach_user, staff_user, body):
    assert_problem(client_for(coach_user).post(f"{API}requests", body, format="json"), 403)
    assert_problem(client_for(staff_user).post(f"{API}requests", body, format="json"), 403)
    assert_problem(client_for().post(f"{API}requests", body, format="json"), 401)
    unverified = ClientFactory(verified=False)
    assert (
        "confirm your email"
        in assert_problem(client_for(unverified).post(f"{API}requests", body, format="json"), 403)["detail"]
    )
    assert not ServiceRequest.objects.exists()


def test_bad_input_is_400_naming_the_field(client_user, body):
    api = client_for(client_user)
    assert (
        "deadline"
        in assert_problem(api.post(f"{API}requests", {**body, "deadline": in_days(1)}, format="json"), 400)["fields"]
    )
    assert (
        "title"
        in assert_problem(api.post(f"{API}requests", {**body, "title": "x" * 161}, format="json"), 400)["fields"]
    )
    assert (
        "coach_id"
        in assert_problem(api.post(f"{API}requests", {**body, "coach_id": 999999}, format="json"), 400)["fields"]
    )
    assert (
        "attachment_ids"
        in assert_problem(api.post(f"{API}requests", {**body, "attachment_ids": [424242]}, format="json"), 400)[
            "fields"
        ]
    )
    assert set(
        assert_problem(api.post(f"{API}requests", {**body, "status": "accepted"}, format="json"), 400)["fields"]
    ) == {"status"}
    assert not ServiceRequest.objects.exists()


def test_the_hourly_limit_is_429_with_retry_after(client_user, body, settings):
    settings.REQUEST_RATE_LIMIT_PER_HOUR = 1
    api = client_for(client_user)
    assert api.post(f"{API}requests", body, format="json").status_code == 201
    response = api.post(f"{API}requests", body, format="json")
    assert_problem(response, 429) and response["Retry-After"]


def test_my_requests_are_only_mine(client_user, other_client, coach_user, staff_user):
    mine = ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile)
    ServiceRequestFactory(client=other_client, coach=coach_user.coach_profile)
    assert [r["id"] for r in client_for(client_user).get(f"{API}requests/me").json()["results"]] == [mine.pk]
    assert_problem(client_for(coach_user).get(f"{API}requests/me"), 403)
    assert_problem(client_for().get(f"{API}requests/me"), 401)


def test_available_lists_what_a_coach_can_take(client_user, coach_user, other_coach):
    addressed = ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile)
    open_one = ServiceRequestFactory(client=client_user, coach=None)
    ServiceRequestFactory(client=client_user, coach=other_coach.coach_profile)
    ids = {r["id"] for r in client_for(coach_user).get(f"{API}requests/available").json()["results"]}
    assert ids == {addressed.pk, open_one.pk}
    assert_problem(client_for(client_user).get(f"{API}requests/available"), 403)


def test_someone_elses_request_is_404(client_user, other_client, coach_user, other_coach, staff_user):
    target = ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile)
    url = f"{API}requests/{target.pk}"
    assert client_for(client_user).get(url).status_code == 200
    assert client_for(coach_user).get(url).status_code == 200
    assert client_for(staff_user).get(url).status_code == 200
    assert_problem(client_for(other_client).get(url), 404)
    assert_problem(client_for(other_coach).get(url), 404)


def test_the_addressed_coach_rejects_and_the_client_cannot(client_user, coach_user, other_coach):
    target = ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile)
    url = f"{API}requests/{target.pk}/reject"
    assert_problem(client_for(other_coach).patch(url, {"reason": "busy"}, format="json"), 404)
    assert_problem(client_for(client_user).patch(url, {}, format="json"), 403)
    response = client_for(coach_user).patch(url, {"reason": "Fully booked"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "rejected"
    assert_problem(client_for(coach_user).patch(url, {}, format="json"), 409)
    assert (
        "reason"
        in assert_problem(client_for(coach_user).patch(url, {"reason": "x" * 501}, format="json"), 400)["fields"]
    )
