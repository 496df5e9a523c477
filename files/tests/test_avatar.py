"""Profile photos: re-encoded without metadata, public once clean, replaced and removed by their owner."""

import io

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

from files import services
from files.models import Avatar, FileAsset, ScanStatus

from .samples import image_bytes, pdf_bytes, upload

pytestmark = pytest.mark.django_db


def post_photo(csrf_client, user, data, name="me.jpg"):
    csrf_client.force_login(user)
    csrf_client.get(reverse("files:list"))
    return csrf_client.post(
        reverse("files:avatar_upload"),
        {"file": upload(data, name, "image/jpeg"), "csrfmiddlewaretoken": csrf_client.cookies["csrftoken"].value},
        headers={"Accept": "application/json"},
    )


def test_photo_upload_is_public_without_metadata(csrf_client, client, client_user, django_capture_on_commit_callbacks):
    big = image_bytes("JPEG", with_exif=True, size=(1600, 1200))
    with django_capture_on_commit_callbacks(execute=True):
        response = post_photo(csrf_client, client_user, big)
    assert response.status_code == 201
    client_user.refresh_from_db()
    assert Avatar.objects.get(user=client_user).asset_id == response.json()["id"]

    photo = client.get(reverse("files:avatar", args=[client_user.pk]))  # anonymous
    assert photo.status_code == 200
    assert photo["Content-Type"] == "image/jpeg"
    assert photo["X-Content-Type-Options"] == "nosniff"
    data = b"".join(photo.streaming_content)
    assert b"SecretCam" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert max(image.size) == 512  # scaled down
        assert not image.getexif()


def test_photo_is_hidden_until_clean(client, client_user):
    services.set_avatar(client_user, upload(image_bytes("PNG"), "me.png"), actor=client_user)  # scan not run: pending
    assert client.get(reverse("files:avatar", args=[client_user.pk])).status_code == 404
    FileAsset.objects.update(scan_status=ScanStatus.CLEAN)
    assert client.get(reverse("files:avatar", args=[client_user.pk])).status_code == 200


def test_no_photo_is_404(client, client_user):
    assert client.get(reverse("files:avatar", args=[client_user.pk])).status_code == 404
    assert client.get(reverse("files:avatar", args=[999999])).status_code == 404


def test_a_document_is_not_a_photo(csrf_client, client_user):
    response = post_photo(csrf_client, client_user, pdf_bytes(), "me.jpg")
    assert response.status_code == 415
    assert "PNG, JPEG or WebP" in response.json()["error"]
    client_user.refresh_from_db()
    assert not Avatar.objects.filter(user=client_user).exists()


def test_new_photo_replaces_and_deletes_the_old_one(client, client_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = services.set_avatar(client_user, upload(image_bytes("PNG"), "a.png"), actor=client_user)
    with django_capture_on_commit_callbacks(execute=True):
        second = services.set_avatar(client_user, upload(image_bytes("WEBP"), "b.webp"), actor=client_user)
    first.refresh_from_db()
    assert first.deleted_at is not None and not default_storage.exists(first.key)
    assert client.get(reverse("files:avatar", args=[client_user.pk]))["Content-Type"] == "image/webp"
    client.force_login(client_user)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("files:avatar_remove")).status_code == 302
    second.refresh_from_db()
    client_user.refresh_from_db()
    assert not Avatar.objects.filter(user=client_user).exists() and second.deleted_at is not None
    assert client.get(reverse("files:avatar", args=[client_user.pk])).status_code == 404


def test_photo_upload_needs_csrf(csrf_client, client_user):
    csrf_client.force_login(client_user)
    response = csrf_client.post(reverse("files:avatar_upload"), {"file": upload(image_bytes(), "me.jpg")})
    assert response.status_code == 403
    assert not FileAsset.objects.exists()


def test_photo_card_on_the_files_page(client, client_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        photo = services.set_avatar(client_user, upload(image_bytes("PNG"), "me.png"), actor=client_user)
    client.force_login(client_user)
    page = client.get(reverse("files:list")).content.decode()
    # the photo's id in the URL: a replaced photo is not shown from the browser's cache
    assert f'src="{reverse("files:avatar", args=[client_user.pk])}?v={photo.pk}"' in page
    assert "me.png" not in page  # the photo is not listed among documents
