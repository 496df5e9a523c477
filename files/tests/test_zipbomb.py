"""Zip bombs are refused from the DOCX's zip directory, before anything is unpacked; nothing is stored."""

import io
import zipfile

import pytest
from django.urls import reverse

from files.models import FileAsset

from .samples import docx_bytes, upload

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def stored_files(media_root):
    return [p for p in media_root.rglob("*") if p.is_file()] if media_root.exists() else []


def bomb_docx(unpacked_mb: int) -> bytes:
    """A valid DOCX plus one part of `unpacked_mb` MB of zeros, written in chunks (300 MB deflates to ~300 KB)."""
    out = io.BytesIO(docx_bytes())
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as archive, archive.open("word/media/pad.bin", "w") as part:
        chunk = bytes(MB)
        for _ in range(unpacked_mb):
            part.write(chunk)
    return out.getvalue()


def post(client, data):
    return client.post(
        reverse("files:upload"),
        {"file": upload(data, "cv.docx"), "category": "cv_upload"},
        headers={"Accept": "application/json"},
    )


def assert_refused(response, status, words, media_root):
    assert response.status_code == status
    assert words in response.json()["error"]
    assert FileAsset.objects.count() == 0
    assert stored_files(media_root) == []


@pytest.mark.faults
def test_a_small_docx_that_unpacks_to_300_mb_is_413(client, client_user, media_root):
    data = bomb_docx(300)
    assert len(data) < 400 * 1024
    client.force_login(client_user)
    assert_refused(post(client, data), 413, "unpacks to more than 50 MB", media_root)


def test_a_part_compressed_a_thousandfold_is_415(client, client_user, media_root):
    client.force_login(client_user)
    assert_refused(post(client, bomb_docx(2)), 415, "possible zip bomb", media_root)


def test_too_many_parts_is_415(client, client_user, media_root, settings):
    parts = {f"word/media/p{i}.xml": b"<x/>" for i in range(settings.FILE_DOCX_MAX_ENTRIES)}
    client.force_login(client_user)
    assert_refused(post(client, docx_bytes(extra=parts)), 415, "too many parts", media_root)


def test_the_unpacked_size_limit_comes_from_settings(client, client_user, media_root, settings):
    settings.FILE_DOCX_MAX_UNCOMPRESSED_BYTES = MB
    settings.FILE_DOCX_MAX_COMPRESSION_RATIO = 10_000
    client.force_login(client_user)
    assert_refused(post(client, bomb_docx(2)), 413, "more than 1 MB", media_root)


def test_an_ordinary_docx_with_small_repetitive_parts_is_accepted(client, client_user):
    """Tiny XML parts compress very well; the ratio limit applies only to large parts."""
    styles = b"<w:style/>" * 4000  # 40 KB, deflates ~200x
    client.force_login(client_user)
    response = post(client, docx_bytes(extra={"word/styles.xml": styles}))
    assert response.status_code == 201, response.content
