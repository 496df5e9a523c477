"""coaches on the API: the directory's filters and sorts with cursors, a coach's page, my profile."""

import pytest

from coaches.models import CoachProfile, Language
from coaches.tests.factories import CoachProfileFactory, CoachServiceFactory
from core.tests.api import API, assert_problem, client_for

pytestmark = pytest.mark.django_db

COACHES = f"{API}coaches"
MINE = f"{API}coaches/me/profile"


@pytest.fixture
def three_coaches():
    cheap = CoachProfileFactory(rating_avg="4.90", ratings_count=10, services=[])
    CoachServiceFactory(coach=cheap, service_type="cv", price_minor=5000)
    dear = CoachProfileFactory(rating_avg="4.10", ratings_count=3, is_available=False, services=[])
    CoachServiceFactory(coach=dear, service_type="cv", price_minor=30000)
    letters = CoachProfileFactory(services=["cover_letter"], rating_avg="4.50", ratings_count=5)
    return cheap, dear, letters


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_anyone_may_browse_best_rated_first(three_coaches):
    cheap, dear, letters = three_coaches
    assert ids(client_for().get(COACHES)) == [cheap.pk, letters.pk, dear.pk]


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"service": "cover_letter"}, ["letters"]),
        ({"service": "cv", "max_price": "100"}, ["cheap"]),
        ({"min_price": "200"}, ["dear"]),
        ({"min_rating": "4.5"}, ["cheap", "letters"]),
        ({"available": "true"}, ["cheap", "letters"]),
        ({"sort": "price", "service": "cv"}, ["cheap", "dear"]),
        ({"currency": "GBP", "max_price": "100"}, ["cheap"]),
    ],
)
def test_filters_and_sorts_are_the_directory_ones(three_coaches, params, expected):
    names = dict(zip(["cheap", "dear", "letters"], three_coaches, strict=True))
    assert ids(client_for().get(COACHES, params)) == [names[n].pk for n in expected]


def test_language_filter(three_coaches):
    french = Language.objects.get_or_create(code="fr", defaults={"name": "French"})[0]
    three_coaches[1].languages.add(french)
    assert ids(client_for().get(COACHES, {"language": "fr"})) == [three_coaches[1].pk]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"service": "poetry"}, "service"),
        ({"min_price": "cheap"}, "min_price"),
        ({"sort": "x"}, "sort"),
        ({"colour": "red"}, "colour"),
        ({"min_rating": "9"}, "min_rating"),
    ],
)
def test_bad_filters_are_400_naming_the_field(params, field):
    assert field in assert_problem(client_for().get(COACHES, params), 400)["fields"]


def test_cursor_pages_walk_every_coach_once_in_order(db):
    made = [CoachProfileFactory(rating_avg="4.00", ratings_count=1) for _ in range(5)]
    seen, url = [], f"{COACHES}?page_size=2"
    while url:
        body = client_for().get(url).json()
        assert len(body["results"]) <= 2
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == sorted(p.pk for p in made)


def test_page_size_is_capped():
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from core.api import Cursor

    request = Request(APIRequestFactory().get(COACHES, {"page_size": "100000"}))
    assert Cursor().get_page_size(request) == Cursor.max_page_size == 100


def test_list_query_count_does_not_grow_with_coaches(django_assert_max_num_queries):
    for _ in range(12):
        CoachProfileFactory(services=["cv", "linkedin"])
    with django_assert_max_num_queries(6):
        assert len(ids(client_for().get(COACHES))) == 12


def test_a_coach_page_and_an_unlisted_one(three_coaches):
    shown = client_for().get(f"{COACHES}/{three_coaches[0].pk}")
    assert shown.status_code == 200 and shown.json()["services"][0]["price"] == "50.00"
    hidden = CoachProfileFactory(services=[])
    assert_problem(client_for().get(f"{COACHES}/{hidden.pk}"), 404, "not_found")


def test_my_profile_is_for_coaches_only(client_user, staff_user):
    assert_problem(client_for(client_user).get(MINE), 403)
    assert_problem(client_for(staff_user).patch(MINE, {"headline": "x"}, format="json"), 403)
    assert_problem(client_for().get(MINE), 401)


def test_coach_changes_profile_and_services(coach_user):
    Language.objects.get_or_create(code="de", defaults={"name": "German"})
    api = client_for(coach_user)
    body = {
        "headline": "Former recruiter",
        "languages": ["de"],
        "portfolio_links": ["https://example.com/me"],
        "services": [
            {
                "service_type": "linkedin",
                "price": "80.00",
                "currency": "GBP",
                "delivery_days": 3,
                "revisions_included": 1,
            }
        ],
    }
    response = api.patch(MINE, body, format="json")
    assert response.status_code == 200, response.content
    profile = CoachProfile.objects.get(user=coach_user)
    assert profile.headline == "Former recruiter"
    assert list(profile.languages.values_list("code", flat=True)) == ["de"]
    assert [(s.service_type, s.price_minor) for s in profile.services.all()] == [("linkedin", 8000)]
    assert response.json()["services"][0]["price"] == "80.00"


def test_profile_input_is_checked_like_the_form(coach_user):
    api = client_for(coach_user)
    assert (
        "portfolio_links"
        in assert_problem(api.patch(MINE, {"portfolio_links": ["ftp://x"]}, format="json"), 400)["fields"]
    )
    assert "languages" in assert_problem(api.patch(MINE, {"languages": ["xx"]}, format="json"), 400)["fields"]
    low = {"service_type": "cv", "price": "1.00", "currency": "GBP", "delivery_days": 3, "revisions_included": 1}
    assert "services[0].price" in assert_problem(api.patch(MINE, {"services": [low]}, format="json"), 400)["fields"]
    twice = {**low, "price": "50.00"}
    assert_problem(api.patch(MINE, {"services": [twice, twice]}, format="json"), 400)
    assert set(assert_problem(api.patch(MINE, {"is_verified": True}, format="json"), 400)["fields"]) == {"is_verified"}
    services = CoachProfile.objects.get(user=coach_user).services.all()
    assert [(s.service_type, s.price_minor) for s in services] == [("cv", 12000)]  # nothing changed
