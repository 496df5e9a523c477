"""Prices compare like with like (issue 15 item 3): filters and sorts in the viewer's currency through the
exchange rates staff keep, the coach's own price beside the converted one, offers without a rate shown
honestly; the rating sort weighs the number of reviews; only languages someone offers are listed."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from audit.models import AuditLog
from coaches import pricing, services
from coaches.models import CoachProfile, CoachService, ExchangeRate, Language, ServiceType
from coaches.tests.factories import CoachProfileFactory, CoachServiceFactory
from core.exceptions import DomainError, NotPermitted
from core.tests.api import API, client_for

URL = reverse("coaches:directory")
TODAY = date(2026, 11, 30)


def coach(name, price, currency, *, service=ServiceType.CV, languages=(), **fields):
    first, last = name.split()
    profile = CoachProfileFactory(user__first_name=first, user__last_name=last, services=[], **fields)
    CoachServiceFactory(coach=profile, service_type=service, price_minor=price, currency=currency)
    profile.languages.set(Language.objects.filter(code__in=languages))
    return profile


def names(response):
    by_id = dict(CoachProfile.objects.values_list("pk", "user__first_name"))
    return [by_id[card["coach_id"]] for card in response.context["cards"]]


@pytest.fixture
def rates(staff_user):
    services.set_exchange_rate("EUR", actor=staff_user, units_per_base=Decimal("1.17"), as_of=TODAY)
    services.set_exchange_rate("USD", actor=staff_user, units_per_base=Decimal("1.27"), as_of=TODAY)


@pytest.fixture
def mixed(db, rates):
    """£70, €75 (≈ £64.10) and $50 (≈ £39.37): raw numbers sort them the wrong way round."""
    return {
        "Gina": coach("Gina Pound", 7000, "GBP"),
        "Emil": coach("Emil Euro", 7500, "EUR"),
        "Dora": coach("Dora Dollar", 5000, "USD"),
    }


# --- the arithmetic ---------------------------------------------------------------------------

CURRENCIES = st.sampled_from(["GBP", "EUR", "USD", "JPY", "KWD"])
RATES = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("50000"), places=4)


@given(
    p=st.integers(min_value=0, max_value=10**9),
    bound=st.integers(min_value=0, max_value=10**9),
    currency=CURRENCIES,
    rate=RATES,
)
def test_a_converted_bound_agrees_with_the_converted_price_to_the_minor_unit(p, bound, currency, rate):
    low, high = pricing.base_bounds(bound, bound, currency, rate, "GBP")
    shown = pricing.from_base_minor(p, currency, rate, "GBP")
    assert (shown <= bound) == (p <= high)
    assert (shown >= bound) == (p >= low)


@given(
    a=st.integers(min_value=0, max_value=10**9),
    b=st.integers(min_value=0, max_value=10**9),
    currency=CURRENCIES,
    rate=RATES,
)
def test_conversions_keep_the_order_of_prices(a, b, currency, rate):
    if a <= b:
        assert pricing.to_base_minor(a, currency, rate, "GBP") <= pricing.to_base_minor(b, currency, rate, "GBP")
        assert pricing.from_base_minor(a, currency, rate, "GBP") <= pricing.from_base_minor(b, currency, rate, "GBP")


def test_conversion_uses_each_currencys_exponent():
    assert pricing.to_base_minor(7500, "EUR", Decimal("1.17"), "GBP") == 6410  # €75.00 → £64.10
    assert pricing.to_base_minor(20000, "JPY", Decimal("190"), "GBP") == 10526  # ¥20,000 → £105.26
    assert pricing.from_base_minor(10000, "KWD", Decimal("0.385"), "GBP") == 38500  # £100 → 38.500 KWD


@given(
    average=st.decimals(min_value=0, max_value=5, places=2),
    count=st.integers(min_value=0, max_value=100000),
)
def test_the_rating_score_lies_between_the_prior_and_the_average(average, count):
    score = pricing.rating_score(average, count)
    low, high = sorted([pricing.RATING_PRIOR_MEAN, average])
    assert low - Decimal("0.0001") <= score <= high + Decimal("0.0001")
    assert pricing.rating_score(average, count + 1) - average <= score - average + Decimal("0.0001") or (
        abs(pricing.rating_score(average, count + 1) - average) <= abs(score - average) + Decimal("0.0001")
    )


def test_many_good_reviews_outrank_one_perfect_one():
    assert pricing.rating_score(Decimal("4.6"), 40) > pricing.rating_score(Decimal("5"), 1)
    assert pricing.rating_score(Decimal("5"), 1) > pricing.rating_score(Decimal("0"), 0)  # a new coach: 3.5


# --- rates in the console -----------------------------------------------------------------------


def test_setting_a_rate_reconverts_prices_and_is_audited(db, staff_user):
    emil = coach("Emil Euro", 7500, "EUR")
    service = CoachService.objects.get(coach=emil)
    assert service.price_base_minor is None  # no rate yet

    services.set_exchange_rate("eur", actor=staff_user, units_per_base=Decimal("1.17"), as_of=TODAY)
    service.refresh_from_db()
    emil.refresh_from_db()
    assert (service.price_base_minor, emil.price_from_base_minor) == (6410, 6410)

    services.set_exchange_rate("EUR", actor=staff_user, units_per_base=Decimal("1.25"), as_of=TODAY)
    service.refresh_from_db()
    assert service.price_base_minor == 6000
    assert ExchangeRate.objects.get().units_per_base == Decimal("1.25")
    entries = AuditLog.objects.filter(action="coach.exchange_rate").order_by("pk")
    assert [(e.details["from"], e.details["to"]) for e in entries] == [(None, "1.17"), ("1.17", "1.25")]

    services.remove_exchange_rate(ExchangeRate.objects.get(), actor=staff_user)
    service.refresh_from_db()
    assert service.price_base_minor is None


@pytest.mark.parametrize(
    ("currency", "rate", "as_of", "message"),
    [
        ("GBP", "1", TODAY, "base currency"),
        ("XYZ", "1.1", TODAY, "XYZ"),
        ("EUR", "0", TODAY, "positive"),
        ("EUR", "-1", TODAY, "positive"),
        ("EUR", "1.1", timezone.localdate() + timedelta(days=2), "future"),
    ],
)
def test_bad_rates_are_refused_and_change_nothing(db, staff_user, currency, rate, as_of, message):
    with pytest.raises(DomainError, match=message):
        services.set_exchange_rate(currency, actor=staff_user, units_per_base=Decimal(rate), as_of=as_of)
    assert not ExchangeRate.objects.exists()


def test_only_staff_set_rates(db, client_user):
    with pytest.raises(NotPermitted):
        services.set_exchange_rate("EUR", actor=client_user, units_per_base=Decimal("1.1"), as_of=TODAY)


def test_staff_keep_rates_in_the_console(client, staff_user, db):
    emil = coach("Emil Euro", 7500, "EUR")
    client.force_login(staff_user)
    add = reverse("admin:coaches_exchangerate_add")

    refused = client.post(add, {"currency": "GBP", "units_per_base": "1", "as_of": TODAY.isoformat()})
    assert refused.status_code == 200
    assert "base currency" in refused.content.decode()
    saved = client.post(add, {"currency": "eur", "units_per_base": "1.17", "as_of": TODAY.isoformat()})
    assert saved.status_code == 302

    assert CoachService.objects.get(coach=emil).price_base_minor == 6410
    assert AuditLog.objects.filter(action="coach.exchange_rate", actor=staff_user).count() == 1
    listing = client.get(reverse("admin:coaches_exchangerate_changelist")).content.decode()
    assert "1 GBP = 1.17 EUR" in listing


# --- the directory --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_price_sort_and_bounds_compare_converted_prices(client, mixed):
    assert names(client.get(URL, {"sort": "price"})) == ["Dora", "Emil", "Gina"]  # $50 < €75 < £70
    assert names(client.get(URL, {"sort": "price", "max_price": "65"})) == ["Dora", "Emil"]
    assert names(client.get(URL, {"sort": "price", "max_price": "64.09"})) == ["Dora"]
    assert names(client.get(URL, {"sort": "price", "min_price": "64.10", "service": "cv"})) == ["Emil", "Gina"]


@pytest.mark.django_db
def test_bounds_in_the_viewers_currency(client, mixed):
    # €76 → £64.96: €75 is in, £70 (= €81.90) and $50 (= €46.06) are judged in euros too
    response = client.get(URL, {"currency": "EUR", "max_price": "76", "sort": "price"})
    assert names(response) == ["Dora", "Emil"]
    html = response.content.decode()
    assert "Up to €76" in html
    assert "Price in EUR" in html
    assert "≈ €46.06" in html and "Coach's price $50.00" in html  # converted, and the coach's own price
    assert "€75.00" in html
    assert "1 GBP = 1.17 EUR (30 Nov 2026)" in html
    assert "1 GBP = 1.27 USD (30 Nov 2026)" in html


@pytest.mark.django_db
def test_the_chosen_currency_is_remembered(client, mixed):
    first = client.get(URL, {"currency": "USD"})
    assert first.cookies["currency"].value == "USD"
    again = client.get(URL, {"max_price": "60"})  # no currency in the URL: the cookie's
    assert again.context["filters"].shown_currency == "USD"
    assert "Up to $60" in again.content.decode()
    assert names(again) == ["Dora"]  # $50; €75 is $81.41 and £70 is $88.90


@pytest.mark.django_db
def test_a_currency_without_a_rate_cannot_be_chosen(client, mixed):
    response = client.get(URL, {"currency": "JPY", "max_price": "65"})
    assert "We ignored the currency “JPY”" in response.content.decode()
    assert response.context["filters"].shown_currency == "GBP"
    assert "currency" not in response.cookies


@pytest.mark.django_db
def test_offers_without_a_rate_are_shown_and_said_to_be_left_out_of_price_filters(client, mixed, staff_user):
    services.remove_exchange_rate(ExchangeRate.objects.get(currency="USD"), actor=staff_user)
    CoachServiceFactory(coach=mixed["Dora"], service_type=ServiceType.LINKEDIN, price_minor=9000, currency="USD")

    everyone = client.get(URL, {"sort": "price"})
    assert names(everyone) == ["Emil", "Gina", "Dora"]  # no rate: listed after the comparable prices
    html = everyone.content.decode()
    assert "$50.00" in html and "No USD exchange rate yet" in html
    assert "those offers are listed after the others" in html

    filtered = client.get(URL, {"max_price": "1000"})
    assert set(names(filtered)) == {"Emil", "Gina"}
    assert "Prices in USD have no exchange rate yet, so offers in USD are left out" in filtered.content.decode()
    assert "no exchange rate yet" not in client.get(URL).content.decode()  # nothing compared: nothing to say


@pytest.mark.django_db
def test_rating_sort_weighs_the_number_of_reviews(client):
    coach("Once Perfect", 5000, "GBP", rating_avg=Decimal("5.00"), ratings_count=1)
    coach("Many Good", 5000, "GBP", rating_avg=Decimal("4.60"), ratings_count=40)
    coach("New Coach", 5000, "GBP")
    coach("Many Poor", 5000, "GBP", rating_avg=Decimal("2.50"), ratings_count=30)

    assert names(client.get(URL)) == ["Many", "Once", "New", "Many"]
    assert [c.user.last_name for c in CoachProfile.objects.order_by("-rating_score")] == [
        "Good",
        "Perfect",
        "Coach",
        "Poor",
    ]


@pytest.mark.django_db
def test_a_new_review_updates_the_score(review_for, coach_user):
    profile = services.get_or_create_profile(coach_user)
    CoachServiceFactory(coach=profile, price_minor=5000)
    review_for(coach_user, rating=5)
    profile.refresh_from_db()
    assert profile.ratings_count == 1
    assert profile.rating_score == pricing.rating_score(Decimal(5), 1) == Decimal("3.7500")


@pytest.mark.django_db
def test_the_language_filter_lists_only_languages_a_listed_coach_offers(client):
    coach("Fran Cais", 5000, "GBP", languages=["fr"])
    hidden = coach("Ger Man", 5000, "GBP", languages=["de"])
    hidden.user.is_active = False
    hidden.user.save()

    html = client.get(URL).content.decode()
    assert '<option value="fr">French</option>' in html
    assert '<option value="de">' not in html
    assert '<option value="es">' not in html
    shared = client.get(URL, {"language": "de"}).content.decode()  # a shared link's choice still shows
    assert '<option value="de" selected>German</option>' in shared


@pytest.mark.django_db
def test_converted_pages_cost_no_more_queries(client, mixed, django_assert_max_num_queries):
    for i in range(30):
        coach(f"More C{i}", 4000 + i, ["GBP", "EUR", "USD"][i % 3])
    client.get(URL, {"currency": "EUR"})  # warm the languages and the directory facts like a running site

    with django_assert_max_num_queries(5):  # ids, then for the cards: coaches, services, languages (+ slack)
        response = client.get(URL, {"currency": "EUR", "max_price": "60", "sort": "price"})
    assert len(response.context["cards"]) == 12


# --- the API follows the same rules ---------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_filters_and_converts_like_the_page(mixed):
    response = client_for().get(f"{API}coaches", {"currency": "EUR", "max_price": "76", "sort": "price"})
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert [row["id"] for row in rows] == [mixed["Dora"].pk, mixed["Emil"].pk]
    assert rows[0]["price_from"] == {"own": "$50.00", "converted": "€46.06", "unrated": ""}
    assert rows[1]["price_from"] == {"own": "€75.00", "converted": "", "unrated": ""}


@pytest.mark.django_db
def test_the_api_refuses_a_currency_without_a_rate(db):
    response = client_for().get(f"{API}coaches", {"currency": "EUR"})
    assert response.status_code == 400
    assert "EUR has no exchange rate yet" in response.json()["fields"]["currency"][0]
