"""Asking for a data export: POST only, CSRF, one being built at a time, a redelivered task changes
nothing, a failure is recorded and shown, and the ZIP is erased after FILE_EXPORT_DAYS."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from core.exceptions import NotPermitted
from files import services
from files.models import DataExport, ExportStatus, FileAsset

pytestmark = pytest.mark.django_db


def test_the_profile_page_offers_the_export_and_the_button_posts(
    client, client_user, django_capture_on_commit_callbacks
):
    client.force_login(client_user)
    page = client.get("/account/profile/").content.decode()
    assert "Export my data" in page and 'action="/files/export/"' in page
    assert client.get("/files/export/").status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/files/export/")
    assert response.status_code == 302 and response["Location"].endswith("/account/profile/#data-export")
    export = DataExport.objects.get()
    assert export.status == ExportStatus.READY and default_storage.exists(export.asset.key)
    page = client.get("/account/profile/").content.decode()
    assert export.asset.original_name in page and "available until" in page


def test_anonymous_and_csrf_less_posts_change_nothing(client, csrf_client, client_user):
    assert client.post("/files/export/").status_code == 302  # to the login page
    csrf_client.force_login(client_user)
    assert csrf_client.post("/files/export/").status_code == 403
    assert not DataExport.objects.exists()


def test_one_export_is_built_at_a_time_and_a_redelivered_task_does_nothing(client_user):
    first = services.request_export(client_user, actor=client_user)
    assert services.request_export(client_user, actor=client_user) == first
    assert DataExport.objects.count() == 1
    services.build_export(first.pk)
    assert services.build_export(first.pk) is None  # already ready: left as it is
    assert FileAsset.objects.filter(category="data_export").count() == 1


def test_a_lost_build_is_given_up_after_an_hour(client_user):
    stale = services.request_export(client_user, actor=client_user)
    DataExport.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(hours=2))
    fresh = services.request_export(client_user, actor=client_user)
    assert fresh.pk != stale.pk
    stale.refresh_from_db()
    assert stale.status == ExportStatus.FAILED


def test_only_the_user_asks_for_their_export(client_user, other_client):
    with pytest.raises(NotPermitted):
        services.request_export(client_user, actor=other_client)


def test_a_failed_build_is_recorded_and_shown(client, client_user, monkeypatch):
    export = services.request_export(client_user, actor=client_user)

    def broken(user):
        raise OSError("disk full")

    from files import exports

    monkeypatch.setitem(exports._sections, "broken", broken)
    assert services.build_export(export.pk).status == ExportStatus.FAILED
    client.force_login(client_user)
    assert "could not be prepared" in client.get("/account/profile/").content.decode()


def test_exports_are_erased_after_their_days(client_user, settings, django_capture_on_commit_callbacks):
    settings.FILE_EXPORT_DAYS = 7
    export = services.request_export(client_user, actor=client_user)
    export = services.build_export(export.pk)
    key = export.asset.key
    assert services.expire_exports(now=timezone.now() + timedelta(days=6)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert services.expire_exports(now=timezone.now() + timedelta(days=8)) == 1
    assert not default_storage.exists(key)
    assert services.expire_exports(now=timezone.now() + timedelta(days=9)) == 0


def test_the_expiry_runs_on_beat(settings):
    assert settings.CELERY_BEAT_SCHEDULE["files-expire-exports"]["task"] == "files.tasks.expire_exports"
