"""The directory reuses rendered results for identical filters, and coach changes show at once."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AccountStatus
from coaches import services
from coaches.tests.factories import CoachProfileFactory

pytestmark = pytest.mark.django_db
URL = reverse("coaches:directory")


@pytest.fixture(autouse=True)
def _cache_on(settings):
    settings.COACH_DIRECTORY_CACHE_SECONDS = 60


def get(client, params=None):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, params or {})
    return response, len(queries)


def test_identical_filters_are_served_from_the_cache(client):
    CoachProfileFactory(headline="Cached coach")

    first, first_queries = get(client, {"service": "cv", "sort": "newest"})
    second, second_queries = get(client, {"sort": "newest", "service": "cv"})

    assert first_queries >= 3
    assert second_queries == 0
    assert "Cached coach" in second.content.decode()
    assert first.content == second.content


def test_notices_are_still_shown_on_a_cached_page(client):
    CoachProfileFactory()
    get(client, {"service": "cv"})

    response, queries = get(client, {"service": "cv", "min_price": "lots"})

    assert queries == 0
    assert "it is not a number" in response.content.decode()


def test_profile_edits_show_immediately(client, django_capture_on_commit_callbacks):
    profile = CoachProfileFactory(headline="Old headline")
    get(client)

    with django_capture_on_commit_callbacks(execute=True):
        services.update_profile(profile, actor=profile.user, changes={"headline": "Fresh headline"})
    response, queries = get(client)

    assert queries > 0
    assert "Fresh headline" in response.content.decode()


def test_new_coaches_and_suspensions_show_immediately(client, django_capture_on_commit_callbacks):
    first = CoachProfileFactory(headline="First coach")
    get(client)

    with django_capture_on_commit_callbacks(execute=True):
        CoachProfileFactory(headline="Second coach")
    assert "Second coach" in get(client)[0].content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        first.user.account_status = AccountStatus.SUSPENDED
        first.user.save()
    assert "First coach" not in get(client)[0].content.decode()


def test_verification_and_response_time_changes_show_immediately(
    client, staff_user, django_capture_on_commit_callbacks
):
    profile = CoachProfileFactory(headline="Newly verified coach")
    get(client, {"verified": "1"})

    with django_capture_on_commit_callbacks(execute=True):
        services.set_verified(profile, actor=staff_user, verified=True)

    response, _ = get(client, {"verified": "1"})
    assert "Newly verified coach" in response.content.decode()

    get(client, {"sort": "response_time"})
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.recompute_response_time(profile)
    assert callbacks
    _, queries = get(client, {"sort": "response_time"})
    assert queries > 0


def test_odd_page_values_do_not_get_a_page_entry_but_share_the_ids():
    from django.http import QueryDict

    from coaches.directory import ResultsCache, parse_filters

    filters = parse_filters(QueryDict(""))

    assert ResultsCache(filters, "x" * 20).key is None
    assert ResultsCache(filters, "12345").key is None
    assert ResultsCache(filters, "3").key is not None
    assert ResultsCache(filters, "x" * 20).ids_key == ResultsCache(filters, "3").ids_key


def test_cards_are_reused_across_result_pages(client):
    for i in range(3):
        CoachProfileFactory(headline=f"Card coach {i}")
    get(client)  # renders and caches the three cards

    resorted, resorted_queries = get(client, {"sort": "newest"})
    filtered, filtered_queries = get(client, {"available": "1"})

    assert resorted_queries == 1  # the matching ids in the new order; the cards are cached
    assert filtered_queries == 1
    for response in (resorted, filtered):
        assert all(f"Card coach {i}" in response.content.decode() for i in range(3))


def test_the_next_pages_of_a_search_run_no_query(client, monkeypatch):
    from coaches import directory

    monkeypatch.setattr(directory, "PAGE_SIZE", 2)
    monkeypatch.setattr("coaches.views.PAGE_SIZE", 2)
    for i in range(5):
        CoachProfileFactory(headline=f"Paged coach {i}")
    first, _ = get(client, {"service": "cv", "sort": "newest"})

    pages = [get(client, {"service": "cv", "sort": "newest", "page": str(n)}) for n in (2, 3)]

    assert [queries for _, queries in pages] == [
        3,
        3,
    ]  # no ids query: the new cards only (coaches, services, languages)
    assert "5 coaches" in first.content.decode()
    shown = [first.context["cards"]] + [response.context["cards"] for response, _ in pages]
    assert sorted(card["coach_id"] for cards in shown for card in cards) == sorted(
        CoachProfileFactory._meta.model.objects.values_list("pk", flat=True)
    )


def test_cached_ids_are_stale_once_a_coach_joins(client, django_capture_on_commit_callbacks):
    CoachProfileFactory()
    get(client, {"service": "cv"})

    with django_capture_on_commit_callbacks(execute=True):
        CoachProfileFactory()
    response, _ = get(client, {"service": "cv", "page": "1"})

    assert "2 coaches" in response.content.decode()


def test_a_changed_coach_card_is_rendered_again(client, django_capture_on_commit_callbacks):
    profile = CoachProfileFactory(headline="Before the edit")
    get(client)

    with django_capture_on_commit_callbacks(execute=True):
        services.update_profile(profile, actor=profile.user, changes={"headline": "After the edit"})
    response, _ = get(client, {"sort": "newest"})

    assert "After the edit" in response.content.decode()
    assert "Before the edit" not in response.content.decode()


def count_cache_calls(monkeypatch) -> list[str]:
    """The cache calls the code makes from now on, by name: each is one round trip to Redis (a backend's own
    calls inside one, such as LocMemCache's get_many calling get, are not counted)."""
    from django.core.cache import caches

    backend, calls, depth = caches["default"], [], [0]

    def counting(name, method):
        def counted(*args, **kwargs):
            if not depth[0]:
                calls.append(name)
            depth[0] += 1
            try:
                return method(*args, **kwargs)
            finally:
                depth[0] -= 1

        return counted

    for name in ("get", "get_many", "set", "set_many", "add", "incr", "delete", "delete_many", "touch", "has_key"):
        monkeypatch.setattr(backend, name, counting(name, getattr(backend, name)))
    return calls


def test_a_page_is_one_cache_round_trip_and_a_new_one_three(client, monkeypatch):
    CoachProfileFactory(headline="Round trip coach")
    get(client, {"service": "cv"})  # the facts and this coach's card with the CV price
    calls = count_cache_calls(monkeypatch)

    get(client)  # a new page: its card shows another price, so it is rendered too
    assert calls == ["get_many", "get_many", "set_many"]  # version + facts + page + ids; cards; all it made

    calls.clear()
    response, queries = get(client)
    assert calls == ["get_many"] and queries == 0
    assert "Round trip coach" in response.content.decode()


def test_a_new_page_of_cards_this_process_has_is_two_cache_round_trips(client, monkeypatch):
    CoachProfileFactory(headline="Remembered coach")
    get(client, {"service": "cv"})  # renders the card with the CV price; this process keeps a copy
    calls = count_cache_calls(monkeypatch)

    response, queries = get(client, {"service": "cv", "sort": "newest"})  # a new page, the same card

    assert calls == ["get_many", "set_many"]  # version + facts + page + ids; the page and its ids
    assert queries == 1  # the ids
    assert "Remembered coach" in response.content.decode()


def test_a_card_copy_is_believed_only_while_its_shared_entry_would_be(client, monkeypatch):
    from coaches import directory

    CoachProfileFactory(headline="Ageing coach")
    get(client, {"service": "cv"})
    later = directory.time.time() + 61  # the entries' 60 s are over, here and in the shared cache
    monkeypatch.setattr(directory.time, "time", lambda: later)

    response, queries = get(client, {"service": "cv", "sort": "newest"})

    assert queries == 1 + 3  # the ids; the card again: its coach, services and languages
    assert "Ageing coach" in response.content.decode()


def test_a_currency_given_or_taken_a_rate_applies_at_once(client, staff_user, django_capture_on_commit_callbacks):
    """The filters are read with the facts this process saw last, before the fresh ones arrive: a rate set or
    removed since must still decide whether `currency` is accepted (and which cached page is shown)."""
    from datetime import date
    from decimal import Decimal

    from coaches.models import ExchangeRate

    CoachProfileFactory(headline="Priced coach")
    refused, _ = get(client, {"currency": "EUR"})
    assert "We ignored the currency “EUR”" in refused.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        services.set_exchange_rate("EUR", actor=staff_user, units_per_base=Decimal("1.17"), as_of=date(2026, 11, 30))
    accepted, _ = get(client, {"currency": "EUR"})
    assert "We ignored the currency" not in accepted.content.decode()
    assert "€140.40" in accepted.content.decode()  # the factory's £120.00 at 1.17

    with django_capture_on_commit_callbacks(execute=True):
        services.remove_exchange_rate(ExchangeRate.objects.get(), actor=staff_user)
    refused_again, _ = get(client, {"currency": "EUR"})
    assert "We ignored the currency “EUR”" in refused_again.content.decode()
    assert "€140.40" not in refused_again.content.decode()
