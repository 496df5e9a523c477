"""The receipts page's count and rows on a miss (issue 13): compiled once per process (core.sqlmemo), and
still the client's own payments the ORM lists (attempts still pending left out), page by page."""

import pytest
from django.core.paginator import Paginator
from django.urls import reverse

from core.pages import users_changed
from core.tests.scoping import assert_each_sees_only_their_own
from orders.tests.factories import make_order
from payments.models import Payment
from payments.views import _client_receipts

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_sqlmemo")]


def _payments_of(client_user, coach_user, count: int, *, title: str) -> None:
    order = make_order(client=client_user, coach=coach_user, title=title)
    for n in range(count):
        Payment.objects.create(
            order=order,
            client=client_user,
            provider="stripe",
            provider_payment_id=f"{'pending_' if n % 4 == 1 else 'cs_'}{order.pk}_{n}",
            amount_minor=1000 + n,
            currency=order.currency,
            status=("captured", "failed", "refunded", "created")[n % 4],
        )
    users_changed(client_user.pk)


def _listed(user):
    return (
        Payment.objects.filter(client=user)
        .exclude(provider_payment_id__startswith="pending_")
        .select_related("order")
        .order_by("-created_at", "-id")
    )


def test_every_page_is_what_the_orm_lists(client, client_user, coach_user, other_client):
    _payments_of(client_user, coach_user, 61, title="Mine")
    _payments_of(other_client, coach_user, 30, title="Theirs")
    client.force_login(client_user)
    for number in ("1", "2", "3", "4", "last", "x"):
        page = client.get(reverse("payments:receipts"), {"page": number}).context["page"]
        expected = Paginator(_listed(client_user), 20).get_page(number)
        assert (page.number, page.paginator.count) == (expected.number, expected.paginator.count) != (1, 0)
        assert [p.pk for p in page.object_list] == [p.pk for p in expected.object_list]
        assert [p.order.title for p in page.object_list] == ["Mine"] * len(expected.object_list)
    assert list(_client_receipts({"client": client_user.pk})) == list(_listed(client_user))


def test_someone_elses_payments_never_show_once_the_query_is_memoised(client, client_user, coach_user, other_client):
    _payments_of(client_user, coach_user, 3, title="Only mine")
    _payments_of(other_client, coach_user, 3, title="Only theirs")
    assert_each_sees_only_their_own(
        client, reverse("payments:receipts"), {client_user: "Only mine", other_client: "Only theirs"}
    )


def test_a_receipts_page_not_seen_before_compiles_none_of_its_queries(
    client, client_user, coach_user, other_client, compilations
):
    _payments_of(client_user, coach_user, 45, title="Mine")
    _payments_of(other_client, coach_user, 45, title="Theirs")
    client.force_login(client_user)
    for query in ({}, {"page": "2"}):
        assert client.get(reverse("payments:receipts"), query).status_code == 200
    client.force_login(other_client)
    client.get(reverse("payments:receipts"))  # the bell's cached count (its cache, not this page's rows)
    for query in ({}, {"page": "2"}):
        users_changed(other_client.pk)
        compilations.clear()
        response = client.get(reverse("payments:receipts"), query)
        assert response.status_code == 200 and "Theirs" in response.content.decode()
        assert Payment not in compilations, query


@pytest.mark.parametrize(
    "status", ["created", "authorized", "captured", "failed", "refunded", "partially_refunded", "odd<&>"]
)
def test_the_status_badge_is_what_its_template_printed(status):
    """payment_status was an inclusion tag of `<span class="badge {{ style }}">{{ label }}</span>` and a newline."""
    from django.template import Context, Template

    from payments.templatetags.payments_tags import STATUS_LABELS, STATUS_STYLES, payment_status

    payment = Payment(status=status)
    printed = Template('<span class="badge {{ style }}">{{ label }}</span>\n').render(
        Context({"label": STATUS_LABELS.get(status, status), "style": STATUS_STYLES.get(status)})
    )
    assert payment_status(payment) == printed
    assert Template("{% load payments_tags %}{% payment_status p %}").render(Context({"p": payment})) == printed
