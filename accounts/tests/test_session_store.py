"""Sessions are cached_db: a page reads its session from the cache, and logout, login's key rotation and
the end of a session leave no cached copy that still logs anyone in."""

import pytest
from django.conf import settings
from django.contrib.sessions.backends.cached_db import SessionStore

from accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def test_a_logged_in_page_does_not_read_the_session_table(client, client_user, django_assert_max_num_queries):
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
    client.force_login(client_user)
    client.get("/dashboard/")
    with django_assert_max_num_queries(40) as captured:
        assert client.get("/dashboard/").status_code == 200
    assert not [q for q in captured.captured_queries if "django_session" in q["sql"]]


def test_the_cookie_of_a_logged_out_session_logs_nobody_in(client, client_user):
    client.force_login(client_user)
    assert client.get("/dashboard/").status_code == 200
    old_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.post("/accounts/logout/")
    assert not SessionStore(session_key=old_key).exists(old_key)
    client.cookies[settings.SESSION_COOKIE_NAME] = old_key
    assert client.get("/dashboard/").status_code == 302


def test_login_rotates_the_key_and_the_old_one_is_gone(client, client_user):
    client.get("/accounts/login/")
    session = client.session
    session["before_login"] = True
    session.save()
    before = session.session_key
    response = client.post("/accounts/login/", {"login": client_user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    assert SessionStore(session_key=before).load() == {}
    assert SessionStore(session_key=after).load()["_auth_user_id"] == str(client_user.pk)
