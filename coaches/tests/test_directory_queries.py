"""The directory's ids query is compiled once per filter shape (core.sqlmemo) and finds what search() finds."""

from decimal import Decimal

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from coaches import directory
from coaches.models import CoachService, ExchangeRate, Language, ServiceType
from coaches.tests.factories import CoachProfileFactory, CoachServiceFactory
from core import sqlmemo

pytestmark = pytest.mark.django_db
URL = reverse("coaches:directory")

QUERIES = [
    "",
    "sort=price",
    "sort=newest&available=1",
    "sort=response_time&verified=1",
    "service=cv&sort=price&max_price=150",
    "service=cv&min_price=90&max_price=150",
    "service=linkedin&min_price=100",
    "min_price=100",
    "min_price=90&max_price=130&sort=price",
    "max_price=100.5&currency=EUR&sort=price",
    "min_rating=4.5",
    "min_rating=3&language=fr&sort=price",
    "language=en&service=cv&sort=price&max_price=200",
    "q=Tech",
    "q=tech+lead&available=1",
    "q=100%25",
    "q=a_b",
    "language=xx",
]


@pytest.fixture(autouse=True)
def _coaches():
    sqlmemo.forget()
    ExchangeRate.objects.create(currency="EUR", units_per_base=Decimal("1.17"), as_of="2026-11-01")
    english, french = Language.objects.get(code="en"), Language.objects.get(code="fr")
    rows = [
        ("Tech lead writer", 8000, Decimal("4.90"), True, True, [english]),
        ("Tech recruiter", 12000, Decimal("4.20"), False, True, [english, french]),
        ("Writes 100% of CVs", 15000, Decimal("3.10"), True, False, [french]),
        ("a_b tester", 9500, Decimal("0"), True, False, []),
        ("Axb copywriter", 20000, Decimal("4.55"), False, False, [english]),
    ]
    for index, (headline, price, rating, available, verified, languages) in enumerate(rows):
        profile = CoachProfileFactory(
            headline=headline,
            rating_avg=rating,
            ratings_count=index * 3,
            is_available=available,
            is_verified=verified,
            response_time_hours=index or None,
            services=[],
        )
        CoachServiceFactory(coach=profile, service_type=ServiceType.CV, price_minor=price)
        if index % 2:
            CoachServiceFactory(
                coach=profile, service_type=ServiceType.LINKEDIN, price_minor=price - 1000, currency="EUR"
            )
        profile.languages.set(languages)
    yield
    sqlmemo.forget()


@pytest.mark.parametrize("query", QUERIES)
def test_the_compiled_ids_query_finds_what_search_finds(query):
    facts = directory.directory_facts()
    filters = directory.parse_filters(QueryDict(query), facts=facts)
    expected = list(directory.search(filters, facts).values_list("pk", flat=True)[: directory.COUNT_CAP + 1])

    for _ in range(2):  # compiled, then reused
        assert directory.matching_ids(filters, facts) == expected


def test_a_never_seen_filter_set_of_a_seen_shape_compiles_no_query(client, settings, compilations):
    settings.COACH_DIRECTORY_CACHE_SECONDS = 60
    assert CoachService.objects.exists()
    client.get(URL, {"service": "cv", "language": "en", "sort": "price", "max_price": "150"})
    compiled = compilations
    compiled.clear()  # what the first visit compiled
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, {"service": "cv", "language": "en", "sort": "price", "max_price": "99.5"})

    assert response.status_code == 200
    assert [card["coach_id"] for card in response.context["cards"]] == directory.matching_ids(
        directory.parse_filters(QueryDict("service=cv&language=en&sort=price&max_price=99.5"))
    )
    assert len(queries) == 1  # the ids; every card was rendered by the first visit
    assert compiled == []
