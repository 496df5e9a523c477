"""Who may download what, and the signed links that carry the bytes (local storage)."""

from types import SimpleNamespace
from urllib.parse import urlparse

import pytest
from django.core import signing
from django.core.files.storage import default_storage
from django.urls import reverse

from files import services
from files.models import FileAsset, ScanStatus

from .samples import docx_bytes, pdf_bytes, upload

pytestmark = pytest.mark.django_db

ALLOWED, HIDDEN, LOGIN = 302, 404, "login"


def clean_upload(owner, data=None, name="cv.pdf", category="cv_upload"):
    asset = services.store_upload(upload(data or pdf_bytes(), name), actor=owner, category=category)
    FileAsset.objects.filter(pk=asset.pk).update(scan_status=ScanStatus.CLEAN)
    asset.refresh_from_db()
    return asset


@pytest.fixture
def shared_files(paid_order, client_user, coach_user):
    from messaging.models import Message, MessageThread
    from orders import services as orders

    cv = clean_upload(client_user)
    paid_order.request.attachments.add(cv)
    delivery = clean_upload(coach_user, docx_bytes(), "improved.docx", "delivery")
    orders.deliver(paid_order.pk, actor=coach_user, note="First draft", files=[delivery])
    thread, _ = MessageThread.objects.get_or_create(order=paid_order)
    attachment = clean_upload(coach_user, category="message_attachment")
    Message.objects.create(thread=thread, sender=coach_user, body="See attached").attachments.add(attachment)
    private = clean_upload(client_user, name="private.pdf")
    return {"cv": cv, "delivery": delivery, "message": attachment, "private": private}


# Who asks → expected answer for each file (owner of cv/private: client; of delivery/message: coach).
MATRIX = {
    "owner": {"cv": ALLOWED, "delivery": ALLOWED, "message": ALLOWED, "private": ALLOWED},
    "order_client": {"cv": ALLOWED, "delivery": ALLOWED, "message": ALLOWED, "private": ALLOWED},
    "order_coach": {"cv": ALLOWED, "delivery": ALLOWED, "message": ALLOWED, "private": HIDDEN},
    "other_client": {"cv": HIDDEN, "delivery": HIDDEN, "message": HIDDEN, "private": HIDDEN},
    "other_coach": {"cv": HIDDEN, "delivery": HIDDEN, "message": HIDDEN, "private": HIDDEN},
    "anonymous": {"cv": LOGIN, "delivery": LOGIN, "message": LOGIN, "private": LOGIN},
    "staff": {"cv": ALLOWED, "delivery": ALLOWED, "message": ALLOWED, "private": ALLOWED},
}
OWNERS = {"cv": "client_user", "private": "client_user", "delivery": "coach_user", "message": "coach_user"}


@pytest.mark.parametrize("who", list(MATRIX))
@pytest.mark.parametrize("which", ["cv", "delivery", "message", "private"])
def test_download_access_matrix(request, client, shared_files, who, which):
    users = {
        "order_client": "client_user",
        "order_coach": "coach_user",
        "other_client": "other_client",
        "other_coach": "other_coach",
        "staff": "staff_user",
        "owner": OWNERS[which],
    }
    if who in users:
        client.force_login(request.getfixturevalue(users[who]))
    response = client.get(reverse("files:download", args=[shared_files[which].pk]))
    expected = MATRIX[who][which]
    if expected == LOGIN:
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
        return
    assert response.status_code == expected
    if expected == ALLOWED:
        served = client.get(response["Location"])
        assert served.status_code == 200
        assert b"".join(served.streaming_content) == default_storage.open(shared_files[which].key).read()


def test_addressed_coach_sees_a_pending_requests_cv_but_other_coaches_do_not(
    client, client_user, coach_user, other_coach
):
    from requests_app.tests.factories import ServiceRequestFactory

    pending = ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile)
    cv = clean_upload(client_user)
    pending.attachments.add(cv)
    client.force_login(coach_user)
    assert client.get(reverse("files:download", args=[cv.pk])).status_code == 302
    client.force_login(other_coach)
    assert client.get(reverse("files:download", args=[cv.pk])).status_code == 404


def test_deleted_file_is_gone_even_for_its_owner(client, client_user):
    asset = clean_upload(client_user)
    services.delete_upload(asset, actor=client_user)
    client.force_login(client_user)
    assert client.get(reverse("files:download", args=[asset.pk])).status_code == 404


def test_pending_scan_is_not_downloadable(client, client_user):
    asset = services.store_upload(upload(pdf_bytes()), actor=client_user, category="cv_upload")
    client.force_login(client_user)
    response = client.get(reverse("files:download", args=[asset.pk]))
    assert response.status_code == 409
    assert "being checked for viruses" in response.content.decode()


# --- The signed link and the streaming view ---------------------------------------------------


def signed_link(client, user, asset, preview=False):
    client.force_login(user)
    response = client.get(reverse("files:download", args=[asset.pk]) + ("?preview=1" if preview else ""))
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    return response["Location"]


def test_served_file_has_safe_headers(client, client_user):
    data = pdf_bytes()
    asset = clean_upload(client_user, data, name="Lebenslauf Müller.pdf")
    link = signed_link(client, client_user, asset)
    client.logout()  # the link itself is the credential, like an S3 presigned URL
    response = client.get(link)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(len(data))
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=utf-8''Lebenslauf%20M%C3%BCller.pdf" in disposition


def test_pdf_preview_is_inline_but_docx_never_is(client, client_user):
    pdf = clean_upload(client_user)
    docx = clean_upload(client_user, docx_bytes(), "cv.docx")
    assert client.get(signed_link(client, client_user, pdf, preview=True))["Content-Disposition"].startswith("inline")
    response = client.get(signed_link(client, client_user, docx, preview=True))
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.mark.parametrize(
    ("header", "status", "span"),
    [
        ("bytes=0-9", 206, (0, 9)),
        ("bytes=10-", 206, (10, None)),
        ("bytes=-5", 206, (-5, None)),
        ("bytes=0-99999999", 206, (0, None)),
        ("bytes=99999999-", 416, None),
        ("bytes=0-1,5-6", 200, None),
        ("items=0-1", 200, None),
    ],
)
def test_range_requests(client, client_user, header, status, span):
    data = pdf_bytes()
    asset = clean_upload(client_user, data)
    link = signed_link(client, client_user, asset)
    response = client.get(link, headers={"Range": header})
    assert response.status_code == status
    size = len(data)
    if status == 206:
        start, end = span
        start = size + start if start < 0 else start
        end = size - 1 if end is None else end
        assert b"".join(response.streaming_content) == data[start : end + 1]
        assert response["Content-Range"] == f"bytes {start}-{end}/{size}"
        assert response["Content-Length"] == str(end - start + 1)
    elif status == 416:
        assert response["Content-Range"] == f"bytes */{size}"
    else:
        assert b"".join(response.streaming_content) == data


def test_expired_link_is_403(client, client_user, monkeypatch, settings):
    asset = clean_upload(client_user)
    link = signed_link(client, client_user, asset)
    import time

    later = time.time() + settings.FILE_URL_TTL_SECONDS + 5
    monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: later))
    response = client.get(link)
    assert response.status_code == 403
    assert b"expired" in response.content


@pytest.mark.parametrize("how", ["flip", "truncate", "other-salt"])
def test_tampered_link_is_403(client, client_user, how):
    asset = clean_upload(client_user)
    link = signed_link(client, client_user, asset)
    token = urlparse(link).path.rstrip("/").rsplit("/", 1)[-1]
    if how == "flip":
        forged = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    elif how == "truncate":
        forged = token[:-6]
    else:
        forged = signing.dumps({"id": asset.pk, "k": asset.key, "i": 0}, salt="something-else", compress=True)
    response = client.get(reverse("files:serve", args=[forged]))
    assert response.status_code == 403


def test_link_stops_working_once_the_file_is_deleted(client, client_user):
    asset = clean_upload(client_user)
    link = signed_link(client, client_user, asset)
    services.delete_upload(asset, actor=client_user)
    assert client.get(link).status_code == 404


def test_open_request_cv_is_visible_to_matching_coaches_only(client, client_user, coach_user):
    from coaches.tests.factories import CoachProfileFactory
    from requests_app.tests.factories import ServiceRequestFactory

    open_request = ServiceRequestFactory(client=client_user, coach=None)
    cv = clean_upload(client_user)
    open_request.attachments.add(cv)
    client.force_login(coach_user)  # offers CV writing: sees the open request, and so its CV
    assert client.get(reverse("files:download", args=[cv.pk])).status_code == 302
    linkedin_only = CoachProfileFactory(services=["linkedin"]).user
    client.force_login(linkedin_only)
    assert client.get(reverse("files:download", args=[cv.pk])).status_code == 404
