"""orders on the API: accept, list, detail, moves, deliveries and downloads, for every kind of caller."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.tests.api import API, assert_problem, client_for
from files.tests.samples import pdf_bytes
from orders import services
from orders.models import Order, OrderStatus
from requests_app.tests.factories import ServiceRequestFactory

pytestmark = pytest.mark.django_db


def test_the_addressed_coach_accepts_and_an_order_waits_for_payment(client_user, coach_user, other_coach):
    target = ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile)
    url = f"{API}requests/{target.pk}/accept"
    assert_problem(client_for(other_coach).patch(url), 404)
    assert_problem(client_for(client_user).patch(url), 403)
    response = client_for(coach_user).patch(url)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "pending" and response.json()["coach_id"] == coach_user.pk
    assert_problem(client_for(coach_user).patch(url), 409)


def test_an_open_request_taken_by_another_coach_is_409(client_user, coach_user, other_coach):
    target = ServiceRequestFactory(client=client_user, coach=None)
    assert client_for(other_coach).patch(f"{API}requests/{target.pk}/accept").status_code == 200
    assert (
        "already been taken"
        in assert_problem(client_for(coach_user).patch(f"{API}requests/{target.pk}/accept"), 409)["detail"]
    )


def test_my_orders_are_the_ones_i_am_party_to(order, client_user, coach_user, other_client, other_coach, staff_user):
    for user in (client_user, coach_user, staff_user):
        assert [o["id"] for o in client_for(user).get(f"{API}orders/me").json()["results"]] == [order.pk]
    for user in (other_client, other_coach):
        assert client_for(user).get(f"{API}orders/me").json()["results"] == []
    assert_problem(client_for().get(f"{API}orders/me"), 401)
    assert "status" in assert_problem(client_for(client_user).get(f"{API}orders/me", {"status": "nope"}), 400)["fields"]


def test_orders_me_query_count_does_not_grow(client_user, coach_user, django_assert_max_num_queries):
    from orders.tests.factories import make_order

    for _ in range(8):
        make_order(client=client_user, coach=coach_user)
    api = client_for(client_user)
    with django_assert_max_num_queries(4):
        assert len(api.get(f"{API}orders/me").json()["results"]) == 8


def test_order_detail_shows_allowed_moves_and_strangers_get_404(
    order, client_user, other_client, other_coach, staff_user
):
    body = client_for(client_user).get(f"{API}orders/{order.pk}").json()
    assert body["allowed_transitions"] == ["cancel"] and body["events"][0]["to_status"] == "pending"
    assert client_for(staff_user).get(f"{API}orders/{order.pk}").status_code == 200
    assert_problem(client_for(other_client).get(f"{API}orders/{order.pk}"), 404)
    assert_problem(client_for(other_coach).get(f"{API}orders/{order.pk}"), 404)
    assert_problem(client_for().get(f"{API}orders/{order.pk}"), 401)


def test_moves_follow_the_transition_table(paid_order, client_user, coach_user, other_client):
    url = f"{API}orders/{paid_order.pk}/status"
    assert_problem(
        client_for(other_client).patch(url, {"transition": "open_dispute", "note": "x" * 20}, format="json"), 404
    )
    assert_problem(client_for(client_user).patch(url, {"transition": "cancel"}, format="json"), 409)
    assert_problem(client_for(client_user).patch(url, {"transition": "accept_delivery"}, format="json"), 409)
    assert (
        "note"
        in assert_problem(
            client_for(coach_user).patch(url, {"transition": "open_dispute", "note": "short"}, format="json"), 400
        )["fields"]
    )
    assert (
        "transition"
        in assert_problem(client_for(coach_user).patch(url, {"transition": "mark_paid"}, format="json"), 400)["fields"]
    )
    response = client_for(coach_user).patch(
        url, {"transition": "open_dispute", "note": "The client stopped answering."}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "disputed"


def test_client_cancels_an_unpaid_order(order, client_user, coach_user):
    response = client_for(client_user).patch(f"{API}orders/{order.pk}/status", {"transition": "cancel"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


def test_a_staff_move_audits_the_client_ip_behind_the_proxy(order, staff_user, settings):
    """The API passes core.http.client_ip to the service, as the order page does: the proxy's hop, not its own."""
    from audit.models import AuditLog

    settings.TRUSTED_PROXY_COUNT = 1
    response = client_for(staff_user).patch(
        f"{API}orders/{order.pk}/status",
        {"transition": "cancel", "note": "Duplicate order."},
        format="json",
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert response.status_code == 200, response.content
    row = AuditLog.objects.get(action="order.cancel", target_id=str(order.pk))
    assert row.actor_id == staff_user.pk and row.ip_address == "198.51.100.7"
    assert row.details["note"] == "Duplicate order."


def _pdf(name="cv.pdf"):
    return SimpleUploadedFile(name, pdf_bytes(), content_type="application/pdf")


def test_the_coach_delivers_files_and_the_client_downloads_them(
    paid_order, client_user, coach_user, other_client, local_media, django_capture_on_commit_callbacks
):
    url = f"{API}orders/{paid_order.pk}/delivery-files"
    assert_problem(client_for(client_user).post(url, {"files": [_pdf()]}, format="multipart"), 403)
    assert_problem(client_for(other_client).post(url, {"files": [_pdf()]}, format="multipart"), 404)
    assert_problem(client_for(coach_user).get(f"{API}orders/{paid_order.pk}/download"), 409)
    with django_capture_on_commit_callbacks(execute=True):  # the (no-op) virus scan runs after commit
        response = client_for(coach_user).post(url, {"files": [_pdf()], "note": "Here it is"}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "delivered" and len(response.json()["deliveries"]) == 1

    links = client_for(client_user).get(f"{API}orders/{paid_order.pk}/download")
    assert links.status_code == 200 and links.json()[0]["name"] == "cv.pdf"
    assert links["Cache-Control"] == "private, no-store"
    from django.test import Client

    assert Client().get(links.json()[0]["url"]).status_code == 200
    assert_problem(client_for(other_client).get(f"{API}orders/{paid_order.pk}/download"), 404)

    done = client_for(client_user).patch(
        f"{API}orders/{paid_order.pk}/status", {"transition": "accept_delivery"}, format="json"
    )
    assert done.json()["status"] == "completed"
    assert Order.objects.get(pk=paid_order.pk).status == OrderStatus.COMPLETED


def test_a_delivery_needs_a_file_and_the_right_type(paid_order, coach_user, local_media):
    url = f"{API}orders/{paid_order.pk}/delivery-files"
    assert (
        "files" in assert_problem(client_for(coach_user).post(url, {"note": "none"}, format="multipart"), 400)["fields"]
    )
    fake = SimpleUploadedFile("cv.pdf", b"MZ not a pdf at all", content_type="application/pdf")
    assert_problem(client_for(coach_user).post(url, {"files": [fake]}, format="multipart"), 415)
    assert_problem(client_for(coach_user).post(url, {"note": "x"}, format="json"), 415)
    assert services.allowed_transitions(Order.objects.get(pk=paid_order.pk), coach_user) == ["deliver", "open_dispute"]
