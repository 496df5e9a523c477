"""A message:send checks its socket's session inside the message's own statement (services.SignedIn): the
rows the last full check accepted, guarded in the statement, so a message after the first needs no session
statement (issue 13). Whatever ends the session in between (logout, expiry, a password change, a suspension,
a deactivation, the row now another user's) still refuses the frame: nothing is written and the socket is
closed (the save returns None), as the full check before every frame did."""

import time
from collections import deque
from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AccountStatus, User
from conftest import require_service
from messaging import services
from messaging.consumers import ThreadConsumer
from messaging.models import Message

pytestmark = pytest.mark.django_db
on_postgresql = pytest.mark.usefixtures("_postgresql")


@pytest.fixture
def _postgresql():
    """The guard is part of the one statement, which is PostgreSQL's."""
    require_service("PostgreSQL", connection.vendor == "postgresql", "run with DATABASE_URL=postgres://…")


SESSION_SELECT = "FROM django_session s, accounts_user u WHERE s.session_key"


def signed_in_socket(user, thread) -> ThreadConsumer:
    """A thread socket of `user`'s real session, as connect() leaves it (without the websocket)."""
    browser = Client()
    browser.force_login(user)
    consumer = ThreadConsumer()
    consumer.user = User.objects.get(pk=user.pk)  # as the socket's scope loaded it
    consumer.thread_id = thread.pk
    consumer.session_key = browser.cookies["sessionid"].value
    consumer._acked = deque(maxlen=64)
    consumer.thread = services.thread_for(user, thread.pk)
    consumer.loaded_at = time.monotonic()
    return consumer


def save(consumer, body, token):
    with CaptureQueriesContext(connection) as queries:
        payload = consumer._save_now(body, token, [])
    return payload, [query["sql"] for query in queries]


@on_postgresql
def test_a_message_after_the_first_is_saved_with_no_session_statement_of_its_own(thread, client_user):
    socket = signed_in_socket(client_user, thread)
    first, first_sql = save(socket, "first", "t1")
    second, second_sql = save(socket, "second", "t2")
    assert first["body"] == "first" and second["body"] == "second"
    assert sum(SESSION_SELECT in sql for sql in first_sql) == 1  # the full check, once
    assert not any(SESSION_SELECT in sql for sql in second_sql), second_sql
    [statement] = [sql for sql in second_sql if sql.startswith("WITH")]
    assert '"django_session" s, "accounts_user" u' in statement  # the guard rides in the message's statement
    assert list(Message.objects.order_by("pk").values_list("body", flat=True)) == ["first", "second"]


def _delete(socket, user):
    Session.objects.filter(session_key=socket.session_key).delete()


def _expire(socket, user):
    Session.objects.filter(session_key=socket.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))


# The rows change elsewhere: the socket's own User instance (loaded at connect) is left as it was.
def _change_password(socket, user):
    elsewhere = User.objects.get(pk=user.pk)
    elsewhere.set_password("another-secret-phrase-7")
    elsewhere.save(update_fields=["password"])


def _suspend(socket, user):
    User.objects.filter(pk=user.pk).update(account_status=AccountStatus.SUSPENDED)


def _deactivate(socket, user):
    User.objects.filter(pk=user.pk).update(is_active=False)


def _someone_else_s(socket, user):
    """The row now holds a session of another user (its data replaced, the key kept)."""
    from accounts.tests.factories import UserFactory

    other = UserFactory()
    browser = Client()
    browser.force_login(other)
    data = Session.objects.get(session_key=browser.cookies["sessionid"].value).session_data
    Session.objects.filter(session_key=socket.session_key).update(session_data=data)


@on_postgresql
@pytest.mark.parametrize(
    "end", [_delete, _expire, _change_password, _suspend, _deactivate, _someone_else_s], ids=lambda f: f.__name__
)
def test_a_session_that_ended_after_the_first_message_refuses_the_next(thread, client_user, end):
    socket = signed_in_socket(client_user, thread)
    assert save(socket, "before", "t1")[0] is not None
    end(socket, client_user)
    payload, _ = save(socket, "after", "t2")
    assert payload is None  # the consumer closes the socket with SESSION_ENDED
    assert socket.signed_in is None
    assert list(Message.objects.values_list("body", flat=True)) == ["before"]


@on_postgresql
def test_an_ended_session_is_told_so_even_when_its_message_is_refused_first(thread, client_user, settings):
    """The checks before the statement (here the length) would answer with an error: an ended session closes."""
    socket = signed_in_socket(client_user, thread)
    assert save(socket, "before", "t1")[0] is not None
    _delete(socket, client_user)
    assert save(socket, "x" * (settings.CHAT_MAX_MESSAGE_LENGTH + 1), "t2")[0] is None


@on_postgresql
def test_a_session_row_changed_otherwise_still_sends_and_is_remembered_anew(thread, client_user):
    socket = signed_in_socket(client_user, thread)
    assert save(socket, "before", "t1")[0] is not None
    store = SessionStore(session_key=socket.session_key)
    store["_language"] = "en"  # a page wrote to the session: its data changed, its user did not
    store.save()
    payload, sql = save(socket, "after", "t2")
    assert payload["body"] == "after"
    assert sum(SESSION_SELECT in statement for statement in sql) == 1  # the full check, then the save
    assert socket.signed_in.session_data == Session.objects.get(session_key=socket.session_key).session_data
    assert list(Message.objects.order_by("pk").values_list("body", flat=True)) == ["before", "after"]


@override_settings(MESSAGING_ONE_STATEMENT_SEND=False)
def test_the_orm_path_checks_the_session_before_every_message(thread, client_user):
    socket = signed_in_socket(client_user, thread)
    for number in (1, 2):
        payload, sql = save(socket, f"message {number}", f"t{number}")
        assert payload is not None
        assert sum(SESSION_SELECT in statement for statement in sql) == 1
    with pytest.raises(services.SignedInChanged):
        services.send_message(socket.thread, actor=client_user, body="x", signed_in=socket.signed_in)
    assert Message.objects.count() == 2


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_the_message_statement_is_prepared_on_the_server(thread, client_user):
    socket = signed_in_socket(client_user, thread)
    save(socket, "first", "t1")
    save(socket, "second", "t2")
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    guarded = [s for s in prepared if s.startswith("WITH thread_row AS") and '"django_session" s' in s]
    assert len(guarded) == 1, prepared
