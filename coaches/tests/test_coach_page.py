import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import dateformat, timezone

from accounts.models import AccountStatus
from coaches.models import CoachService, Language, ServiceType
from coaches.tests.factories import CoachProfileFactory, CoachServiceFactory
from orders import services as orders
from orders.models import Review

pytestmark = pytest.mark.django_db


def url(profile):
    return reverse("coaches:detail", args=[profile.pk])


def test_shows_profile_services_and_request_buttons(client):
    profile = CoachProfileFactory(
        headline="Former recruiter", is_verified=True, years_experience=12, services=[ServiceType.CV]
    )
    CoachServiceFactory(
        coach=profile, service_type=ServiceType.BUNDLE, price_minor=29900, delivery_days=7, revisions_included=3
    )
    profile.languages.set(profile.languages.model.objects.filter(code__in=["en", "es"]))

    response = client.get(url(profile))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Former recruiter" in body
    assert "Verified" in body
    assert "12 years of experience" in body
    assert "English, Spanish" in body
    assert "£299.00" in body and "7-day delivery" in body and "3 revisions" in body
    assert f"/requests/new/?coach={profile.pk}&amp;service=bundle" in body
    assert f"/requests/new/?coach={profile.pk}&amp;service=cv" in body


def test_paused_service_is_not_offered(client):
    profile = CoachProfileFactory(services=[ServiceType.CV, ServiceType.LINKEDIN])
    CoachService.objects.filter(coach=profile, service_type=ServiceType.LINKEDIN).update(is_active=False)

    body = client.get(url(profile)).content.decode()

    assert f"coach={profile.pk}&amp;service=cv" in body
    assert f"coach={profile.pk}&amp;service=linkedin" not in body


def test_unknown_or_unlisted_coach_is_404(client):
    no_services = CoachProfileFactory(services=[])
    suspended = CoachProfileFactory()
    suspended.user.account_status = AccountStatus.SUSPENDED
    suspended.user.save()

    assert client.get(reverse("coaches:detail", args=[999999])).status_code == 404
    assert client.get(url(no_services)).status_code == 404
    assert client.get(url(suspended)).status_code == 404


def test_coach_can_preview_their_own_unlisted_page(client):
    profile = CoachProfileFactory(services=[])
    client.force_login(profile.user)

    response = client.get(url(profile))

    assert response.status_code == 200
    assert "not listed in the directory yet" in response.content.decode()


def test_other_coaches_do_not_get_a_request_button(client, coach_user):
    profile = CoachProfileFactory()
    client.force_login(coach_user)

    body = client.get(url(profile)).content.decode()

    assert "/requests/new/" not in body


def test_rating_distribution_and_reviews_with_replies(client, review_for):
    profile = CoachProfileFactory()
    coach = profile.user
    review_for(coach, rating=5, comment="Brilliant CV, got the job.", reply="Thank you, congratulations!")
    review_for(coach, rating=5)
    review_for(coach, rating=4, comment="Good work.")
    hidden = review_for(coach, rating=1, comment="Spam text")
    from accounts.tests.factories import StaffFactory

    orders.hide_review(hidden.pk, actor=StaffFactory(), hidden=True)

    response = client.get(url(profile))

    body = response.content.decode()
    distribution = {row["stars"]: row["count"] for row in response.context["distribution"]}
    assert distribution == {5: 2, 4: 1, 3: 0, 2: 0, 1: 0}
    assert response.context["review_total"] == 3
    assert "Brilliant CV, got the job." in body
    assert "Thank you, congratulations!" in body
    assert "Spam text" not in body
    assert "pct-67" in body and "pct-33" in body


def test_reviews_paginate_with_constant_queries(client, review_for, django_assert_num_queries):
    profile = CoachProfileFactory(services=[ServiceType.CV, ServiceType.LINKEDIN])
    profile.languages.set(profile.languages.model.objects.filter(code__in=["en", "fr"]))
    for i in range(7):
        review_for(profile.user, rating=4 + i % 2, comment=f"Review number {i}")

    # the profile with its review counts, services, languages and first page of reviews with their clients
    with django_assert_num_queries(1):
        first = client.get(url(profile))
    with django_assert_num_queries(2):  # and a later page of reviews
        second = client.get(url(profile), {"page": 2})

    assert len(first.context["page"].object_list) == 5
    assert len(second.context["page"].object_list) == 2
    assert "Review number 0" in second.content.decode()
    assert client.get(url(profile), {"page": "abc"}).status_code == 200


def test_a_coach_page_not_seen_before_compiles_no_query(client, review_for, compilations):
    """Each of the page's queries is compiled once per process (core.sqlmemo); another coach's page, with
    its reviews, photo-less avatar and languages, only runs them with that coach's id."""
    seen, other = CoachProfileFactory(), CoachProfileFactory(user__first_name="Otto", headline="Other coach")
    other.languages.set(Language.objects.filter(code__in=["fr", "en"]))
    for coach in (seen, other):
        review_for(coach.user, rating=4, comment=f"Fine work for {coach.pk}")
    client.get(reverse("coaches:detail", args=[seen.pk]))
    compiled = compilations
    compiled.clear()  # what the first visit compiled
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("coaches:detail", args=[other.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Other coach" in page and f"Fine work for {other.pk}" in page and "Writes in English, French" in page
    assert len(queries) == 1  # the profile with its counts, services, languages and first page of reviews
    assert compiled == []


def test_languages_are_listed_by_name_whatever_order_they_were_added_in(client):
    """The language names come in the profile's statement (an aggregate), in the order ORDER BY name gives:
    added last, created last, "Aa…" still comes first; a coach without languages or services shows neither."""
    late, early = (
        Language.objects.create(code="zz", name="Zz Last"),
        Language.objects.create(code="aa", name="Aa First"),
    )
    profile = CoachProfileFactory(services=[ServiceType.CV])
    profile.languages.add(late)
    profile.languages.add(Language.objects.get(code="en"))
    profile.languages.add(early)
    bare = CoachProfileFactory(services=[ServiceType.LINKEDIN])
    CoachService.objects.filter(coach=bare).update(is_active=False)

    with CaptureQueriesContext(connection) as queries:
        body = client.get(url(profile)).content.decode()
    statements = len(queries)  # before the next request, which empties the query log
    bare_body = client.get(url(bare)).content.decode()

    assert "Writes in Aa First, English, Zz Last" in body
    assert statements == 1  # no reviews: the profile's statement alone
    assert "Writes in" not in bare_body and "/requests/new/" not in bare_body


def test_the_first_page_of_reviews_shows_what_the_orm_reads(client, review_for, django_assert_num_queries):
    """The first page of reviews comes in the profile's statement as JSON, its dates as text: they must read
    back as the ORM reads them (microseconds, time zone), newest first, ties by id, hidden ones left out."""
    profile = CoachProfileFactory()
    made = [review_for(profile.user, rating=4, comment=f"Review number {i}") for i in range(7)]
    base = timezone.make_aware(datetime.datetime(2026, 3, 28, 23, 30), datetime.UTC)
    stamps = [  # out of id order; two the same (the later id comes first); whole seconds and microseconds
        base + datetime.timedelta(microseconds=1),
        base + datetime.timedelta(days=-3),
        base + datetime.timedelta(seconds=5, microseconds=999_999),
        base + datetime.timedelta(seconds=5, microseconds=999_999),
        base + datetime.timedelta(days=1),
        base + datetime.timedelta(hours=-1, microseconds=120_000),
        base + datetime.timedelta(days=2),
    ]
    for review, stamp in zip(made, stamps, strict=True):
        Review.objects.filter(pk=review.pk).update(created_at=stamp)
    Review.objects.filter(pk=made[6].pk).update(is_hidden=True)
    expected = list(Review.objects.filter(coach=profile, is_hidden=False).order_by("-created_at", "-id")[:5])

    with timezone.override("Pacific/Chatham"), django_assert_num_queries(1):  # UTC+13:45: the date moves on
        response = client.get(url(profile))

    shown = response.context["page"].object_list
    assert [review.pk for review in shown] == [review.pk for review in expected]
    assert [review.created_at for review in shown] == [review.created_at for review in expected]
    assert all(review.created_at.utcoffset() == datetime.timedelta(0) for review in shown)
    body = response.content.decode()
    with timezone.override("Pacific/Chatham"):
        for review in expected:
            local = timezone.localtime(review.created_at)
            assert f'datetime="{local.isoformat()}">{dateformat.format(local, "j M Y")}</time>' in body
    assert 'datetime="2026-03-29T13:15:00.000001+13:45">29 Mar 2026</time>' in body


def test_stars_are_built_once_per_rating_text(monkeypatch):
    """A coach page shows stars per review: the markup for a rating's text is built once per process."""
    from decimal import Decimal

    from coaches.templatetags import coach_tags

    built = []
    monkeypatch.setattr(coach_tags, "_STARS_MEMO", {})
    format_html = coach_tags.format_html
    monkeypatch.setattr(coach_tags, "format_html", lambda *args: built.append(args) or format_html(*args))

    four_and_a_half = coach_tags.stars(Decimal("4.25"))
    assert coach_tags.stars(Decimal("4.25")) == four_and_a_half and len(built) == 1
    assert four_and_a_half.count("bi-star-fill") == 4 and "bi-star-half" in four_and_a_half
    assert "Rated 4.2 out of 5" in four_and_a_half  # the text as before: the rating to one place
    assert coach_tags.stars(5) != four_and_a_half and len(built) == 2
    assert coach_tags.stars(None) == coach_tags.stars(0) and len(built) == 3
    assert hasattr(coach_tags.stars(5), "__html__")  # still safe markup
