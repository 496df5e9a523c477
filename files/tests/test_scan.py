"""Scanning against a real clamd (started by the clamd_server fixture with the EICAR signature)."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage
from django.urls import reverse

from audit.models import AuditLog
from core.exceptions import InvalidState, NotPermitted
from files import services
from files.models import ScanStatus
from files.scanner import ClamdScanner, ScannerUnavailable, get_scanner
from notifications.models import Notification

from .conftest import free_port
from .samples import EICAR, docx_bytes, pdf_bytes, upload

pytestmark = [pytest.mark.django_db, pytest.mark.services]


def infected_docx() -> bytes:
    """A well-formed DOCX carrying the EICAR test file as a part: it passes validation, clamd finds it."""
    return docx_bytes(extra={"word/media/image1.bin": EICAR})


def store(owner, data, name="cv.pdf", capture=None):
    with capture(execute=True):
        asset = services.store_upload(upload(data, name), actor=owner, category="cv_upload")
    asset.refresh_from_db()
    return asset


def test_clamd_finds_eicar_and_passes_clean_bytes(clamd):
    import io

    scanner = ClamdScanner(clamd["tcp"], 5)
    assert scanner.scan(io.BytesIO(EICAR)).infected
    assert "Test.EICAR.Custom" in scanner.scan(io.BytesIO(EICAR)).detail
    assert not scanner.scan(io.BytesIO(pdf_bytes())).infected


def test_unix_socket_address_works(clamd):
    import io

    assert ClamdScanner(clamd["unix"], 5).scan(io.BytesIO(infected_docx())).infected


def test_clean_upload_becomes_downloadable(clamd, client, client_user, django_capture_on_commit_callbacks):
    asset = store(client_user, pdf_bytes(), capture=django_capture_on_commit_callbacks)
    assert asset.scan_status == ScanStatus.CLEAN
    assert asset.scanned_at is not None
    client.force_login(client_user)
    assert client.get(reverse("files:download", args=[asset.pk])).status_code == 302


def test_infected_upload_is_quarantined_and_people_are_told(
    clamd, client, client_user, staff_user, django_capture_on_commit_callbacks
):
    asset = store(client_user, infected_docx(), "cv.docx", capture=django_capture_on_commit_callbacks)
    assert asset.scan_status == ScanStatus.INFECTED
    assert "Test.EICAR.Custom" in asset.scan_detail
    assert not default_storage.exists(asset.key)  # removed from storage, record kept
    assert asset.deleted_at is None and asset.sha256
    owner_note = Notification.objects.get(user=client_user, kind="file_infected")
    assert "cv.docx" in owner_note.text
    assert Notification.objects.filter(user=staff_user, kind="file_infected_staff").exists()
    assert AuditLog.objects.filter(action="file.quarantined", target_id=str(asset.pk)).exists()
    client.force_login(client_user)
    response = client.get(reverse("files:download", args=[asset.pk]), headers={"Accept": "application/json"})
    assert response.status_code == 409
    assert "virus" in response.json()["error"]


def test_scanner_down_never_makes_a_file_clean_and_staff_can_rescan(
    settings, clamd, client, client_user, staff_user, django_capture_on_commit_callbacks
):
    settings.CLAMD_URL = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    settings.FILE_SCAN_MAX_RETRIES = 2
    asset = store(client_user, pdf_bytes(), capture=django_capture_on_commit_callbacks)
    assert asset.scan_status == ScanStatus.ERROR  # after the retries, not clean
    assert Notification.objects.filter(user=staff_user, kind="file_scan_error").count() == 1
    assert not Notification.objects.filter(user=client_user).exists()
    assert "could not scan" in asset.scan_detail
    assert default_storage.exists(asset.key)
    client.force_login(client_user)
    assert client.get(reverse("files:download", args=[asset.pk])).status_code == 409

    with pytest.raises(NotPermitted):
        services.rescan(asset, actor=client_user)
    settings.CLAMD_URL = clamd["tcp"]  # the scanner is back
    with django_capture_on_commit_callbacks(execute=True):
        services.rescan(asset, actor=staff_user)
    asset.refresh_from_db()
    assert asset.scan_status == ScanStatus.CLEAN
    assert AuditLog.objects.filter(action="file.rescan", actor=staff_user).exists()
    with pytest.raises(InvalidState):
        services.rescan(asset, actor=staff_user)


def test_clamd_refusing_an_oversized_stream_is_an_error_not_clean(
    tmp_path, settings, client_user, django_capture_on_commit_callbacks, clamd_server
):
    """A clamd whose StreamMaxLength is below the file answers 'size limit exceeded': never clean."""
    import io

    scanner = ClamdScanner(clamd_server["tcp"], 5)
    big = io.BytesIO(b"%PDF-1.4\n" + b"0" * (26 * 1024 * 1024))  # above StreamMaxLength 25M (deploy/clamd.conf)
    with pytest.raises(ScannerUnavailable):
        scanner.scan(big)


def test_noop_scanner_marks_clean_with_a_warning(settings, client_user, caplog, django_capture_on_commit_callbacks):
    settings.CLAMD_URL = ""
    settings.FILE_SCAN_NOOP_ALLOWED = True
    with caplog.at_level(logging.WARNING, logger="files.scanner"):
        asset = store(client_user, pdf_bytes(), capture=django_capture_on_commit_callbacks)
    assert asset.scan_status == ScanStatus.CLEAN
    assert "NOT scanned" in caplog.text


def test_no_scanner_and_no_debug_is_refused(settings):
    settings.CLAMD_URL = ""
    settings.FILE_SCAN_NOOP_ALLOWED = False
    with pytest.raises(ImproperlyConfigured):
        get_scanner()


def _manage_check(extra_env: dict) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in ("CLAMD_URL", "DJANGO_SETTINGS_MODULE")}
    env.update({"DEBUG": "false", "SECRET_KEY": "s" * 60, "ALLOWED_HOSTS": "elite.example", **extra_env})
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_settings_require_clamd_url():
    refused = _manage_check({"CLAMD_URL": ""})
    assert refused.returncode != 0
    assert "CLAMD_URL" in refused.stderr
    assert _manage_check({"CLAMD_URL": "tcp://127.0.0.1:3310"}).returncode == 0


def test_stale_pending_scans_are_queued_again(clamd, client_user, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from files.models import FileAsset
    from files.tasks import requeue_stale_scans

    lost = services.store_upload(upload(pdf_bytes()), actor=client_user, category="cv_upload")  # task never ran
    fresh = services.store_upload(upload(pdf_bytes()), actor=client_user, category="cv_upload")
    FileAsset.objects.filter(pk=lost.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    assert requeue_stale_scans.delay().get() == 1
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert lost.scan_status == ScanStatus.CLEAN
    assert fresh.scan_status == ScanStatus.PENDING


def test_beat_schedules_the_files_jobs(settings):
    from elite.celery import app

    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for name in ("files.tasks.requeue_stale_scans", "files.tasks.sweep_orphans"):
        assert name in scheduled
        assert name in app.tasks


def padded_infected_docx() -> bytes:
    """A valid DOCX whose EICAR part comes after 2 MB of incompressible padding: past a 1 MB scan limit."""
    return docx_bytes(extra={"word/media/padding.bin": os.urandom(2 * 1024 * 1024), "word/media/image1.bin": EICAR})


@pytest.mark.faults
def test_malware_past_the_scanners_limits_is_flagged_never_clean(
    settings, clamd_small_limits, client, client_user, django_capture_on_commit_callbacks
):
    """clamd with the project's config (AlertExceedsMax) and 1 MB limits reports what it could not read whole."""
    settings.CLAMD_URL = clamd_small_limits["tcp"]
    settings.FILE_SCAN_NOOP_ALLOWED = False
    asset = store(client_user, padded_infected_docx(), "cv.docx", capture=django_capture_on_commit_callbacks)
    assert asset.scan_status == ScanStatus.INFECTED
    assert asset.scan_detail.startswith("Heuristics.Limits.Exceeded")
    assert not default_storage.exists(asset.key)
    client.force_login(client_user)
    response = client.get(reverse("files:download", args=[asset.pk]), headers={"Accept": "application/json"})
    assert response.status_code == 409


def test_the_project_clamd_config_reads_files_bigger_than_any_upload(clamd, settings):
    """With the shipped limits a padded DOCX at the upload cap is read whole: the EICAR after it is found."""
    import io

    padding = os.urandom(settings.FILE_UPLOAD_MAX_BYTES - 64 * 1024)
    data = docx_bytes(extra={"word/media/padding.bin": padding, "word/media/image1.bin": EICAR})
    verdict = ClamdScanner(clamd["tcp"], 30).scan(io.BytesIO(data))
    assert verdict.infected and "Test.EICAR.Custom" in verdict.detail
