"""The bell's unread count is on every logged-in page: cached per user, exact at once after a new
notification or a read mark, and never another user's."""

import pytest

from notifications import services

pytestmark = pytest.mark.django_db


def test_a_second_ask_makes_no_query(client_user, django_assert_num_queries):
    services.notify(client_user, "test", "One", email=False)
    assert services.unread_count(client_user) == 1
    with django_assert_num_queries(0):
        assert services.unread_count(client_user) == 1


def test_a_new_notification_and_a_read_mark_show_at_once(client_user, django_capture_on_commit_callbacks):
    assert services.unread_count(client_user) == 0
    with django_capture_on_commit_callbacks(execute=True):
        first = services.notify(client_user, "test", "One", email=False)
        services.notify(client_user, "test", "Two", email=False)
    assert services.unread_count(client_user) == 2
    with django_capture_on_commit_callbacks(execute=True):
        services.mark_read(actor=client_user, notification_ids=[first.pk])
    assert services.unread_count(client_user) == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.mark_read(actor=client_user)
    assert services.unread_count(client_user) == 0


def test_one_users_count_is_never_anothers(client_user, other_client):
    services.notify(client_user, "test", "Only for the client", email=False)
    assert services.unread_count(client_user) == 1
    assert services.unread_count(other_client) == 0
    services.notify(other_client, "test", "Now the other", email=False)
    assert services.unread_count(client_user) == 1
    assert services.unread_count(other_client) == 1


def test_the_bell_on_a_page_follows_the_count(client, client_user):
    client.force_login(client_user)
    assert 'data-unread-badge="notifications">0<' in client.get("/dashboard/").content.decode()
    services.notify(client_user, "test", "Ring", email=False)
    assert 'data-unread-badge="notifications">1<' in client.get("/dashboard/").content.decode()
