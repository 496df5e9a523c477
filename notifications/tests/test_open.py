"""Clicking a notification opens its page and marks it read; the unread counts stay in sight on phones."""

import pytest
from django.urls import reverse

from notifications.models import Notification
from notifications.services import notify

pytestmark = pytest.mark.django_db


def test_opening_a_notification_marks_it_read_and_follows_its_link(client, client_user):
    note = notify(client_user, "test", "Your CV is ready", link="/orders/", email=False)
    notify(client_user, "test", "Another thing", email=False)
    client.force_login(client_user)

    response = client.get(reverse("notifications:open", args=[note.pk]))

    assert response.status_code == 302 and response["Location"] == "/orders/"
    note.refresh_from_db()
    assert note.read_at is not None
    assert Notification.objects.filter(user=client_user, read_at__isnull=True).count() == 1
    inbox = client.get(reverse("notifications:inbox")).content.decode()
    assert f'href="{reverse("notifications:open", args=[note.pk])}"' in inbox


def test_someone_elses_notification_is_404_and_stays_unread(client, client_user, other_client):
    theirs = notify(other_client, "test", "Private", link="/orders/", email=False)
    client.force_login(client_user)

    assert client.get(reverse("notifications:open", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_an_outside_link_is_never_followed(client, client_user):
    odd = Notification.objects.create(user=client_user, kind="test", text="x", link="https://evil.example/")
    client.force_login(client_user)

    response = client.get(reverse("notifications:open", args=[odd.pk]))

    assert response["Location"] == reverse("notifications:inbox")


def test_anonymous_visitors_are_sent_to_log_in(client, client_user):
    note = notify(client_user, "test", "Your CV is ready", link="/orders/", email=False)

    response = client.get(reverse("notifications:open", args=[note.pk]))

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_mark_all_read_shows_only_while_something_is_unread(client, client_user):
    notify(client_user, "test", "Your CV is ready", email=False)
    client.force_login(client_user)
    assert "Mark all read" in client.get(reverse("notifications:inbox")).content.decode()

    client.post(reverse("notifications:mark_read"))

    assert "Mark all read" not in client.get(reverse("notifications:inbox")).content.decode()


def test_phones_see_the_unread_counts_without_opening_the_menu(client, client_user):
    for text in ("One", "Two"):
        notify(client_user, "test", text, email=False)
    client.force_login(client_user)

    body = client.get("/dashboard/").content.decode()
    quick_bar = body[body.index("navbar-quick") : body.index("navbar-toggler")]

    assert 'data-unread-badge="notifications">2<' in quick_bar
    assert 'data-unread-badge="messages"' in quick_bar
