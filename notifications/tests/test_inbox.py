"""The inbox you can scan: unread first, then by day, a tab per category, and mark-all-read for your own only."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from notifications.services import notify

pytestmark = pytest.mark.django_db


def _aged(note, days):
    Notification.objects.filter(pk=note.pk).update(created_at=timezone.now() - datetime.timedelta(days=days))
    return note


def _headings(html: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", h).replace(" notifications", "").strip()
        for h in re.findall(r'<h2 class="[^"]*notification-group-title[^>]*>(.*?)</h2>', html)
    ]


def test_unread_come_first_then_the_read_ones_by_day(client, client_user):
    old_unread = _aged(notify(client_user, "payment_refunded", "Old but unread", email=False), 10)
    read_today = notify(client_user, "order_deliver", "Read today", email=False)
    read_yesterday = _aged(notify(client_user, "request_accepted", "Read yesterday", email=False), 1)
    read_long_ago = _aged(notify(client_user, "dispute_statement", "Read long ago", email=False), 40)
    new_unread = notify(client_user, "request_received", "New and unread", email=False)
    Notification.objects.filter(pk__in=[read_today.pk, read_yesterday.pk, read_long_ago.pk]).update(
        read_at=timezone.now()
    )
    client.force_login(client_user)

    html = client.get(reverse("notifications:inbox")).content.decode()

    headings = _headings(html)
    assert headings[:3] == ["Unread", "Today", "Yesterday"] and len(headings) == 4
    order = [
        html.index(t) for t in ("New and unread", "Old but unread", "Read today", "Read yesterday", "Read long ago")
    ]
    assert order == sorted(order)
    # Each row says what it is about: the category's icon and name.
    assert 'data-category="money"' in html and "bi-cash-coin" in html
    assert 'data-category="dispute"' in html and "bi-exclamation-octagon" in html
    assert {new_unread.category, old_unread.category} == {"request", "money"}


def test_a_category_tab_shows_only_its_kind_and_counts_unread(client, client_user):
    notify(client_user, "payment_failed", "Your payment failed", email=False)
    notify(client_user, "order_deliver", "Files delivered", email=False)
    notify(client_user, "order_request_revision", "Revision asked", email=False)
    client.force_login(client_user)

    money = client.get(reverse("notifications:inbox"), {"category": "money"}).content.decode()
    deliveries = client.get(reverse("notifications:inbox"), {"category": "delivery"}).content.decode()
    unknown = client.get(reverse("notifications:inbox"), {"category": "nonsense"}).content.decode()

    assert "Your payment failed" in money and "Files delivered" not in money
    assert (
        "Files delivered" in deliveries and "Revision asked" in deliveries and "Your payment failed" not in deliveries
    )
    assert all(text in unknown for text in ("Your payment failed", "Files delivered"))  # an odd value shows all
    assert re.search(r'aria-current="page"><i class="bi bi-box-seam"[^>]*></i> Deliveries <span[^>]*>2<', deliveries)
    empty = client.get(reverse("notifications:inbox"), {"category": "dispute"}).content.decode()
    assert "Nothing under Disputes yet" in empty


def test_mark_all_read_only_touches_your_own(client, client_user, other_client):
    mine = [notify(client_user, "order_deliver", f"Mine {n}", email=False) for n in range(3)]
    theirs = notify(other_client, "order_deliver", "Theirs", email=False)
    client.force_login(client_user)

    response = client.post(reverse("notifications:mark_read"), {"next": "/notifications/?category=delivery"})

    assert response.status_code == 302 and response["Location"] == "/notifications/?category=delivery"
    assert not Notification.objects.filter(pk__in=[n.pk for n in mine], read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_someone_elses_ids_are_ignored_when_marking_read(client, client_user, other_client):
    mine = notify(client_user, "order_deliver", "Mine", email=False)
    theirs = notify(other_client, "order_deliver", "Theirs", email=False)
    client.force_login(client_user)

    client.post(reverse("notifications:mark_read"), {"id": [theirs.pk, mine.pk, "x"]})

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.read_at is not None and theirs.read_at is None


def test_mark_read_needs_post_csrf_and_login(client, csrf_client, client_user):
    note = notify(client_user, "order_deliver", "Mine", email=False)
    url = reverse("notifications:mark_read")

    assert client.post(url).status_code == 302 and "/accounts/login/" in client.post(url)["Location"]
    csrf_client.force_login(client_user)
    assert csrf_client.get(url).status_code == 405
    assert csrf_client.post(url).status_code == 403  # no CSRF token

    note.refresh_from_db()
    assert note.read_at is None


def test_a_bad_next_is_not_followed_after_marking_read(client, client_user):
    client.force_login(client_user)

    response = client.post(reverse("notifications:mark_read"), {"next": "https://evil.example/"})

    assert response["Location"] == reverse("notifications:inbox")


def test_the_dashboard_list_shows_each_notifications_type(client, client_user):
    notify(client_user, "payment_refunded", "£10.00 was refunded", email=False)
    client.force_login(client_user)

    html = client.get("/dashboard/").content.decode()

    assert "bi-cash-coin" in html and "Money · " in html
