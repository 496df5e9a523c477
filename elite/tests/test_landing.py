"""The landing page's figures come from real offers and reviews, and cost a fixed number of queries."""

import pytest

from accounts.models import AccountStatus
from accounts.tests.factories import ClientFactory
from coaches.models import ServiceType
from coaches.tests.factories import CoachProfileFactory, CoachServiceFactory
from conftest import clear_cache
from orders import services as orders
from orders.tests.factories import make_order

pytestmark = pytest.mark.django_db


def coach_offering(**prices):
    profile = CoachProfileFactory(services=[])
    for service_type, (price, currency) in prices.items():
        CoachServiceFactory(coach=profile, service_type=service_type, price_minor=price, currency=currency)
    return profile


def test_price_ranges_come_from_listed_coaches_with_the_site_currency_first(client, settings):
    settings.DEFAULT_CURRENCY = "GBP"
    coach_offering(cv=(6500, "GBP"), cover_letter=(4000, "GBP"))
    coach_offering(cv=(23500, "GBP"))
    coach_offering(cv=(7000, "USD"))
    suspended = coach_offering(cv=(1000, "GBP"))
    suspended.user.account_status = AccountStatus.SUSPENDED
    suspended.user.save()

    response = client.get("/")

    plans = {plan["type"]: plan for plan in response.context["plans"]}
    assert plans[ServiceType.CV]["range"]["currency"] == "GBP"
    assert (plans[ServiceType.CV]["range"]["low"], plans[ServiceType.CV]["range"]["high"]) == (6500, 23500)
    assert plans[ServiceType.CV]["range"]["coaches"] == 2
    assert [o["currency"] for o in plans[ServiceType.CV]["others"]] == ["USD"]
    assert plans[ServiceType.LINKEDIN]["range"] is None
    html = response.content.decode()
    assert "£65.00" in html
    assert "up to £235.00" in html
    assert "£10.00" not in html  # a suspended coach's offer is not advertised
    assert "No coach offers this yet." in html
    assert response.context["stats"]["coaches"] == 3


def test_landing_query_count_does_not_grow_with_coaches(client, django_assert_max_num_queries):
    coach_offering(cv=(6500, "GBP"))
    with django_assert_max_num_queries(6) as few:
        client.get("/")
    for n in range(15):
        coach_offering(cv=(6500 + n, "GBP"), bundle=(20000 + n, "EUR"))
    clear_cache()  # the figures are cached: count the queries of computing them again
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/")
    assert response.status_code == 200


def test_get_started_and_find_a_coach_lead_to_signup_and_directory(client):
    html = client.get("/").content.decode()
    assert 'href="/accounts/signup/">Get started</a>' in html
    assert 'href="/coaches/">Find a coach</a>' in html


def test_an_empty_marketplace_shows_no_zero_figures(client):
    html = client.get("/").content.decode()
    assert "coaches ready to help" not in html
    assert "average from" not in html
    assert "Reviews from our first clients will appear here." in html


def test_a_repeat_visit_reads_the_cached_figures_with_no_query(client, django_assert_num_queries):
    coach_offering(cv=(6500, "GBP"))
    client.get("/")
    with django_assert_num_queries(0):
        response = client.get("/")
    assert "£65.00" in response.content.decode()


def test_a_new_offer_or_review_shows_on_the_next_visit(client, django_capture_on_commit_callbacks):
    profile = coach_offering(cv=(6500, "GBP"))
    assert "£65.00" in client.get("/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        CoachServiceFactory(coach=profile, service_type=ServiceType.LINKEDIN, price_minor=4200, currency="GBP")
    assert "£42.00" in client.get("/").content.decode()
    order = make_order(client=ClientFactory(first_name="Ada"), coach=profile.user)
    orders.mark_paid(order.pk, actor=None)
    orders.deliver(order.pk, actor=order.coach)
    orders.accept_delivery(order.pk, actor=order.client)
    with django_capture_on_commit_callbacks(execute=True):
        orders.submit_review(order.pk, actor=order.client, rating=5, comment="Landed three interviews in a week.")
    assert "Landed three interviews in a week." in client.get("/").content.decode()
