"""The S3 path against a real S3-compatible HTTP server on loopback (moto in server mode): no mocks."""

import hashlib

import pytest
import requests
from botocore.exceptions import ClientError
from django.core.files.storage import default_storage
from django.urls import reverse

from files import services
from files.models import FileAsset, ScanStatus

from .samples import EICAR, docx_bytes, pdf_bytes, upload

pytestmark = [pytest.mark.django_db, pytest.mark.services]


def head(s3, key):
    return s3["client"].head_object(Bucket=s3["bucket"], Key=key)


def test_upload_is_stored_in_the_bucket_privately(s3, client_user):
    data = pdf_bytes()
    asset = services.store_upload(upload(data, "cv.pdf"), actor=client_user, category="cv_upload")
    assert asset.storage == "s3"
    assert asset.key.startswith("uploads/")
    obj = s3["client"].get_object(Bucket=s3["bucket"], Key=asset.key)
    body = obj["Body"].read()
    assert hashlib.sha256(body).hexdigest() == asset.sha256
    assert obj["ContentType"] == "application/pdf"
    # Private: an unsigned GET is refused by the server.
    assert requests.get(f"{s3['endpoint']}/{s3['bucket']}/{asset.key}", timeout=10).status_code == 403


def test_download_redirects_to_a_presigned_url_that_works(s3, client, client_user, other_client, settings):
    data = docx_bytes()
    asset = services.store_upload(upload(data, "Résumé final.docx"), actor=client_user, category="cv_upload")
    FileAsset.objects.filter(pk=asset.pk).update(scan_status=ScanStatus.CLEAN)
    client.force_login(client_user)
    response = client.get(reverse("files:download", args=[asset.pk]))
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(f"{s3['endpoint']}/{s3['bucket']}/{asset.key}?")
    assert "X-Amz-Signature=" in url and f"X-Amz-Expires={settings.FILE_URL_TTL_SECONDS}" in url
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == data
    assert fetched.headers["Content-Type"] == asset.content_type
    assert "filename*=utf-8''R%C3%A9sum%C3%A9%20final.docx" in fetched.headers["Content-Disposition"]
    client.force_login(other_client)
    assert client.get(reverse("files:download", args=[asset.pk])).status_code == 404


def test_delete_removes_the_object(s3, client_user, django_capture_on_commit_callbacks):
    asset = services.store_upload(upload(pdf_bytes()), actor=client_user, category="cv_upload")
    assert head(s3, asset.key)["ContentLength"] == asset.size
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_upload(asset, actor=client_user)
    with pytest.raises(ClientError):
        head(s3, asset.key)
    assert not default_storage.exists(asset.key)


def test_scan_reads_from_s3_and_quarantine_deletes_the_object(
    s3, clamd, client_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        good = services.store_upload(upload(pdf_bytes()), actor=client_user, category="cv_upload")
        bad = services.store_upload(
            upload(docx_bytes(extra={"word/media/x.bin": EICAR}), "cv.docx"), actor=client_user, category="cv_upload"
        )
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.scan_status == ScanStatus.CLEAN
    assert head(s3, good.key)
    assert bad.scan_status == ScanStatus.INFECTED
    with pytest.raises(ClientError):
        head(s3, bad.key)
