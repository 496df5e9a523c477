"""The per-frame session check of a chat socket (consumers.db_session_logs_in): auth.get_user's verdict on the
database session, in one statement (issue 13)."""

import datetime

import pytest
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from messaging.consumers import SESSION_AND_USER_SQL, db_session_logs_in

pytestmark = pytest.mark.django_db


def session_of(user) -> str:
    browser = Client()
    browser.force_login(user)
    return browser.cookies["sessionid"].value


def django_says(key: str, user) -> bool:
    """auth.get_user on the same row, as the consumer asked before."""
    from types import SimpleNamespace

    found = auth.get_user(SimpleNamespace(session=SessionStore(session_key=key)))  # type: ignore[arg-type]
    return not isinstance(found, AnonymousUser) and found.pk == user.pk and found.is_active


def test_a_live_session_logs_its_user_in_with_one_statement(client_user):
    key = session_of(client_user)
    with CaptureQueriesContext(connection) as queries:
        assert db_session_logs_in(key, client_user.pk) is True
    assert len(queries) == 1


def test_the_statement_names_the_models_tables():
    assert f"FROM {Session._meta.db_table} s, {User._meta.db_table} u" in SESSION_AND_USER_SQL


def test_someone_elses_session_does_not(client_user, coach_user):
    assert db_session_logs_in(session_of(coach_user), client_user.pk) is False


def test_a_deleted_or_unknown_session_does_not(client_user):
    key = session_of(client_user)
    Session.objects.filter(session_key=key).delete()
    assert db_session_logs_in(key, client_user.pk) is False
    assert db_session_logs_in("no-such-key", client_user.pk) is False


def test_an_expired_session_does_not(client_user):
    key = session_of(client_user)
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    assert db_session_logs_in(key, client_user.pk) is django_says(key, client_user) is False


def test_a_password_changed_without_any_signal_ends_it(client_user):
    key = session_of(client_user)
    User.objects.filter(pk=client_user.pk).update(password="pbkdf2_sha256$1$salt$changed")
    assert db_session_logs_in(key, client_user.pk) is django_says(key, client_user) is False


def test_a_suspended_or_deactivated_user_is_refused(client_user, coach_user):
    client_key, coach_key = session_of(client_user), session_of(coach_user)
    User.objects.filter(pk=client_user.pk).update(account_status="suspended")
    User.objects.filter(pk=coach_user.pk).update(is_active=False)
    assert db_session_logs_in(client_key, client_user.pk) is False
    assert db_session_logs_in(coach_key, coach_user.pk) is django_says(coach_key, coach_user) is False


def test_a_session_signed_with_a_fallback_secret_still_logs_in(client_user, settings):
    key = session_of(client_user)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-" + "x" * 50
    assert db_session_logs_in(key, client_user.pk) is True


def test_a_session_of_an_unconfigured_backend_does_not(client_user):
    store = SessionStore()
    store[auth.SESSION_KEY] = str(client_user.pk)
    store[auth.BACKEND_SESSION_KEY] = "somewhere.else.Backend"
    store[auth.HASH_SESSION_KEY] = client_user.get_session_auth_hash()
    store.create()
    assert db_session_logs_in(store.session_key, client_user.pk) is False
