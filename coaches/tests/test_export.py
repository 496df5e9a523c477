"""A coach's data export carries the profile they wrote and the services they offer; nobody else's,
and a client's export has no coach section."""

import io
import json
import zipfile

import pytest
from django.core.files.storage import default_storage

from coaches.models import Language
from coaches.tests.factories import CoachProfileFactory, CoachServiceFactory
from files import services as file_services
from files.models import ExportStatus

pytestmark = pytest.mark.django_db


def _entries(user, django_capture_on_commit_callbacks) -> dict[str, bytes]:
    with django_capture_on_commit_callbacks(execute=True):
        export = file_services.request_export(user, actor=user)
    export.refresh_from_db()
    assert export.status == ExportStatus.READY and export.asset is not None, export.failure
    with default_storage.open(export.asset.key, "rb") as stored:
        archive = zipfile.ZipFile(io.BytesIO(stored.read()))
    return {name: archive.read(name) for name in archive.namelist()}


def test_a_coach_gets_their_profile_and_services_and_not_another_coachs(django_capture_on_commit_callbacks):
    mine = CoachProfileFactory(headline="MY-HEADLINE", bio="MY-BIO", portfolio_links=["https://me.example"])
    mine.languages.add(Language.objects.get_or_create(code="fr", defaults={"name": "French"})[0])
    CoachServiceFactory(coach=mine, service_type="linkedin", price_minor=4500, currency="EUR")
    CoachProfileFactory(headline="STRANGER-HEADLINE", bio="STRANGER-BIO")

    entries = _entries(mine.user, django_capture_on_commit_callbacks)
    profile = json.loads(entries["coaches/profile.json"])
    assert profile["headline"] == "MY-HEADLINE" and profile["bio"] == "MY-BIO"
    assert profile["languages"] == ["fr"] and profile["portfolio_links"] == ["https://me.example"]
    assert [(s["service_type"], s["price_minor"], s["currency"]) for s in profile["services"]] == [
        ("cv", 12000, "GBP"),
        ("linkedin", 4500, "EUR"),
    ]
    assert "rating_avg" not in profile  # derived by the marketplace, not the coach's data
    assert b"STRANGER" not in b"\n".join(entries.values())


def test_a_clients_export_has_no_coach_section(client_user, django_capture_on_commit_callbacks):
    CoachProfileFactory(headline="STRANGER-HEADLINE")
    entries = _entries(client_user, django_capture_on_commit_callbacks)
    assert not [name for name in entries if name.startswith("coaches/")]
    assert b"STRANGER-HEADLINE" not in b"\n".join(entries.values())
