"""A coach's public page is reused for every visitor until something on it changes, never for the owner."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AccountStatus
from accounts.services import suspend_user
from accounts.tests.factories import ClientFactory, CoachUserFactory, StaffFactory
from coaches import services
from coaches.tests.factories import CoachProfileFactory
from orders import services as orders

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cache_on(settings):
    settings.COACH_DIRECTORY_CACHE_SECONDS = 60


def get(client, profile, **params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("coaches:detail", args=[profile.pk]), params)
    return response, len(queries)


def test_a_second_visit_runs_no_query(client):
    profile = CoachProfileFactory(headline="Cached headline")

    first, first_queries = get(client, profile)
    second, second_queries = get(client, profile)

    assert first_queries == 1  # the profile with its review counts, its services and its languages
    assert second_queries == 0
    assert first.content == second.content
    assert "Cached headline" in second.content.decode()


def test_coaches_do_not_get_the_request_buttons_a_visitor_was_shown(client):
    profile = CoachProfileFactory()
    anonymous, _ = get(client, profile)

    client.force_login(CoachUserFactory())
    as_coach, _ = get(client, profile)

    assert "Request this coach" in anonymous.content.decode()
    assert "Request this coach" not in as_coach.content.decode()


def test_the_owner_sees_a_live_preview_not_the_cached_page(client, django_capture_on_commit_callbacks):
    profile = CoachProfileFactory(headline="Public headline")
    get(client, profile)  # cached for visitors

    client.force_login(profile.user)
    response, queries = get(client, profile)

    assert queries > 0
    assert "This is your public profile as clients see it." in response.content.decode()
    client.logout()
    assert "This is your public profile" not in get(client, profile)[0].content.decode()


def test_profile_edits_show_at_once(client, django_capture_on_commit_callbacks):
    profile = CoachProfileFactory(headline="Headline before the edit")
    get(client, profile)

    with django_capture_on_commit_callbacks(execute=True):
        services.update_profile(profile, actor=profile.user, changes={"headline": "Headline after the edit"})
    body = get(client, profile)[0].content.decode()

    # Distinct words: the factory's random bio once held "Before" and failed this test.
    assert "Headline after the edit" in body and "Headline before the edit" not in body


def test_new_reviews_and_replies_show_at_once(client, review_for, django_capture_on_commit_callbacks):
    profile = CoachProfileFactory()
    get(client, profile)

    with django_capture_on_commit_callbacks(execute=True):
        review = review_for(profile.user, rating=5, comment="Landed the job")
    assert "Landed the job" in get(client, profile)[0].content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        orders.reply_to_review(review.pk, actor=profile.user, reply="Congratulations!")
    assert "Congratulations!" in get(client, profile)[0].content.decode()


def test_a_suspended_coach_page_is_gone_at_once(client, django_capture_on_commit_callbacks):
    profile = CoachProfileFactory()
    assert get(client, profile)[0].status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        suspend_user(profile.user, actor=StaffFactory(), reason="Fraud")

    assert profile.user.__class__.objects.get(pk=profile.user_id).account_status == AccountStatus.SUSPENDED
    assert get(client, profile)[0].status_code == 404


def test_review_pages_are_cached_apart_and_odd_values_not_at_all(client, review_for):
    profile = CoachProfileFactory()
    for i in range(6):
        review_for(profile.user, rating=4, comment=f"Review number {i}", client=ClientFactory())

    first = get(client, profile)[0].content.decode()
    second = get(client, profile, page="2")[0].content.decode()
    _, odd_queries = get(client, profile, page="x" * 30)
    _, odd_again = get(client, profile, page="x" * 30)

    assert "Review number 5" in first and "Review number 5" not in second
    assert "Review number 0" in second
    assert odd_queries > 0 and odd_again > 0
