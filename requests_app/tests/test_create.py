"""Creating a request from the form: to one coach's service, or an open request."""

import datetime

import pytest
from django.utils import timezone

from accounts.tests.factories import ClientFactory
from coaches.models import CoachService
from coaches.tests.factories import CoachProfileFactory
from core.exceptions import NotPermitted
from notifications.models import Notification
from requests_app.models import RequestStatus, ServiceRequest
from requests_app.services import create_request

pytestmark = pytest.mark.django_db


def _post(client, url, **overrides):
    data = {
        "service_type": "cv",
        "title": "CV for product manager roles",
        "requirements": "Ten years in fintech, want to move into product management at a scale-up.",
        "deadline": (timezone.localdate() + datetime.timedelta(days=10)).isoformat(),
    }
    data.update(overrides)
    return client.post(url, data)


def _url(profile, service="cv"):
    return f"/requests/new/?coach={profile.pk}&service={service}"


def test_client_requests_a_coach_service_with_price_snapshot(csrf_client, client_user, coach_user, settings):
    profile = coach_user.coach_profile
    csrf_client.force_login(client_user)
    page = csrf_client.get(_url(profile))
    assert page.status_code == 200
    token = page.cookies["csrftoken"].value
    response = csrf_client.post(
        _url(profile),
        {
            "csrfmiddlewaretoken": token,
            "service_type": "cv",
            "title": "CV for product manager roles",
            "requirements": "Ten years in fintech, want to move into product management.",
            "deadline": (timezone.localdate() + datetime.timedelta(days=10)).isoformat(),
        },
    )
    service_request = ServiceRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/requests/{service_request.pk}/"
    assert service_request.coach == profile
    assert service_request.price_minor == 12000 and service_request.currency == "GBP"
    assert not service_request.posted_open
    expected = timezone.now() + datetime.timedelta(hours=settings.REQUEST_EXPIRY_HOURS)
    assert abs((service_request.expires_at - expected).total_seconds()) < 60
    # the price is a snapshot: a later price change does not touch the request
    CoachService.objects.filter(coach=profile).update(price_minor=99999)
    service_request.refresh_from_db()
    assert service_request.price_minor == 12000
    assert Notification.objects.filter(user=coach_user, kind="request_received").count() == 1


def test_post_without_csrf_token_is_refused(csrf_client, client_user, coach_user):
    csrf_client.force_login(client_user)
    response = _post(csrf_client, _url(coach_user.coach_profile))
    assert response.status_code == 403
    assert not ServiceRequest.objects.exists()


def test_open_request_has_no_coach_and_no_price(client, client_user, coach_user, other_coach):
    client.force_login(client_user)
    response = _post(client, "/requests/new/")
    assert response.status_code == 302
    service_request = ServiceRequest.objects.get()
    assert service_request.coach is None and service_request.posted_open
    assert service_request.price_minor is None
    notified = set(Notification.objects.filter(kind="request_received").values_list("user_id", flat=True))
    assert notified == {coach_user.pk, other_coach.pk}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("unavailable", "not available"),
        ("suspended", "not taking requests"),
        ("other_service", "does not offer that service"),
    ],
)
def test_unbookable_coach_is_a_form_error(client, client_user, coach_user, change, message):
    profile = coach_user.coach_profile
    service = "cv"
    if change == "unavailable":
        profile.is_available = False
        profile.save()
    elif change == "suspended":
        coach_user.account_status = "suspended"
        coach_user.save()
    else:
        service = "linkedin"
    client.force_login(client_user)
    response = _post(client, _url(profile, service), service_type=service)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ServiceRequest.objects.exists()


def test_deadline_in_the_past_is_a_form_error(client, client_user, coach_user):
    client.force_login(client_user)
    past = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    response = _post(client, _url(coach_user.coach_profile), deadline=past)
    assert response.status_code == 400
    assert "must be in the future" in response.content.decode()
    assert not ServiceRequest.objects.exists()


def test_deadline_sooner_than_delivery_days_is_a_form_error(client, client_user, coach_user):
    client.force_login(client_user)
    soon = (timezone.localdate() + datetime.timedelta(days=2)).isoformat()  # service takes 5 days
    response = _post(client, _url(coach_user.coach_profile), deadline=soon)
    assert response.status_code == 400
    assert "at least 5 days" in response.content.decode()
    assert not ServiceRequest.objects.exists()


def test_open_request_deadline_follows_the_fastest_available_coach(client, client_user, coach_user):
    fast = CoachProfileFactory(services=[])
    CoachService.objects.create(coach=fast, service_type="cv", price_minor=5000, delivery_days=2)
    client.force_login(client_user)
    assert _post(client, "/requests/new/", deadline=(timezone.localdate() + datetime.timedelta(days=1)).isoformat())
    assert not ServiceRequest.objects.exists()
    response = _post(client, "/requests/new/", deadline=(timezone.localdate() + datetime.timedelta(days=2)).isoformat())
    assert response.status_code == 302


def test_open_request_for_a_service_nobody_offers_is_a_form_error(client, client_user, coach_user):
    client.force_login(client_user)
    response = _post(client, "/requests/new/", service_type="linkedin")
    assert response.status_code == 400
    assert "No available coach offers this service" in response.content.decode()


def test_unverified_client_cannot_request(client, coach_user):
    unverified = ClientFactory(verified=False)
    client.force_login(unverified)
    response = client.get(_url(coach_user.coach_profile), follow=True)
    assert "confirm your email" in response.content.decode()
    response = _post(client, _url(coach_user.coach_profile))
    assert response.status_code == 302 and "/account/" in response["Location"]
    assert not ServiceRequest.objects.exists()
    # the service refuses too, whoever calls it
    with pytest.raises(NotPermitted):
        create_request(
            actor=unverified,
            coach_profile=coach_user.coach_profile,
            service_type="cv",
            title="CV please",
            requirements="Twenty characters or more here.",
            deadline=timezone.localdate() + datetime.timedelta(days=10),
        )


def test_coach_cannot_use_the_request_form(client, coach_user, other_coach):
    client.force_login(other_coach)
    assert _post(client, _url(coach_user.coach_profile)).status_code == 403


def test_anonymous_is_sent_to_login(client, coach_user):
    response = client.get(_url(coach_user.coach_profile))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_unknown_coach_is_404(client, client_user):
    client.force_login(client_user)
    assert client.get("/requests/new/?coach=999999&service=cv").status_code == 404
    assert client.get("/requests/new/?coach=abc").status_code == 404


def test_too_short_title_and_requirements_are_form_errors(client, client_user, coach_user):
    client.force_login(client_user)
    response = _post(client, _url(coach_user.coach_profile), title="CV", requirements="short")
    assert response.status_code == 400
    assert not ServiceRequest.objects.exists()


def test_requests_are_rate_limited(client, client_user, coach_user, settings):
    settings.REQUEST_RATE_LIMIT_PER_HOUR = 2
    client.force_login(client_user)
    for _ in range(2):
        assert _post(client, _url(coach_user.coach_profile)).status_code == 302
    response = _post(client, _url(coach_user.coach_profile))
    assert response.status_code == 429
    assert ServiceRequest.objects.filter(status=RequestStatus.PENDING).count() == 2
