"""Anonymous visitor finds a coach: filter the directory, open a coach, read services and reviews."""

import io
import os
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from coaches.models import Language, ServiceType
from coaches.tests.factories import CoachProfileFactory, CoachServiceFactory, seed_languages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def make_coach(first, last, *, services, languages, headline, **fields):
    profile = CoachProfileFactory(
        user__first_name=first, user__last_name=last, headline=headline, services=[], **fields
    )
    for service_type, price in services.items():
        CoachServiceFactory(coach=profile, service_type=service_type, price_minor=price)
    profile.languages.set(Language.objects.filter(code__in=languages))
    return profile


@pytest.fixture(autouse=True)
def languages():
    seed_languages()


def give_photo(profile, settings, tmp_path, monkeypatch):
    """A real, scanned-clean profile photo stored on local disk (the verdict is handed down here)."""
    from PIL import Image, ImageDraw

    from files import services as files
    from files.scanner import Verdict
    from files.tests.samples import upload

    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    monkeypatch.setattr(files, "_schedule_scan", lambda asset_id: None)
    image = Image.new("RGB", (240, 240), (31, 111, 139))
    ImageDraw.Draw(image).ellipse((70, 40, 170, 140), fill=(240, 200, 170))
    ImageDraw.Draw(image).ellipse((30, 150, 210, 320), fill=(20, 33, 61))
    data = io.BytesIO()
    image.save(data, "PNG")
    asset = files.set_avatar(profile.user, upload(data.getvalue(), "camille.png"), actor=profile.user)
    files.record_verdict(asset.pk, Verdict(infected=False, detail="OK"))


@pytest.fixture
def marketplace(review_for, settings, tmp_path, monkeypatch):
    match = make_coach(
        "Camille",
        "Durand",
        services={ServiceType.CV: 8500, ServiceType.COVER_LETTER: 4500, ServiceType.BUNDLE: 22000},
        languages=["en", "fr"],
        headline="Bilingual CVs for finance and consulting",
        is_verified=True,
        years_experience=11,
    )
    review_for(
        match.user,
        rating=5,
        comment="Camille rewrote my CV in French and English. Two offers!",
        reply="Merci, and congratulations!",
    )
    review_for(match.user, rating=4, comment="Clear, quick and kind.")
    give_photo(match, settings, tmp_path, monkeypatch)
    make_coach(
        "Pierre",
        "Dear",
        services={ServiceType.CV: 19000},
        languages=["fr"],
        headline="Executive CVs",
        rating_avg=Decimal("4.9"),
        ratings_count=30,
    )
    make_coach(
        "Hans",
        "Weber",
        services={ServiceType.CV: 7000},
        languages=["de", "en"],
        headline="Engineering CVs",
        rating_avg=Decimal("4.2"),
        ratings_count=8,
    )
    make_coach(
        "Lena",
        "Park",
        services={ServiceType.LINKEDIN: 6000},
        languages=["fr", "en"],
        headline="LinkedIn makeovers",
        is_verified=True,
    )
    for i in range(8):
        make_coach(
            f"Extra{chr(65 + i)}",
            "Coach",
            services={ServiceType.CV: 9000 + i * 1000},
            languages=["en"],
            headline="General CV writing",
            rating_avg=Decimal("4.0"),
            ratings_count=i + 1,
        )
    return match


def shot(page, artifacts_dir, name):
    page.screenshot(path=os.path.join(artifacts_dir, f"coaches-{name}.png"), full_page=True)


@pytest.mark.parametrize("width", [1280, 375])
def test_visitor_filters_directory_and_opens_a_coach(page, live_server, marketplace, artifacts_dir, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/coaches/")
    expect(page.get_by_role("heading", name="Find a writing coach")).to_be_visible()
    expect(page.get_by_text("12 coaches")).to_be_visible()
    shot(page, artifacts_dir, f"directory-{width}")

    if width < 992:
        page.get_by_role("button", name="Filters").click()
    page.get_by_label("Service", exact=True).select_option("cv")
    page.get_by_label("Max", exact=True).fill("100")
    page.get_by_label("Language", exact=True).select_option(label="French")
    page.get_by_role("button", name="Show coaches").click()

    expect(page).to_have_url(re.compile(r"service=cv.*max_price=100.*language=fr"))
    expect(page.get_by_text("1 coach", exact=True)).to_be_visible()
    cards = page.get_by_role("list", name="Coaches").get_by_role("article")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Camille Durand")
    expect(cards.first).to_contain_text("£85.00")
    photo = cards.first.locator("img.avatar-img")
    expect(photo).to_be_visible()
    # Visible comes before loaded. Polled from the test side: a wait_for_function predicate would
    # need eval in the page, which the CSP forbids.
    expect(photo).to_have_js_property("complete", True)
    assert photo.evaluate("img => img.naturalWidth") > 0  # served, decoded, allowed by the CSP
    expect(page.get_by_role("link", name="Remove filter: Writes in French")).to_be_visible()
    shot(page, artifacts_dir, f"directory-filtered-{width}")

    page.get_by_role("link", name="Camille Durand").click()
    expect(page.get_by_role("heading", name=re.compile("Camille Durand"))).to_be_visible()
    expect(page.locator("img.avatar-lg")).to_be_visible()
    services = page.get_by_role("region", name="Services")
    expect(services).to_contain_text("CV writing")
    expect(services).to_contain_text("£85.00")
    expect(services).to_contain_text("Career bundle")
    expect(services.get_by_role("link", name=re.compile("Request this coach"))).to_have_count(3)
    expect(page.get_by_text("Two offers!")).to_be_visible()
    expect(page.get_by_text("Merci, and congratulations!")).to_be_visible()
    shot(page, artifacts_dir, f"coach-{width}")

    href = services.get_by_role("link", name="Request this coach for CV writing").get_attribute("href")
    assert href == f"/requests/new/?coach={marketplace.pk}&service=cv"


def test_empty_result_offers_to_clear_filters(page, live_server, marketplace, artifacts_dir):
    page.goto(f"{live_server.url}/coaches/?service=linkedin&language=de&max_price=abc")
    expect(page.get_by_text("No coach matches all of these filters")).to_be_visible()
    expect(page.get_by_text("it is not a number")).to_be_visible()
    shot(page, artifacts_dir, "directory-empty-1280")
    page.get_by_role("link", name="Remove “Writes in German”").click()
    expect(page.get_by_role("list", name="Coaches").get_by_role("article")).to_have_count(1)
    page.goto(f"{live_server.url}/coaches/?service=linkedin&language=de")
    page.get_by_role("link", name="Clear all filters").last.click()
    expect(page.get_by_text("12 coaches")).to_be_visible()


def login_as(page, live_server, user):
    from django.test import Client

    session = Client()
    session.force_login(user)
    cookie = session.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


@pytest.mark.parametrize("width", [1280, 375])
def test_new_coach_fills_in_profile_and_services(page, live_server, artifacts_dir, width):
    from accounts.tests.factories import CoachUserFactory
    from coaches.models import CoachProfile

    user = CoachUserFactory(first_name="Nora", last_name="Quinn")
    login_as(page, live_server, user)
    page.set_viewport_size({"width": width, "height": 900})

    page.goto(f"{live_server.url}/coaches/me/profile/")
    expect(page.get_by_text("Clients cannot find you in the directory")).to_be_visible()
    shot(page, artifacts_dir, f"profile-edit-empty-{width}")

    page.get_by_label("Headline").fill("Teacher CVs that land interviews")
    page.get_by_label("Bio").fill("Fifteen years as a head of department; I know what schools look for.")
    page.get_by_label("Years of experience").fill("15")
    page.get_by_label("English").check()
    page.get_by_label("Welsh").check()
    page.get_by_label("Portfolio links").fill("https://example.com/nora\nnot a link")
    first_row = page.locator(".service-row").first
    first_row.get_by_label("Service").select_option("cv")
    first_row.get_by_label("Price").fill("95.50")
    page.get_by_role("button", name="Save profile").click()

    expect(page.get_by_text("Please correct the highlighted fields")).to_be_visible()
    expect(page.get_by_text("not web addresses")).to_be_visible()
    shot(page, artifacts_dir, f"profile-edit-error-{width}")

    page.get_by_label("Portfolio links").fill("https://example.com/nora")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()

    profile = CoachProfile.objects.get(user=user)
    assert profile.services.get().price_minor == 9550
    assert profile.is_listed

    page.get_by_role("link", name="See your public page").click()
    expect(page.get_by_role("heading", name=re.compile("Nora Quinn"))).to_be_visible()
    expect(page.get_by_text("£95.50")).to_be_visible()
    expect(page.get_by_text("Writes in English, Welsh")).to_be_visible()
