"""The inbox's count and rows on a miss (issue 13): compiled once per process (core.sqlmemo), and still the
rows services.inbox reads, page by page and per category, for their owner only."""

import datetime

import pytest
from django.core.paginator import Paginator
from django.urls import reverse
from django.utils import timezone

from core.pages import users_changed
from core.tests.scoping import assert_each_sees_only_their_own
from notifications import services
from notifications.kinds import category_of
from notifications.models import Notification

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_sqlmemo")]
KINDS = ["order_deliver", "payment_refunded", "message_received", "request_received", "dispute_opened"]


def _inbox_of(user, count: int, *, word: str) -> None:
    """`count` notifications of every category, a third read, their times spread (and some equal: the id decides)."""
    now = timezone.now()
    Notification.objects.bulk_create(
        Notification(
            user=user,
            kind=KINDS[n % len(KINDS)],
            category=category_of(KINDS[n % len(KINDS)]),
            text=f"{word} {n}",
            link=f"/orders/{n}/",
            read_at=now if n % 3 == 0 else None,
        )
        for n in range(count)
    )
    for n, pk in enumerate(Notification.objects.filter(user=user).order_by("id").values_list("pk", flat=True)):
        Notification.objects.filter(pk=pk).update(created_at=now - datetime.timedelta(hours=(n * 7) % 50))
    users_changed(user.pk)


def _ids(objects) -> list[int]:
    return [n.pk for n in objects]


@pytest.mark.parametrize("category", ["", "delivery", "message"])
def test_every_page_is_what_services_inbox_reads(client, client_user, other_client, category):
    _inbox_of(client_user, 57, word="Mine")
    _inbox_of(other_client, 30, word="Theirs")
    client.force_login(client_user)
    query = {"category": category} if category else {}
    for number in ("1", "2", "3", "4", "last", "x"):
        page = client.get(reverse("notifications:inbox"), {**query, "page": number}).context["page"]
        expected = Paginator(services.inbox(client_user, category=category or None), 20).get_page(number)
        assert (page.number, page.paginator.count) == (expected.number, expected.paginator.count)
        assert _ids(page.object_list) == _ids(expected.object_list)
        assert expected.paginator.count > 0 and all(n.user_id == client_user.pk for n in page.object_list)


def test_someone_elses_notifications_never_show_once_the_query_is_memoised(client, client_user, other_client):
    _inbox_of(client_user, 25, word="Mine")
    _inbox_of(other_client, 25, word="Theirs")
    assert_each_sees_only_their_own(
        client, reverse("notifications:inbox"), {client_user: "Mine", other_client: "Theirs"}
    )


def test_an_inbox_not_seen_before_compiles_none_of_its_queries(client, client_user, other_client, compilations):
    _inbox_of(client_user, 25, word="Mine")
    _inbox_of(other_client, 45, word="Theirs")
    client.force_login(client_user)
    for query in ({}, {"page": "2"}, {"category": "money"}):
        assert client.get(reverse("notifications:inbox"), query).status_code == 200
    client.force_login(other_client)
    for query in ({}, {"page": "2"}, {"category": "money"}):  # the first a cold miss: the bell's and tabs' counts too
        compilations.clear()
        response = client.get(reverse("notifications:inbox"), query)
        assert response.status_code == 200 and "Theirs" in response.content.decode()
        assert Notification not in compilations, query


def test_the_inbox_query_count_does_not_grow(client, client_user, django_assert_max_num_queries):
    _inbox_of(client_user, 3, word="Few")
    client.force_login(client_user)
    client.get(reverse("notifications:inbox"))
    users_changed(client_user.pk)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("notifications:inbox"))
    misses = len(few.captured_queries)  # the next request empties the log `few` reads
    _inbox_of(client_user, 60, word="Many")
    client.get(reverse("notifications:inbox"))  # the bell's and the tabs' cached counts are counted again once
    users_changed(client_user.pk)
    with django_assert_max_num_queries(misses):
        client.get(reverse("notifications:inbox"))


def test_a_page_over_many_days_reads_its_rows_in_one_cache_round_trip(client, client_user, monkeypatch):
    """The page's rows are rendered (or read from the cache) in one call for all its day groups, not one a day."""
    from notifications import views

    _inbox_of(client_user, 40, word="Spread")
    for n, note in enumerate(Notification.objects.filter(user=client_user).order_by("id")):
        at = timezone.now() - datetime.timedelta(days=n // 4)  # read, four a day: grouped by day
        Notification.objects.filter(pk=note.pk).update(created_at=at, read_at=at)
    rendered_each = views.rendered_each
    calls = []
    monkeypatch.setattr(views, "rendered_each", lambda *a, **k: calls.append(len(a[1])) or rendered_each(*a, **k))
    client.force_login(client_user)
    html = client.get(reverse("notifications:inbox")).content.decode()
    assert html.count("notification-group-title") >= 3 and calls == [20]


def test_the_tabs_unread_counts_are_what_the_orm_counts(client_user, other_client):
    """unread_by_category, compiled once per process (core.sqlmemo): each category's unread count for the user
    alone, as the queryset it replaced counted them, before and after some are read."""
    from django.db.models import Count

    _inbox_of(client_user, 41, word="Mine")
    _inbox_of(other_client, 17, word="Theirs")

    def orm(user) -> dict[str, int]:
        rows = Notification.objects.for_user(user).unread().values_list("category").annotate(n=Count("id"))
        return dict(rows.values_list("category", "n"))

    for user in (client_user, other_client, client_user):
        users_changed(user.pk)
        assert services.unread_by_category(user) == orm(user) and len(orm(user)) > 2
        assert sum(services.unread_by_category(user).values()) == services.unread_count(user)
    services.mark_read(
        actor=client_user,
        notification_ids=list(Notification.objects.filter(user=client_user).values_list("pk", flat=True)[:10]),
    )
    assert services.unread_by_category(client_user) == orm(client_user)


def test_the_tabs_are_printed_as_the_template_loop_printed_them():
    """views.tabs_html against inbox.html's loop it replaced, for every current category and counts (none, one, a
    thousand and more: no separator)."""
    from django.template import Context, Template

    from notifications import kinds
    from notifications.views import tabs_html

    loop = Template(
        "{% for value, label, count, icon in tabs %}\n"
        '  <li class="nav-item"><a class="nav-link{% if category == value %} active{% endif %}" href="?{% if value %}'
        'category={{ value }}{% endif %}"{% if category == value %} aria-current="page"{% endif %}><i class="bi '
        '{{ icon }}" aria-hidden="true"></i> {{ label }}{% if count %} <span class="badge text-bg-light border">'
        '{{ count }}<span class="visually-hidden"> unread</span></span>{% endif %}</a></li>\n'
        "  {% endfor %}"
    )
    for counts in ([0] * 9, list(range(9)), [1234, 0, 7, 100000, 1, 0, 2, 3, 4]):
        values = iter(counts)
        tabs = [("", "All", next(values), "bi-bell")]
        tabs += [(value, meta.label, next(values), meta.icon) for value, meta in kinds.CATEGORIES.items()]
        for category in ["", *kinds.CATEGORIES]:
            assert tabs_html(tabs, category) == loop.render(Context({"tabs": tabs, "category": category}))
