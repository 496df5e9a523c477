"""notifications on the API: my inbox and its filters, marking read (mine only), email choices."""

import pytest

from audit.models import AuditLog
from core.tests.api import API, assert_problem, client_for
from notifications.models import EmailPreference, Notification
from notifications.services import notify

pytestmark = pytest.mark.django_db


@pytest.fixture
def inbox(client_user, other_client):
    delivered = notify(client_user, "order_delivered", "Your order was delivered.", link="/orders/1/")
    refunded = notify(client_user, "payment_refunded", "£10.00 was refunded.")
    theirs = notify(other_client, "order_delivered", "Someone else's order was delivered.")
    return delivered, refunded, theirs


def test_the_inbox_lists_only_mine_newest_first_with_categories(inbox, client_user):
    delivered, refunded, _theirs = inbox
    rows = client_for(client_user).get(f"{API}notifications").json()["results"]
    assert [(r["id"], r["category"], r["read"]) for r in rows] == [
        (refunded.pk, "money", False),
        (delivered.pk, "delivery", False),
    ]
    assert_problem(client_for().get(f"{API}notifications"), 401)


def test_the_inbox_filters_by_category_and_unread(inbox, client_user):
    delivered, refunded, _theirs = inbox
    Notification.objects.filter(pk=refunded.pk).update(read_at=delivered.created_at)
    api = client_for(client_user)
    assert [r["id"] for r in api.get(f"{API}notifications?category=delivery").json()["results"]] == [delivered.pk]
    assert [r["id"] for r in api.get(f"{API}notifications?unread=true").json()["results"]] == [delivered.pk]
    assert_problem(api.get(f"{API}notifications?category=spam"), 400)


def test_mark_read_touches_only_my_own_notifications(inbox, client_user):
    delivered, refunded, theirs = inbox
    api = client_for(client_user)

    some = api.post(f"{API}notifications/read", {"ids": [delivered.pk, theirs.pk]}, format="json")
    assert some.status_code == 200 and some.json() == {"marked": 1, "unread": 1}
    theirs.refresh_from_db()
    assert theirs.read_at is None  # someone else's id is ignored, never marked

    everything = api.post(f"{API}notifications/read", {}, format="json")
    assert everything.json() == {"marked": 1, "unread": 0}
    assert not Notification.objects.filter(user=client_user, read_at__isnull=True).exists()
    assert_problem(api.post(f"{API}notifications/read", {"ids": ["x"]}, format="json"), 400)
    assert_problem(api.post(f"{API}notifications/read", {"every": True}, format="json"), 400)


def test_email_choices_change_with_an_audit_row_and_money_stays_on(client_user):
    api = client_for(client_user)
    assert api.get(f"{API}notifications/email-preferences").json()["message"] is True

    changed = api.patch(f"{API}notifications/email-preferences", {"message": False}, format="json")
    assert changed.status_code == 200 and changed.json()["message"] is False
    assert EmailPreference.objects.get(user=client_user, category="message").enabled is False
    assert AuditLog.objects.filter(action="notifications.email_preferences").count() == 1

    refused = api.patch(f"{API}notifications/email-preferences", {"money": False}, format="json")
    assert_problem(refused, 400)
    assert "always sent" in refused.json()["fields"]["money"][0]
    assert not EmailPreference.objects.filter(category="money").exists()
    assert_problem(api.patch(f"{API}notifications/email-preferences", {"marketing": False}, format="json"), 400)
