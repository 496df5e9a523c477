from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AccountStatus
from coaches.models import CoachProfile, CoachService, Language, ServiceType
from coaches.tests.factories import CoachProfileFactory, CoachServiceFactory

pytestmark = pytest.mark.django_db
URL = reverse("coaches:directory")


def names(response):
    ids = [card["coach_id"] for card in response.context["cards"]]
    by_id = {profile.pk: profile.user.display_name for profile in CoachProfile.objects.select_related("user")}
    return [by_id[pk] for pk in ids]


def coach(name, *, services=(ServiceType.CV,), price=12000, languages=(), **fields):
    first, last = name.split()
    profile = CoachProfileFactory(user__first_name=first, user__last_name=last, services=[], **fields)
    for service_type in services:
        CoachServiceFactory(coach=profile, service_type=service_type, price_minor=price)
    profile.languages.set(Language.objects.filter(code__in=languages))
    return profile


def test_lists_only_active_coaches_offering_a_service(client):
    coach("Ann Listed")
    coach("Ben Noservice", services=())
    paused = coach("Cat Paused")
    for service in CoachService.objects.filter(coach=paused):
        service.is_active = False
        service.save()
    suspended = coach("Dan Suspended")
    suspended.user.account_status = AccountStatus.SUSPENDED
    suspended.user.save()
    deactivated = coach("Eve Gone")
    deactivated.user.is_active = False
    deactivated.user.save()

    response = client.get(URL)

    assert response.status_code == 200
    assert names(response) == ["Ann Listed"]
    assert CoachProfile.objects.listed().count() == 1


def test_a_coach_offering_several_services_appears_once(client):
    coach("Ann Many", services=[ServiceType.CV, ServiceType.LINKEDIN, ServiceType.BUNDLE])

    response = client.get(URL)

    assert names(response) == ["Ann Many"]
    assert response.context["page"].paginator.count == 1


def test_service_and_price_filters_apply_to_the_chosen_service(client):
    coach("Ann Cheapcv", services=[ServiceType.CV], price=5000)
    coach("Ben Dearcv", services=[ServiceType.CV], price=20000)
    cheap_linkedin = coach("Cat Linkedin", services=[ServiceType.LINKEDIN], price=3000)
    CoachServiceFactory(coach=cheap_linkedin, service_type=ServiceType.CV, price_minor=30000)

    response = client.get(URL, {"service": "cv", "max_price": "60"})
    assert names(response) == ["Ann Cheapcv"]

    response = client.get(URL, {"service": "cv", "min_price": "100.50"})
    assert sorted(names(response)) == ["Ben Dearcv", "Cat Linkedin"]

    response = client.get(URL, {"service": "linkedin"})
    assert names(response) == ["Cat Linkedin"]


def test_price_filter_without_service_matches_any_service(client):
    coach("Ann Cheap", price=4000)
    coach("Ben Dear", price=40000)

    response = client.get(URL, {"max_price": "50"})

    assert names(response) == ["Ann Cheap"]


def test_rating_language_availability_and_verified_filters(client):
    coach("Ann Top", rating_avg=Decimal("4.8"), ratings_count=10, languages=["en", "fr"], is_verified=True)
    coach("Ben Mid", rating_avg=Decimal("3.9"), ratings_count=4, languages=["en"])
    coach("Cat Busy", rating_avg=Decimal("4.9"), ratings_count=3, languages=["fr"], is_available=False)

    assert sorted(names(client.get(URL, {"min_rating": "4"}))) == ["Ann Top", "Cat Busy"]
    assert sorted(names(client.get(URL, {"language": "fr"}))) == ["Ann Top", "Cat Busy"]
    assert names(client.get(URL, {"language": "fr", "available": "1"})) == ["Ann Top"]
    assert names(client.get(URL, {"verified": "1"})) == ["Ann Top"]


def test_free_text_searches_name_headline_and_bio(client):
    coach("Ann Smith", headline="Tech CVs", bio="I worked in banking.")
    coach("Ben Jones", headline="Nursing and healthcare", bio="Former ward manager.")

    assert names(client.get(URL, {"q": "smith"})) == ["Ann Smith"]
    assert names(client.get(URL, {"q": "NURSING"})) == ["Ben Jones"]
    assert names(client.get(URL, {"q": "banking"})) == ["Ann Smith"]
    assert names(client.get(URL, {"q": "ann banking"})) == ["Ann Smith"]
    assert names(client.get(URL, {"q": "ann nursing"})) == []


def test_sorts(client):
    coach("Ann First", rating_avg=Decimal("4.2"), ratings_count=2, price=9000, response_time_hours=30)
    coach("Ben Second", rating_avg=Decimal("4.9"), ratings_count=9, price=15000, response_time_hours=2)
    coach("Cat Third", rating_avg=Decimal("3.1"), ratings_count=1, price=5000)

    assert names(client.get(URL)) == ["Ben Second", "Ann First", "Cat Third"]
    assert names(client.get(URL, {"sort": "price"})) == ["Cat Third", "Ann First", "Ben Second"]
    assert names(client.get(URL, {"sort": "response_time"})) == ["Ben Second", "Ann First", "Cat Third"]
    assert names(client.get(URL, {"sort": "newest"})) == ["Cat Third", "Ben Second", "Ann First"]


def test_price_sort_uses_the_chosen_service(client):
    a = coach("Ann Bundle", services=[ServiceType.CV], price=2000)
    CoachServiceFactory(coach=a, service_type=ServiceType.BUNDLE, price_minor=50000)
    b = coach("Ben Bundle", services=[ServiceType.CV], price=9000)
    CoachServiceFactory(coach=b, service_type=ServiceType.BUNDLE, price_minor=30000)

    response = client.get(URL, {"service": "bundle", "sort": "price"})

    assert names(response) == ["Ben Bundle", "Ann Bundle"]
    assert "£300.00" in response.content.decode()


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"min_price": "cheap"}, "minimum price"),
        ({"max_price": "1e999"}, "maximum price"),
        ({"max_price": "NaN"}, "maximum price"),
        ({"min_rating": "9"}, "minimum rating"),
        ({"service": "tarot"}, "service"),
        ({"language": "klingon"}, "language"),
        ({"sort": "random"}, "sort order"),
        ({"available": "maybe"}, "taking new work"),
        ({"verified": "<script>"}, "verified only"),
    ],
)
def test_bad_filter_values_are_ignored_with_a_notice(client, params, fragment):
    coach("Ann Still")

    response = client.get(URL, {**params, "page": "x"})

    assert response.status_code == 200
    assert names(response) == ["Ann Still"]
    notices = response.context["filters"].notices
    assert len(notices) == 1 and fragment in notices[0]
    body = response.content.decode()
    assert "Some filters could not be used" in body
    assert "<script>" not in body.split("<main")[1]


def test_min_above_max_is_swapped(client):
    coach("Ann Mid", price=7000)

    response = client.get(URL, {"min_price": "100", "max_price": "50"})

    assert names(response) == ["Ann Mid"]
    assert "swapped" in response.context["filters"].notices[0]


def test_empty_result_explains_and_offers_to_clear(client):
    coach("Ann Only", languages=["en"])

    response = client.get(URL, {"language": "ja", "service": "cv"})

    body = response.content.decode()
    assert names(response) == []
    assert "No coach matches all of these filters" in body
    assert "Clear all filters" in body
    assert "Remove “Writes in Japanese”" in body
    assert 'href="?service=cv"' in body


def test_pagination_keeps_the_filters(client):
    for i in range(14):
        coach(f"Coach N{chr(97 + i)}", languages=["de"])
    coach("Other Lang", languages=["fr"])

    first = client.get(URL, {"language": "de", "sort": "newest"})
    assert len(first.context["cards"]) == 12
    assert first.context["page"].paginator.count == 14
    body = first.content.decode()
    assert 'href="?language=de&amp;sort=newest&amp;page=2"' in body

    second = client.get(URL, {"language": "de", "sort": "newest", "page": "2"})
    assert len(second.context["cards"]) == 2


def test_cards_show_price_from_rating_and_badges(client):
    profile = coach("Ann Card", price=8000, rating_avg=Decimal("4.5"), ratings_count=12, is_verified=True)
    CoachServiceFactory(coach=profile, service_type=ServiceType.BUNDLE, price_minor=25000)

    body = client.get(URL).content.decode()

    assert "£80.00" in body
    assert "Verified" in body
    assert "(12 reviews)" in body
    assert "Rated 4.5 out of 5" in body
    assert f'href="/coaches/{profile.pk}/"' in body


@pytest.mark.parametrize("count", [5, 40])
def test_query_count_does_not_grow_with_coaches(client, django_assert_max_num_queries, count):
    for i in range(count):
        coach(f"Coach Q{i}", languages=["en", "fr"], services=[ServiceType.CV, ServiceType.LINKEDIN])
    client.get(URL)  # warm the language cache like a running site

    # count, page of ids, then for cards not yet rendered: their coaches, services, languages
    with django_assert_max_num_queries(5):
        response = client.get(URL, {"service": "cv", "max_price": "500", "language": "en", "q": "coach"})
    assert len(response.context["cards"]) == min(count, 12)


def test_counts_are_capped_for_broad_searches(client, monkeypatch):
    from coaches import directory

    monkeypatch.setattr(directory, "COUNT_CAP", 13)
    for i in range(15):
        coach(f"Cap C{chr(97 + i)}")

    first = client.get(URL)
    body = first.content.decode()
    assert "13+ coaches" in body
    assert "Page 1 of 2+" in body

    last = client.get(URL, {"page": "2"})
    assert len(last.context["cards"]) == 1
    assert "We show the first 13 matches" in last.content.decode()


def test_search_text_follows_renames(client):
    profile = coach("Ann Before", headline="CVs", bio="")  # Faker's bio could say "before" itself

    profile.user.last_name = "Afterwards"
    profile.user.save()

    assert names(client.get(URL, {"q": "afterwards"})) == ["Ann Afterwards"]
    assert names(client.get(URL, {"q": "before"})) == []


def test_the_filter_form_shows_the_chosen_values(client):
    coach("Sel Ected", languages=["fr"])

    body = client.get(
        URL, {"service": "cv", "language": "fr", "min_rating": "4.5", "sort": "newest", "max_price": "90.5"}
    ).content.decode()

    assert '<option value="cv" selected>CV writing</option>' in body
    assert '<option value="fr" selected>French</option>' in body
    assert '<option value="4.5" selected>4.5 and up</option>' in body
    assert '<option value="newest" selected>Newest</option>' in body
    assert '<option value="rating">Highest rated</option>' in body
    assert 'name="max_price" min="0" step="any" inputmode="decimal" value="90.50"' in body
    assert '<option value="GBP" selected>GBP £</option>' in body  # the currency picker, base by default
    assert body.count(" selected>") == 5


def test_filter_options_are_escaped():
    from coaches.templatetags.coach_tags import select_options

    html = select_options([("a&b", "<script>x</script>"), ("c", "C")], "a&b")

    assert (
        html == '<option value="a&amp;b" selected>&lt;script&gt;x&lt;/script&gt;</option><option value="c">C</option>'
    )


def test_filter_options_are_joined_once_per_choices_and_selection(monkeypatch):
    from django.utils import translation

    from coaches.templatetags import coach_tags

    escaped = []
    monkeypatch.setattr(coach_tags, "_OPTIONS_MEMO", {})
    monkeypatch.setattr(coach_tags, "escape", lambda text: escaped.append(text) or text)
    choices = [("x1", "One"), ("x2", "Two")]

    first = coach_tags.select_options(choices, "x1")
    assert coach_tags.select_options(list(choices), "x1") == first and len(escaped) == 4  # the second: memoised
    assert coach_tags.select_options(choices, "x2") != first and len(escaped) == 8
    with translation.override("en"):
        labels = [(value, translation.gettext_lazy(label)) for value, label in choices]
        assert coach_tags.select_options(labels, "x1") == first  # a lazy label keys as its text


def test_a_new_language_is_filterable_at_once(client, django_capture_on_commit_callbacks):
    client.get(URL)  # caches the language list
    with django_capture_on_commit_callbacks(execute=True):
        Language.objects.create(code="xx", name="Klingon")
    coach("Kah Less", languages=["xx"])
    coach("Other Coach", languages=["en"])

    response = client.get(URL, {"language": "xx"})

    assert names(response) == ["Kah Less"]
    assert not response.context["filters"].notices


def test_the_weighted_rating_sort_says_how_it_ranks(client):
    hint = "Rating weighted by the number of reviews"
    assert hint in client.get("/coaches/").content.decode()
    assert hint not in client.get("/coaches/?sort=price").content.decode()
