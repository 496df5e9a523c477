"""The inbox takes each row from the cache when it was rendered with the same values before: a revisit
renders no row, and a read mark or the time moving on shows at once; rows carry no CSRF token."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import ClientFactory
from core.pages import users_changed
from notifications import services
from notifications.models import Notification

pytestmark = pytest.mark.django_db

ROW = "notifications/partials/inbox_row.html"


def inbox(client, user):
    client.force_login(user)
    response = client.get("/notifications/")
    assert response.status_code == 200
    return response


def rows_rendered(response) -> int:
    return sum(1 for t in response.templates if t.name == ROW)


def test_a_revisit_renders_no_row_and_shows_the_same(client, client_user):
    for n in range(3):
        services.notify(client_user, "test", f"Note {n}", email=False)
    first = inbox(client, client_user)
    assert rows_rendered(first) == 3
    again = inbox(client, client_user)
    assert rows_rendered(again) == 0
    assert again.content.decode().count("notification-row") == 3


def test_a_read_mark_shows_at_once(client, client_user):
    note = services.notify(client_user, "test", "Read me", email=False)
    assert f'value="{note.pk}"' in inbox(client, client_user).content.decode()
    services.mark_read(actor=client_user, notification_ids=[note.pk])
    html = inbox(client, client_user).content.decode()
    assert "is-unread" not in html and f'value="{note.pk}"' not in html


def test_the_time_ago_moves_on(client, client_user):
    note = services.notify(client_user, "test", "Earlier today", email=False)
    assert "0\xa0minutes ago" in inbox(client, client_user).content.decode()
    Notification.objects.filter(pk=note.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    users_changed(client_user.pk)  # five minutes on, the page (cached for a minute: core.pages) has expired
    assert "5\xa0minutes ago" in inbox(client, client_user).content.decode()


def test_rows_hold_no_token_and_the_page_form_does(client, client_user):
    services.notify(client_user, "test", "Tokenless", email=False)
    html = inbox(client, client_user).content.decode()
    form = html[html.index('id="mark-one-read"') :]
    assert "csrfmiddlewaretoken" in form[: form.index("</form>")]
    assert html.count("csrfmiddlewaretoken") == 3  # that form, "Mark all read" and the navbar's logout form
    assert 'form="mark-one-read" name="id"' in html


def test_one_users_rows_never_show_on_anothers_inbox(client, client_user):
    services.notify(client_user, "test", "Only for the client", email=False)
    inbox(client, client_user)
    assert "Only for the client" not in inbox(client, ClientFactory()).content.decode()
