"""files on the API: upload by content, one file (signed link once clean), delete; for every caller."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core.tests.api import API, assert_problem, client_for
from files.models import FileAsset
from files.tests.samples import EICAR, docx_bytes, pdf_bytes

pytestmark = pytest.mark.django_db
UPLOAD = f"{API}files/upload"


def pdf(name="cv.pdf", content=None):
    return SimpleUploadedFile(name, content or pdf_bytes(), content_type="application/pdf")


@pytest.fixture
def uploaded(client_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(client_user).post(UPLOAD, {"file": pdf()}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()


def test_upload_is_checked_and_scanned_then_downloadable(uploaded, client_user):
    assert uploaded["name"] == "cv.pdf" and uploaded["content_type"] == "application/pdf"
    body = client_for(client_user).get(f"{API}files/{uploaded['id']}").json()
    assert body["scan_status"] == "clean" and body["download_url"]
    assert Client().get(body["download_url"]).status_code == 200


def test_a_file_pretending_to_be_a_pdf_is_415(client_user):
    fake = SimpleUploadedFile("cv.pdf", b"MZ\x90\x00 a program", content_type="application/pdf")
    assert_problem(client_for(client_user).post(UPLOAD, {"file": fake}, format="multipart"), 415)
    assert not FileAsset.objects.exists()


def test_an_infected_file_gets_no_link(client_user, clamd, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        infected = SimpleUploadedFile("cv.docx", docx_bytes(extra={"word/media/image1.bin": EICAR}))
        response = client_for(client_user).post(UPLOAD, {"file": infected}, format="multipart")
    assert response.status_code == 201, response.content
    asset_id = response.json()["id"]
    body = client_for(client_user).get(f"{API}files/{asset_id}").json()
    assert body["scan_status"] == "infected" and body["download_url"] is None


def test_missing_file_bad_category_too_large_and_anonymous(client_user, settings):
    api = client_for(client_user)
    assert "file" in assert_problem(api.post(UPLOAD, {"category": "cv_upload"}, format="multipart"), 400)["fields"]
    assert (
        "category"
        in assert_problem(api.post(UPLOAD, {"file": pdf(), "category": "avatar"}, format="multipart"), 400)["fields"]
    )
    settings.FILE_UPLOAD_MAX_BYTES = 100
    assert_problem(api.post(UPLOAD, {"file": pdf()}, format="multipart"), 413)
    assert_problem(client_for().post(UPLOAD, {"file": pdf()}, format="multipart"), 401)


def test_someone_elses_file_is_404_and_staff_may_read(uploaded, other_client, coach_user, staff_user):
    url = f"{API}files/{uploaded['id']}"
    assert_problem(client_for(other_client).get(url), 404)
    assert_problem(client_for(coach_user).get(url), 404)
    assert client_for(staff_user).get(url).status_code == 200
    assert_problem(client_for(staff_user).delete(url), 404)  # staff read, only the owner deletes


def test_the_owner_deletes(uploaded, client_user):
    url = f"{API}files/{uploaded['id']}"
    assert client_for(client_user).delete(url).status_code == 204
    assert_problem(client_for(client_user).get(url), 404)
    assert_problem(client_for(client_user).delete(url), 404)
