"""Client and coach lists; withdraw, reject, accept through the pages; access and query counts."""

import pytest
from django.utils import timezone

from coaches.models import CoachService
from coaches.tests.factories import CoachProfileFactory
from notifications.models import Notification
from orders.models import Order
from requests_app.models import RequestDecline, RequestStatus, ServiceRequest
from requests_app.tests.factories import ServiceRequestFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def addressed(client_user, coach_user):
    return ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile, title="Addressed CV")


@pytest.fixture
def open_request(client_user):
    return ServiceRequestFactory(client=client_user, coach=None, title="Open CV request")


# --- client list and withdraw ---------------------------------------------------------------


def test_client_lists_their_requests_with_status(client, client_user, addressed, other_client):
    ServiceRequestFactory(client=other_client, title="Someone else's")
    client.force_login(client_user)
    html = client.get("/requests/").content.decode()
    assert "Addressed CV" in html and "Pending" in html
    assert "Someone else" not in html


def test_client_list_query_count_does_not_grow(client, client_user, coach_user, django_assert_max_num_queries):
    client.force_login(client_user)
    ServiceRequestFactory.create_batch(2, client=client_user, coach=coach_user.coach_profile)
    with django_assert_max_num_queries(12) as few:
        assert client.get("/requests/").status_code == 200
    ServiceRequestFactory.create_batch(15, client=client_user, coach=coach_user.coach_profile)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/requests/").status_code == 200


def test_client_list_ignores_unknown_status_filter(client, client_user, addressed):
    client.force_login(client_user)
    response = client.get("/requests/?status=bogus")
    assert response.status_code == 200
    assert "Unknown status filter ignored" in response.content.decode()


def test_client_withdraws_a_pending_request(csrf_client, client_user, addressed, coach_user):
    csrf_client.force_login(client_user)
    csrf_client.get("/requests/")
    token = csrf_client.cookies["csrftoken"].value
    response = csrf_client.post(f"/requests/{addressed.pk}/withdraw/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    addressed.refresh_from_db()
    assert addressed.status == RequestStatus.WITHDRAWN
    assert Notification.objects.filter(user=coach_user, kind="request_withdrawn").exists()


def test_withdrawing_an_accepted_request_is_409(client, client_user, coach_user, addressed):
    from orders.services import accept_request

    accept_request(addressed.pk, actor=coach_user)
    client.force_login(client_user)
    response = client.post(f"/requests/{addressed.pk}/withdraw/")
    assert response.status_code == 409
    addressed.refresh_from_db()
    assert addressed.status == RequestStatus.ACCEPTED


def test_someone_elses_request_is_404(client, other_client, addressed):
    client.force_login(other_client)
    assert client.get(f"/requests/{addressed.pk}/").status_code == 404
    assert client.post(f"/requests/{addressed.pk}/withdraw/").status_code == 404
    addressed.refresh_from_db()
    assert addressed.status == RequestStatus.PENDING


# --- coach list ------------------------------------------------------------------------------


def test_coach_sees_addressed_and_matching_open_requests(client, coach_user, other_coach, addressed, open_request):
    ServiceRequestFactory(coach=other_coach.coach_profile, title="For the other coach")
    ServiceRequestFactory(coach=None, service_type="linkedin", title="LinkedIn open")
    ServiceRequestFactory(coach=coach_user.coach_profile, status=RequestStatus.WITHDRAWN, title="Withdrawn one")
    client.force_login(coach_user)
    html = client.get("/requests/available/").content.decode()
    assert "Addressed CV" in html and "Open CV request" in html
    assert "For the other coach" not in html
    assert "LinkedIn open" not in html
    assert "Withdrawn one" not in html


def test_unavailable_coach_does_not_see_open_requests(client, coach_user, addressed, open_request):
    profile = coach_user.coach_profile
    profile.is_available = False
    profile.save()
    client.force_login(coach_user)
    html = client.get("/requests/available/").content.decode()
    assert "Addressed CV" in html
    assert "Open CV request" not in html


def test_coach_list_query_count_does_not_grow(client, coach_user, django_assert_max_num_queries):
    client.force_login(coach_user)
    ServiceRequestFactory.create_batch(2, coach=coach_user.coach_profile)
    ServiceRequestFactory.create_batch(2, coach=None)
    with django_assert_max_num_queries(12) as few:
        assert client.get("/requests/available/").status_code == 200
    ServiceRequestFactory.create_batch(10, coach=coach_user.coach_profile)
    ServiceRequestFactory.create_batch(10, coach=None)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/requests/available/").status_code == 200


def test_client_cannot_open_the_coach_list(client, client_user):
    client.force_login(client_user)
    assert client.get("/requests/available/").status_code == 403


# --- reject ---------------------------------------------------------------------------------


def test_coach_rejects_with_a_reason(
    csrf_client, coach_user, client_user, addressed, django_capture_on_commit_callbacks
):
    csrf_client.force_login(coach_user)
    csrf_client.get(f"/requests/{addressed.pk}/")
    token = csrf_client.cookies["csrftoken"].value
    with django_capture_on_commit_callbacks(execute=True):
        response = csrf_client.post(
            f"/requests/{addressed.pk}/reject/", {"csrfmiddlewaretoken": token, "reason": "Fully booked this month"}
        )
    assert response.status_code == 302
    addressed.refresh_from_db()
    assert addressed.status == RequestStatus.REJECTED
    assert addressed.rejection_reason == "Fully booked this month"
    assert addressed.decided_at is not None
    note = Notification.objects.get(user=client_user, kind="request_rejected")
    assert "Fully booked" in note.text
    coach_user.coach_profile.refresh_from_db()
    assert coach_user.coach_profile.response_time_hours is not None


def test_rejecting_an_open_request_only_hides_it_for_that_coach(client, coach_user, other_coach, open_request):
    client.force_login(coach_user)
    assert client.post(f"/requests/{open_request.pk}/reject/", {"reason": ""}).status_code == 302
    open_request.refresh_from_db()
    assert open_request.status == RequestStatus.PENDING
    assert RequestDecline.objects.filter(request=open_request, coach=coach_user.coach_profile).exists()
    marker = f'data-request-id="{open_request.pk}"'
    assert marker not in client.get("/requests/available/").content.decode()
    client.force_login(other_coach)
    assert marker in client.get("/requests/available/").content.decode()
    assert not Notification.objects.filter(kind="request_rejected").exists()


def test_declining_twice_is_409(client, coach_user, open_request):
    client.force_login(coach_user)
    client.post(f"/requests/{open_request.pk}/reject/")
    assert client.post(f"/requests/{open_request.pk}/reject/").status_code == 409


def test_rejecting_a_request_for_another_coach_is_404(client, other_coach, addressed):
    client.force_login(other_coach)
    assert client.post(f"/requests/{addressed.pk}/reject/").status_code == 404
    addressed.refresh_from_db()
    assert addressed.status == RequestStatus.PENDING


def test_rejecting_an_expired_request_is_409(client, coach_user, addressed):
    ServiceRequest.objects.filter(pk=addressed.pk).update(status=RequestStatus.EXPIRED)
    client.force_login(coach_user)
    response = client.post(f"/requests/{addressed.pk}/reject/")
    assert response.status_code == 409
    assert "expired" in response.content.decode()


# --- accept (the view lives in orders) ----------------------------------------------------


def test_coach_accepts_from_the_request_page(
    csrf_client, coach_user, client_user, addressed, django_capture_on_commit_callbacks
):
    csrf_client.force_login(coach_user)
    page = csrf_client.get(f"/requests/{addressed.pk}/")
    assert "Accept" in page.content.decode()
    token = csrf_client.cookies["csrftoken"].value
    with django_capture_on_commit_callbacks(execute=True):
        response = csrf_client.post(f"/orders/accept-request/{addressed.pk}/", {"csrfmiddlewaretoken": token})
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/orders/{order.pk}/"
    assert Notification.objects.filter(user=client_user, kind="request_accepted").exists()
    coach_user.coach_profile.refresh_from_db()
    assert coach_user.coach_profile.response_time_hours is not None


def test_accepting_a_request_no_longer_pending_is_409(client, coach_user, addressed):
    ServiceRequest.objects.filter(pk=addressed.pk).update(status=RequestStatus.WITHDRAWN)
    client.force_login(coach_user)
    response = client.post(f"/orders/accept-request/{addressed.pk}/")
    assert response.status_code == 409
    assert "withdrawn" in response.content.decode()
    assert not Order.objects.exists()


def test_open_request_already_taken_is_409(client, coach_user, other_coach, open_request):
    client.force_login(coach_user)
    assert client.post(f"/orders/accept-request/{open_request.pk}/").status_code == 302
    client.force_login(other_coach)
    response = client.post(f"/orders/accept-request/{open_request.pk}/")
    assert response.status_code == 409
    assert "already been taken" in response.content.decode()
    assert 'href="/requests/available/"' in response.content.decode()
    response = client.post(f"/orders/accept-request/{open_request.pk}/", HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    assert response.json() == {"error": "Sorry, this request has already been taken."}
    assert Order.objects.count() == 1


def test_accepting_someone_elses_request_is_404(client, other_coach, addressed):
    client.force_login(other_coach)
    assert client.post(f"/orders/accept-request/{addressed.pk}/").status_code == 404
    assert not Order.objects.exists()


def test_coach_not_offering_the_service_cannot_see_the_open_request(client, client_user):
    linkedin_coach = CoachProfileFactory(services=["linkedin"]).user
    open_cv = ServiceRequestFactory(client=client_user, coach=None)
    client.force_login(linkedin_coach)
    assert client.get(f"/requests/{open_cv.pk}/").status_code == 404
    assert client.post(f"/orders/accept-request/{open_cv.pk}/").status_code == 404


def test_open_request_price_is_the_accepting_coachs(client, client_user, coach_user, open_request):
    CoachService.objects.filter(coach=coach_user.coach_profile).update(price_minor=8800, currency="EUR")
    client.force_login(coach_user)
    client.post(f"/orders/accept-request/{open_request.pk}/")
    order = Order.objects.get()
    assert (order.amount_minor, order.currency) == (8800, "EUR")
    assert order.request.decided_at <= timezone.now()


def test_the_clients_request_tabs_carry_counts(client, client_user, coach_user):
    from requests_app import services as request_services

    profile = coach_user.coach_profile
    for title in ("CV for finance", "CV for tech"):
        ServiceRequestFactory(client=client_user, coach=profile, title=title)
    withdrawn = ServiceRequestFactory(client=client_user, coach=profile, title="Old one")
    request_services.withdraw_request(withdrawn.pk, actor=client_user)
    client.force_login(client_user)

    body = client.get("/requests/").content.decode()

    assert 'href="?" aria-current="page">All <span class="badge text-bg-light border">3</span>' in body
    assert 'href="?status=pending">Pending <span class="badge text-bg-light border">2</span>' in body
    assert 'href="?status=withdrawn">Withdrawn <span class="badge text-bg-light border">1</span>' in body
