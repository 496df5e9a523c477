"""Uploads are judged by content: PDF and DOCX only, size limits, safe names, nothing stored on refusal."""

import hashlib
import io
import os

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

from core.exceptions import DomainError
from files import services
from files.models import FileAsset, FileCategory, ScanStatus
from files.validation import FileTooLarge, UnsupportedFileType

from .samples import (
    docm_bytes,
    docx_bytes,
    encrypted_pdf_bytes,
    image_bytes,
    pdf_bytes,
    plain_zip_bytes,
    upload,
)

pytestmark = pytest.mark.django_db


def stored_files(media_root):
    return [p for p in media_root.rglob("*") if p.is_file()] if media_root.exists() else []


def test_pdf_is_stored_under_a_generated_key_with_its_sha256(
    client_user, media_root, django_capture_on_commit_callbacks
):
    data = pdf_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        asset = services.store_upload(upload(data, "My CV.pdf", "text/html"), actor=client_user, category="cv_upload")
    asset.refresh_from_db()
    assert asset.content_type == "application/pdf"  # from the bytes, not the browser's claim
    assert asset.sha256 == hashlib.sha256(data).hexdigest()
    assert asset.size == len(data)
    assert asset.original_name == "My CV.pdf"
    assert asset.key.startswith("uploads/") and asset.key.endswith(".pdf") and "My CV" not in asset.key
    assert asset.storage == "local"
    assert default_storage.open(asset.key).read() == data
    # No CLAMD_URL in this test: the DEBUG-only no-op scanner ran after commit.
    assert asset.scan_status == ScanStatus.CLEAN


def test_docx_is_accepted(client_user):
    asset = services.store_upload(upload(docx_bytes(), "cv.docx"), actor=client_user, category="cv_upload")
    assert asset.content_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert asset.original_name == "cv.docx"


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200, "invoice.pdf", "accepted"),
        (b"<!doctype html><html><script>alert(1)</script></html>", "cv.pdf", "accepted"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "cv.docx", "accepted"),
        (plain_zip_bytes(), "cv.docx", "not a Word document"),
        (docm_bytes(), "cv.docx", "macros"),
        (docx_bytes(extra={"word/vbaProject.bin": b"x"}), "cv.docx", "macros"),
        (docx_bytes(word_part=False), "cv.docx", "not a Word document"),
        (
            docx_bytes(main_type="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"),
            "cv.docx",
            "not a Word document",
        ),
        (encrypted_pdf_bytes(), "cv.pdf", "encrypted"),
        (b"%PDF-1.4\nthis is not really a pdf", "cv.pdf", "could not be read"),
    ],
    ids=[
        "exe-renamed",
        "html",
        "svg",
        "plain-zip",
        "docm",
        "vba-in-docx",
        "no-word-part",
        "pptx",
        "encrypted-pdf",
        "broken-pdf",
    ],
)
def test_wrong_types_are_refused_with_415_and_nothing_is_stored(client_user, media_root, data, name, reason):
    with pytest.raises(UnsupportedFileType) as caught:
        services.store_upload(upload(data, name, "application/pdf"), actor=client_user, category="cv_upload")
    assert caught.value.status == 415
    assert reason in caught.value.message
    assert "PDF (.pdf) or Word (.docx)" in caught.value.message
    assert FileAsset.objects.count() == 0
    assert stored_files(media_root) == []


def test_over_the_size_limit_is_413_and_nothing_is_stored(client_user, settings, media_root):
    settings.FILE_UPLOAD_MAX_BYTES = 1000
    with pytest.raises(FileTooLarge) as caught:
        services.store_upload(upload(pdf_bytes(padding=2000)), actor=client_user, category="cv_upload")
    assert caught.value.status == 413
    assert FileAsset.objects.count() == 0
    assert stored_files(media_root) == []


def test_size_is_measured_not_taken_from_the_declared_size(client_user, settings):
    settings.FILE_UPLOAD_MAX_BYTES = 1000
    lying = upload(pdf_bytes(padding=2000))
    lying.size = 10
    with pytest.raises(FileTooLarge):
        services.store_upload(lying, actor=client_user, category="cv_upload")


def test_empty_file_is_400(client_user):
    with pytest.raises(DomainError) as caught:
        services.store_upload(upload(b"", "cv.pdf"), actor=client_user, category="cv_upload")
    assert caught.value.status == 400
    assert FileAsset.objects.count() == 0


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd", "passwd.pdf"),
        ("C:\\Users\\me\\cv.pdf", "cv.pdf"),
        ("cv\x00.exe.pdf", "cv.exe.pdf"),
        ("report\u202efdp.exe", "reportfdp.exe.pdf"),
        ("a" * 500 + ".pdf", "a" * 116 + ".pdf"),
        ("\x01\x02", "document.pdf"),
        ("cv.docx", "cv.docx.pdf"),
    ],
)
def test_names_are_sanitised_for_display_and_never_used_as_keys(client_user, raw, shown):
    asset = services.store_upload(upload(pdf_bytes(), "x.pdf"), actor=client_user, category="cv_upload")
    # SimpleUploadedFile cleans names itself; set the raw name like a hostile multipart body would.
    hostile = upload(pdf_bytes())
    hostile.name = raw
    asset = services.store_upload(hostile, actor=client_user, category="cv_upload")
    assert asset.original_name == shown
    assert len(asset.original_name) <= 120
    assert asset.key.count("/") == 3 and ".." not in asset.key and "passwd" not in asset.key


def test_avatar_is_reencoded_without_metadata(client_user):
    data = image_bytes("JPEG", with_exif=True)
    assert b"SecretCam" in data
    asset = services.store_upload(upload(data, "me.jpg", "image/jpeg"), actor=client_user, category="avatar")
    stored = default_storage.open(asset.key).read()
    assert asset.content_type == "image/jpeg" and asset.key.endswith(".jpg")
    assert b"SecretCam" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (40, 30)
        assert not image.getexif()
    assert asset.sha256 == hashlib.sha256(stored).hexdigest()


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_avatar_png_and_webp(client_user, fmt):
    asset = services.store_upload(upload(image_bytes(fmt), "me.img"), actor=client_user, category="avatar")
    assert asset.content_type == f"image/{fmt.lower()}"


def test_avatar_refuses_documents_and_gifs(client_user):
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    for data in (pdf_bytes(), gif.getvalue()):
        with pytest.raises(UnsupportedFileType):
            services.store_upload(upload(data, "me.png"), actor=client_user, category="avatar")


def test_only_coaches_upload_deliveries(client_user, coach_user):
    with pytest.raises(DomainError) as caught:
        services.store_upload(upload(docx_bytes(), "cv.docx"), actor=client_user, category=FileCategory.DELIVERY)
    assert caught.value.status == 403
    assert services.store_upload(upload(docx_bytes(), "cv.docx"), actor=coach_user, category="delivery").pk


# --- The upload endpoint ---------------------------------------------------------------------


def test_upload_endpoint_answers_json_and_the_scan_runs_after_commit(
    client_user, csrf_client, django_capture_on_commit_callbacks
):
    csrf_client.force_login(client_user)
    csrf_client.get(reverse("files:list"))
    token = csrf_client.cookies["csrftoken"].value
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = csrf_client.post(
            reverse("files:upload"),
            {"file": upload(pdf_bytes(), "Jane CV.pdf"), "category": "cv_upload"},
            headers={"Accept": "application/json", "X-CSRFToken": token},
        )
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Jane CV.pdf"
    assert body["size"] == len(pdf_bytes())
    assert body["scan_status"] == "pending"
    assert body["download_url"] is None
    assert callbacks  # the scan was scheduled for after the commit, and ran from there (clean below)
    asset = FileAsset.objects.get(pk=body["id"])
    assert asset.owner == client_user
    assert asset.scan_status == ScanStatus.CLEAN
    status = csrf_client.get(reverse("files:status"), {"ids": asset.pk}).json()["files"][0]
    assert status["download_url"] == reverse("files:download", args=[asset.pk])
    assert status["preview_url"].endswith("?preview=1")


def test_upload_endpoint_refuses_without_csrf(client_user, csrf_client):
    csrf_client.force_login(client_user)
    response = csrf_client.post(reverse("files:upload"), {"file": upload(pdf_bytes()), "category": "cv_upload"})
    assert response.status_code == 403
    assert FileAsset.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"MZ" + b"\x00" * 100, 415, "PDF (.pdf) or Word (.docx)"),
        (b"", 400, "empty"),
    ],
)
def test_upload_endpoint_errors_as_json(client, client_user, data, status, message):
    client.force_login(client_user)
    response = client.post(
        reverse("files:upload"),
        {"file": upload(data, "x.pdf"), "category": "cv_upload"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == status
    assert message in response.json()["error"]


def test_upload_endpoint_413_over_the_limit(client, client_user, settings):
    settings.FILE_UPLOAD_MAX_BYTES = 500
    client.force_login(client_user)
    response = client.post(
        reverse("files:upload"),
        {"file": upload(pdf_bytes(padding=1000)), "category": "cv_upload"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 413
    assert "limit" in response.json()["error"]
    assert FileAsset.objects.count() == 0


def test_upload_endpoint_without_javascript_redirects_with_a_message(client, client_user):
    client.force_login(client_user)
    response = client.post(
        reverse("files:upload"),
        {"files": [upload(pdf_bytes(), "a.pdf"), upload(docx_bytes(), "b.docx")], "category": "cv_upload"},
        follow=True,
    )
    assert response.status_code == 200
    assert FileAsset.objects.filter(owner=client_user).count() == 2
    assert "Uploaded a.pdf, b.docx" in response.content.decode()


def test_upload_endpoint_needs_login(client):
    response = client.post(
        reverse("files:upload"), {"file": upload(pdf_bytes())}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 401
    assert FileAsset.objects.count() == 0


def test_status_endpoint_shows_only_visible_files(client, client_user, other_client):
    mine = services.store_upload(upload(pdf_bytes()), actor=client_user, category="cv_upload")
    theirs = services.store_upload(upload(pdf_bytes()), actor=other_client, category="cv_upload")
    client.force_login(client_user)
    response = client.get(reverse("files:status"), {"ids": f"{mine.pk},{theirs.pk},abc"})
    assert [f["id"] for f in response.json()["files"]] == [mine.pk]


def test_key_never_collides_with_existing_storage(client_user):
    keys = {services.store_upload(upload(pdf_bytes()), actor=client_user, category="cv_upload").key for _ in range(3)}
    assert len(keys) == 3
    assert all(os.path.basename(k) != "cv.pdf" for k in keys)


def test_uploads_are_rate_limited_per_user(client, client_user, other_client, monkeypatch):
    from files import views

    monkeypatch.setattr(views, "UPLOAD_RATE", "2/m")
    client.force_login(client_user)
    answers = [
        client.post(
            reverse("files:upload"),
            {"file": upload(pdf_bytes()), "category": "cv_upload"},
            headers={"Accept": "application/json"},
        ).status_code
        for _ in range(3)
    ]
    assert answers == [201, 201, 429]
    assert FileAsset.objects.filter(owner=client_user).count() == 2
    client.force_login(other_client)
    response = client.post(
        reverse("files:upload"),
        {"file": upload(pdf_bytes()), "category": "cv_upload"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 201
