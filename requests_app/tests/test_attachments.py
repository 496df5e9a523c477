"""Files on a request and on a delivery: widget ids (attachment_ids) and plain `files` uploads."""

import datetime

import pytest
from django.utils import timezone

from files.models import FileAsset
from files.services import store_upload
from files.tests.samples import pdf_bytes, upload
from orders import services as order_services
from requests_app.models import ServiceRequest

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(local_media):
    return local_media


def _data(**extra):
    return {
        "service_type": "cv",
        "title": "CV for nursing roles",
        "requirements": "Twelve years on wards, moving into clinical education.",
        "deadline": (timezone.localdate() + datetime.timedelta(days=10)).isoformat(),
        **extra,
    }


def test_request_with_a_plain_upload_and_a_widget_upload(client, client_user, coach_user):
    earlier = store_upload(upload(pdf_bytes(), "old-cv.pdf"), actor=client_user, category="cv_upload")
    client.force_login(client_user)
    url = f"/requests/new/?coach={coach_user.coach_profile.pk}&service=cv"
    response = client.post(url, _data(attachment_ids=[earlier.pk], files=[upload(pdf_bytes(), "cv.pdf")]))
    assert response.status_code == 302
    names = sorted(ServiceRequest.objects.get().attachments.values_list("original_name", flat=True))
    assert names == ["cv.pdf", "old-cv.pdf"]


def test_someone_elses_upload_cannot_be_attached(client, client_user, other_client, coach_user):
    theirs = store_upload(upload(pdf_bytes(), "theirs.pdf"), actor=other_client, category="cv_upload")
    client.force_login(client_user)
    url = f"/requests/new/?coach={coach_user.coach_profile.pk}&service=cv"
    response = client.post(url, _data(attachment_ids=[theirs.pk]))
    assert response.status_code == 400
    assert "not available" in response.content.decode()
    assert not ServiceRequest.objects.exists()


def test_wrong_file_type_is_415_and_nothing_is_created(client, client_user, coach_user):
    client.force_login(client_user)
    url = f"/requests/new/?coach={coach_user.coach_profile.pk}&service=cv"
    response = client.post(url, _data(files=[upload(b"MZ\x90\x00 not a document", "cv.exe")]))
    assert response.status_code == 415
    assert not ServiceRequest.objects.exists()
    assert not FileAsset.objects.exists()


def test_request_sent_after_a_refused_upload_says_it_has_no_attachment(client, client_user, coach_user):
    """The widget reports the file it could not upload; the flash must not pretend the CV went along."""
    client.force_login(client_user)
    url = f"/requests/new/?coach={coach_user.coach_profile.pk}&service=cv"
    response = client.post(url, _data(refused_files=["tool.pdf"]), follow=True)
    assert ServiceRequest.objects.get().attachments.count() == 0
    text = response.content.decode()
    assert "was sent to" in text and "without an attachment (“tool.pdf” was refused)" in text


def test_refused_upload_beside_a_good_one_is_named(client, client_user, coach_user):
    good = store_upload(upload(pdf_bytes(), "cv.pdf"), actor=client_user, category="cv_upload")
    client.force_login(client_user)
    response = client.post("/requests/new/", _data(attachment_ids=[good.pk], refused_files=["tool.pdf"]), follow=True)
    text = response.content.decode()
    assert "published (“tool.pdf” was not attached: it was refused): matching coaches" in text
    assert "without an attachment" not in text


def test_request_without_a_chosen_file_keeps_the_plain_message(client, client_user, coach_user):
    client.force_login(client_user)
    url = f"/requests/new/?coach={coach_user.coach_profile.pk}&service=cv"
    text = client.post(url, _data(), follow=True).content.decode()
    assert f"Your request was sent to {coach_user.display_name}." in text
    assert "without an attachment" not in text and "refused" not in text


def test_delivery_with_files_is_listed_on_the_order(client, paid_order):
    client.force_login(paid_order.coach)
    response = client.post(
        f"/orders/{paid_order.pk}/deliver/", {"note": "Final CV", "files": [upload(pdf_bytes(), "final-cv.pdf")]}
    )
    assert response.status_code == 302
    delivery = paid_order.deliveries.get()
    assert [f.original_name for f in delivery.files.all()] == ["final-cv.pdf"]
    client.force_login(paid_order.client)
    assert "final-cv.pdf" in client.get(f"/orders/{paid_order.pk}/").content.decode()


def test_client_cannot_deliver_even_with_files(client, paid_order):
    client.force_login(paid_order.client)
    response = client.post(f"/orders/{paid_order.pk}/deliver/", {"files": [upload(pdf_bytes(), "x.pdf")]})
    assert response.status_code == 403
    assert not FileAsset.objects.exists()


def test_delivery_attachment_of_the_wrong_category_is_refused(client, paid_order):
    cv = store_upload(upload(pdf_bytes(), "cv.pdf"), actor=paid_order.coach, category="cv_upload")
    client.force_login(paid_order.coach)
    response = client.post(f"/orders/{paid_order.pk}/deliver/", {"attachment_ids": [cv.pk]})
    assert response.status_code == 400
    paid_order.refresh_from_db()
    assert paid_order.status == "in_progress"
    assert order_services.allowed_transitions(paid_order, paid_order.coach) == ["deliver", "open_dispute"]
