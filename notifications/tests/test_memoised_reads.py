"""The bell's count and a dashboard's latest notifications on a first visit run statements compiled once per
process (core.sqlmemo, issue 13): the same answers as the ORM's querysets, for every user, read or unread."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import ClientFactory
from notifications import services
from notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def notified():
    """Three users: one with more notifications than a dashboard shows (some read, equal timestamps), one with a
    single read one, one with none."""
    many, one, none = ClientFactory(), ClientFactory(), ClientFactory()
    now = timezone.now()
    for number in range(9):
        note = services.notify(many, "test", f"Note {number}", email=False)
        # two pairs share a timestamp: the id breaks the tie, as the ORM's ordering says
        Notification.objects.filter(pk=note.pk).update(created_at=now - timedelta(minutes=number // 2))
        if number % 3 == 0:
            Notification.objects.filter(pk=note.pk).update(read_at=now)
    services.notify(one, "test", "Only one", email=False)
    Notification.objects.filter(user=one).update(read_at=now)
    return [many, one, none]


def test_the_unread_count_is_the_orms(notified):
    for user in notified:
        assert services._counted_unread(user) == Notification.objects.for_user(user).unread().count()
    assert [services._counted_unread(user) for user in notified] == [6, 0, 0]


@pytest.mark.parametrize("limit", [1, 5, 20])
def test_the_latest_notifications_are_the_orms(notified, limit):
    for user in notified:
        orm = list(Notification.objects.for_user(user)[:limit])
        memoised = services._latest(user, limit)
        assert [(n.pk, n.text, n.read_at, n.created_at, n.link, n.category) for n in memoised] == [
            (n.pk, n.text, n.read_at, n.created_at, n.link, n.category) for n in orm
        ]


def test_a_first_bell_and_dashboard_list_compile_nothing(notified, compilations):
    """Once one user's were compiled, another's build and compile no Notification query."""
    first, second, _ = notified
    services._counted_unread(first), services._latest(first, 5)
    compilations.clear()
    assert services._counted_unread(second) == 0 and len(services._latest(second, 5)) == 1
    assert Notification not in compilations
