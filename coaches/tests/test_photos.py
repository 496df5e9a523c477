"""A coach's profile photo shows on their directory card and public page once its virus scan is clean."""

import pytest
from django.urls import reverse

from coaches.tests.factories import CoachProfileFactory
from files import services as files
from files.scanner import Verdict
from files.tests.samples import image_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local_files_and_cache(settings, tmp_path, monkeypatch):
    # Scans are scheduled after commit and would run at once (eager Celery, no-op scanner):
    # here the test hands down each verdict itself, to see the page before and after it.
    monkeypatch.setattr(files, "_schedule_scan", lambda asset_id: None)
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    settings.COACH_DIRECTORY_CACHE_SECONDS = 60  # the photo must also replace cached cards and pages


def photo_tag(profile, asset) -> str:
    return f'src="{reverse("files:avatar", args=[profile.user_id])}?v={asset.pk}"'


def test_a_photo_shows_once_clean_on_cards_and_the_coach_page(client, django_capture_on_commit_callbacks):
    profile = CoachProfileFactory(user__first_name="Pia", user__last_name="Photo")
    directory, page = reverse("coaches:directory"), reverse("coaches:detail", args=[profile.pk])
    client.get(directory), client.get(page)  # cached with initials

    with django_capture_on_commit_callbacks(execute=True):
        asset = files.set_avatar(profile.user, upload(image_bytes("PNG"), "me.png"), actor=profile.user)
    pending_card, pending_page = client.get(directory).content.decode(), client.get(page).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        files.record_verdict(asset.pk, Verdict(infected=False, detail="OK"))
    card, coach_page = client.get(directory).content.decode(), client.get(page).content.decode()

    assert photo_tag(profile, asset) not in pending_card and ">PP</span>" in pending_card
    assert photo_tag(profile, asset) not in pending_page
    assert photo_tag(profile, asset) in card and ">PP</span>" not in card
    assert photo_tag(profile, asset) in coach_page and 'class="avatar avatar-lg avatar-img"' in coach_page
    assert client.get(reverse("files:avatar", args=[profile.user_id])).status_code == 200


def test_an_infected_or_removed_photo_falls_back_to_initials(client, django_capture_on_commit_callbacks):
    profile = CoachProfileFactory(user__first_name="Ina", user__last_name="Fected")
    with django_capture_on_commit_callbacks(execute=True):
        asset = files.set_avatar(profile.user, upload(image_bytes("PNG"), "me.png"), actor=profile.user)
        files.record_verdict(asset.pk, Verdict(infected=True, detail="Eicar-Signature"))
    infected = client.get(reverse("coaches:directory")).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        clean = files.set_avatar(profile.user, upload(image_bytes("PNG"), "new.png"), actor=profile.user)
        files.record_verdict(clean.pk, Verdict(infected=False, detail="OK"))
    shown = client.get(reverse("coaches:directory")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        files.remove_avatar(profile.user, actor=profile.user)
    removed = client.get(reverse("coaches:directory")).content.decode()

    assert "avatar-img" not in infected and ">IF</span>" in infected
    assert photo_tag(profile, clean) in shown
    assert "avatar-img" not in removed and ">IF</span>" in removed


def test_photos_add_no_query_per_card(client, django_assert_max_num_queries, settings):
    settings.COACH_DIRECTORY_CACHE_SECONDS = 0
    for i in range(6):
        profile = CoachProfileFactory()
        asset = files.set_avatar(profile.user, upload(image_bytes("PNG"), f"{i}.png"), actor=profile.user)
        files.record_verdict(asset.pk, Verdict(infected=False, detail="OK"))
    client.get(reverse("coaches:directory"))  # warm the languages and the directory facts like a running site

    with django_assert_max_num_queries(5):  # ids, coaches with user and photo, services, languages (+ slack)
        body = client.get(reverse("coaches:directory")).content.decode()
    assert body.count("avatar-img") == 6


def test_the_profile_editor_leads_to_the_photo_upload(client):
    profile = CoachProfileFactory()
    client.force_login(profile.user)

    body = client.get(reverse("coaches:edit_profile")).content.decode()

    assert f'href="{reverse("files:list")}#photo-title">Add a photo</a>' in body
