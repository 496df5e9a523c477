from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.tests.factories import CoachUserFactory
from coaches.models import CoachProfile, CoachService, ServiceType
from coaches.tests.factories import CoachProfileFactory, CoachServiceFactory

pytestmark = pytest.mark.django_db
URL = reverse("coaches:edit_profile")


def form_data(services=(), *, initial=0, **overrides):
    """POST data for the page: profile fields plus the service rows (each a dict)."""
    data = {
        "headline": "CVs for engineers",
        "bio": "Ten years hiring engineers.",
        "years_experience": "10",
        "languages": [],
        "portfolio_links": "",
        "is_available": "on",
        "services-TOTAL_FORMS": str(len(services)),
        "services-INITIAL_FORMS": str(initial),
        "services-MIN_NUM_FORMS": "0",
        "services-MAX_NUM_FORMS": "4",
    }
    for i, row in enumerate(services):
        for key, value in row.items():
            data[f"services-{i}-{key}"] = value
    data.update(overrides)
    return data


def row(service_type="cv", price="120.00", currency="GBP", days="5", revisions="2", active=True, delete=False):
    values = {
        "service_type": service_type,
        "price": price,
        "currency": currency,
        "delivery_days": days,
        "revisions_included": revisions,
    }
    if active:
        values["is_active"] = "on"
    if delete:
        values["DELETE"] = "on"
    return values


def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_clients_are_refused(client, client_user):
    client.force_login(client_user)
    assert client.get(URL).status_code == 403
    assert not CoachProfile.objects.filter(user=client_user).exists()


def test_new_coach_gets_a_profile_when_opening_the_page(client):
    user = CoachUserFactory()
    client.force_login(user)

    response = client.get(URL)

    assert response.status_code == 200
    assert CoachProfile.objects.filter(user=user).count() == 1
    assert "not find you in the directory" in response.content.decode()
    assert len(response.context["formset"].forms) == 4


def test_coach_saves_profile_languages_links_and_services(csrf_client):
    user = CoachUserFactory()
    csrf_client.force_login(user)
    csrf_client.get(URL)
    token = csrf_client.cookies["csrftoken"].value
    profile = CoachProfile.objects.get(user=user)
    english, french = profile.languages.model.objects.filter(code__in=["en", "fr"]).order_by("code")

    data = form_data(
        [row("cv", "120.50"), row("bundle", "299", currency="EUR", days="10", revisions="3")],
        languages=[str(english.pk), str(french.pk)],
        portfolio_links="https://example.com/samples\nhttp://linkedin.com/in/me\n",
        csrfmiddlewaretoken=token,
    )
    response = csrf_client.post(URL, data)

    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.headline == "CVs for engineers"
    assert profile.years_experience == 10
    assert profile.portfolio_links == ["https://example.com/samples", "http://linkedin.com/in/me"]
    assert set(profile.languages.values_list("code", flat=True)) == {"en", "fr"}
    services = {s.service_type: s for s in profile.services.all()}
    assert services["cv"].price_minor == 12050 and services["cv"].currency == "GBP"
    assert services["bundle"].price_minor == 29900 and services["bundle"].currency == "EUR"
    assert services["bundle"].delivery_days == 10 and services["bundle"].revisions_included == 3
    assert CoachProfile.objects.listed().filter(pk=profile.pk).exists()


def test_post_without_csrf_token_is_refused(csrf_client):
    user = CoachUserFactory()
    csrf_client.force_login(user)

    response = csrf_client.post(URL, form_data([row()]))

    assert response.status_code == 403
    assert not CoachService.objects.exists()


def test_coach_edits_pauses_and_removes_services(client):
    profile = CoachProfileFactory(services=[])
    CoachServiceFactory(coach=profile, service_type=ServiceType.CV, price_minor=10000)
    CoachServiceFactory(coach=profile, service_type=ServiceType.LINKEDIN, price_minor=8000)
    CoachServiceFactory(coach=profile, service_type=ServiceType.COVER_LETTER, price_minor=6000)
    client.force_login(profile.user)
    initial = client.get(URL).context["formset"].initial
    assert [r["service_type"] for r in initial] == ["cv", "cover_letter", "linkedin"]
    assert initial[0]["price"] == Decimal("100.00")

    response = client.post(
        URL,
        form_data(
            [row("cv", "150"), row("cover_letter", "60", delete=True), row("linkedin", "80", active=False)],
            initial=3,
        ),
    )

    assert response.status_code == 302
    services = {s.service_type: s for s in profile.services.all()}
    assert set(services) == {"cv", "linkedin"}
    assert services["cv"].price_minor == 15000
    assert services["linkedin"].is_active is False


def test_removing_every_service_unlists_the_coach(client):
    profile = CoachProfileFactory(services=[ServiceType.CV])
    client.force_login(profile.user)

    client.post(URL, form_data([row("cv", delete=True)], initial=1))

    assert not profile.services.exists()
    assert not CoachProfile.objects.listed().filter(pk=profile.pk).exists()


@pytest.mark.parametrize(
    "services, overrides, message",
    [
        ([row()], {"portfolio_links": "javascript:alert(1)"}, "not web addresses"),
        ([row()], {"portfolio_links": "ftp://example.com/cv"}, "not web addresses"),
        ([row()], {"portfolio_links": "\n".join(f"https://e.com/{i}" for i in range(6))}, "at most 5"),
        ([row()], {"years_experience": "-3"}, "greater than or equal to 0"),
        ([row()], {"headline": ""}, "This field is required"),
        ([row(price="12.345")], {}, "2 decimal places"),
        ([row(price="-5")], {}, "greater than or equal to 5"),
        ([row(price="abc")], {}, "Enter a number"),
        ([row(currency="JPY")], {}, "Select a valid choice"),
        ([row(days="0")], {}, "greater than or equal to 1"),
        ([row(service_type="tarot")], {}, "Select a valid choice"),
        ([row("cv"), row("cv", "90")], {}, "twice"),
    ],
)
def test_bad_input_is_refused_and_nothing_changes(client, services, overrides, message):
    profile = CoachProfileFactory(headline="Before", services=[])
    CoachServiceFactory(coach=profile, service_type=ServiceType.LINKEDIN, price_minor=7000)
    client.force_login(profile.user)

    response = client.post(URL, form_data(services, **overrides))

    assert response.status_code == 400
    assert message in response.content.decode()
    profile.refresh_from_db()
    assert profile.headline == "Before"
    assert list(profile.services.values_list("service_type", "price_minor")) == [("linkedin", 7000)]


def test_too_many_service_rows_are_refused(client):
    profile = CoachProfileFactory(services=[])
    client.force_login(profile.user)
    rows = [row(t) for t in ("cv", "cover_letter", "linkedin", "bundle", "cv")]

    response = client.post(URL, form_data(rows))

    assert response.status_code == 400
    assert not profile.services.exists()
