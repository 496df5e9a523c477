"""GET coaches on the API reuses a page for an identical query, and coach changes show at once."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coaches import services
from coaches.tests.factories import CoachProfileFactory, CoachServiceFactory
from core.tests.api import API, client_for

pytestmark = pytest.mark.django_db
COACHES = f"{API}coaches"


@pytest.fixture(autouse=True)
def _cache_on(settings):
    settings.COACH_DIRECTORY_CACHE_SECONDS = 60


def get(params=None, client=None):
    with CaptureQueriesContext(connection) as queries:
        response = (client or client_for()).get(COACHES, params or {})
    return response, len(queries)


def test_an_identical_query_is_answered_from_the_cache(coach_user):
    CoachProfileFactory(headline="Cached coach", services=["cv"])

    first, first_queries = get({"service": "cv", "sort": "newest"})
    second, second_queries = get({"service": "cv", "sort": "newest"})
    signed_in, signed_in_queries = get({"service": "cv", "sort": "newest"}, client=client_for(coach_user))

    assert first.status_code == second.status_code == signed_in.status_code == 200
    assert first_queries >= 3
    assert second_queries == 0
    assert signed_in_queries <= 1  # the token's user; the body never depends on who asks
    assert second.json() == first.json() == signed_in.json()
    assert second.json()["results"][0]["headline"] == "Cached coach"


def test_profile_and_price_changes_show_at_once(django_capture_on_commit_callbacks):
    profile = CoachProfileFactory(headline="Old headline", services=[])
    service = CoachServiceFactory(coach=profile, service_type="cv", price_minor=5000)
    get()

    with django_capture_on_commit_callbacks(execute=True):
        services.update_profile(profile, actor=profile.user, changes={"headline": "Fresh headline"})
    response, queries = get()
    assert queries > 0
    assert response.json()["results"][0]["headline"] == "Fresh headline"

    with django_capture_on_commit_callbacks(execute=True):
        service.price_minor = 7000
        service.save()
    assert get()[0].json()["results"][0]["services"][0]["price_minor"] == 7000


def test_a_removed_rate_makes_its_cached_pages_a_400(staff_user, django_capture_on_commit_callbacks):
    CoachProfileFactory(services=["cv"])
    with django_capture_on_commit_callbacks(execute=True):
        rate = services.set_exchange_rate("EUR", actor=staff_user, units_per_base=Decimal("1.17"), as_of=date.today())
    assert get({"currency": "EUR"})[0].status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        services.remove_exchange_rate(rate, actor=staff_user)

    response, _ = get({"currency": "EUR"})
    assert response.status_code == 400
    assert "EUR has no exchange rate" in response.content.decode()
