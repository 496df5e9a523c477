"""A page's miss asks the bell's count and the banner's verified email afresh; a dashboard's also its latest
notifications. Read ahead (core.pages), they come in one statement (core.cache.missing_ahead), with the same
answers and the same page as one statement each, and a write still shows at once (issue 13)."""

import pickle
import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import models as accounts_models
from accounts.tests.factories import ClientFactory
from core import pages
from core.cache import bump_version_now, deferred_writes, end_prefetch, prefetch_for
from notifications import services
from notifications.models import Notification

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r"\b[A-Za-z0-9]{64}\b")  # the CSRF tokens: a fresh mask on each render
PAGES = ["/dashboard/", "/payments/receipts/", "/notifications/"]


@pytest.fixture
def users():
    """Verified with 7 notifications (4 unread, two sharing a timestamp); an unconfirmed address and no notification;
    verified with all read; a verified address of another email than the login's; no address at all."""
    many, none, read, other_address = ClientFactory(), ClientFactory(verified=False), ClientFactory(), ClientFactory()
    bare = ClientFactory(verified=False)
    EmailAddress.objects.create(user=none, email=none.email, verified=False, primary=True)
    EmailAddress.objects.filter(user=other_address).update(email="someone-else@example.com")
    now = timezone.now()
    for number in range(7):
        note = services.notify(many, "test", f"Note {number}", email=False)
        Notification.objects.filter(pk=note.pk).update(created_at=now - timedelta(minutes=number // 2))
        if number % 2:
            Notification.objects.filter(pk=note.pk).update(read_at=now)
    services.notify(read, "test", "Read", email=False)
    Notification.objects.filter(user=read).update(read_at=now)
    services.notify(other_address, "test", "Unread", email=False)
    return [many, none, read, other_address, bare]


def _asking(statements: list[str]) -> list[str]:
    """The statements of the bell, the banner and the notifications (the inbox's rows and tabs among them)."""
    return [sql for sql in statements if "notifications_notification" in sql or "account_emailaddress" in sql]


def _statements(captured) -> list[str]:
    return [query["sql"] for query in captured.captured_queries]


def _visit(client, user, url):
    client.force_login(user)
    pages.users_changed(user.pk)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return TOKEN.sub("", response.content.decode()), _statements(captured)


@pytest.mark.parametrize("url", PAGES)
def test_a_miss_read_ahead_asks_the_bell_and_the_verified_email_in_one_statement(client, users, url, monkeypatch):
    """Each user's miss after another's (read ahead by its pattern): one statement reads the verified email and
    counts the bell (on the inbox the tabs' counts, summed, are the bell's; on a dashboard it is the latest
    notifications' statement too); the page is what a miss that asks each alone reads."""
    first = ClientFactory()
    _visit(client, first, url)
    for user in users:
        together, statements = _visit(client, user, url)
        asked = [sql for sql in statements if "account_emailaddress" in sql]
        counted = [sql for sql in statements if "COUNT(" in sql and 'read_at" IS NULL' in sql]
        assert len(asked) == 1, asked
        if url == "/notifications/":  # the tabs' GROUP BY category, summed for the bell; the email on its own
            assert len(counted) == 1 and '"category"' in counted[0], counted
        else:
            assert counted == asked, counted
        if url == "/dashboard/":
            assert [sql for sql in statements if "notifications_notification" in sql] == asked
        bump_version_now(services.SCOPE, user.pk)  # the bell, the banner and the notifications stale again
        bump_version_now(accounts_models.EMAIL_SCOPE, user.pk)
        with monkeypatch.context() as alone_mode:
            alone_mode.setattr(accounts_models, "missing_ahead", lambda *args, **kwargs: None)
            alone_mode.setattr(services, "missing_ahead", lambda *args, **kwargs: None)
            alone, alone_statements = _visit(client, user, url)
        saved = {"/dashboard/": 2, "/payments/receipts/": 1, "/notifications/": 1}[url]
        assert len(_asking(alone_statements)) == len(_asking(statements)) + saved
        assert together == alone
        _visit(client, first, url)  # the pattern again, for the next user


def test_the_bells_count_and_the_banner_are_right_for_every_user(client, users):
    """Read together, each user's bell and banner are what the ORM says."""
    first = ClientFactory()
    _visit(client, first, "/payments/receipts/")
    for user in users:
        page, _statements = _visit(client, user, "/payments/receipts/")
        unread = Notification.objects.for_user(user).unread().count()
        verified = EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()
        assert ("verify-banner" in page) is not verified
        assert f'data-unread-badge="notifications">{unread}<' in page
        _visit(client, first, "/payments/receipts/")


def test_the_latest_notifications_read_with_the_bell_are_the_orms(users):
    """Built from the joined row as the plain query builds them: the same instances (what is cached, pickled)."""
    for user in users:
        for limit in (1, 5, 20):
            orm = list(Notification.objects.for_user(user)[:limit])
            with deferred_writes():
                prefetch_for(
                    [(services.SCOPE, user.pk, services.UNREAD), ("email-addresses", user.pk, "verified-email")]
                )
                together = services._latest(user, limit)
                end_prefetch()
            assert [pickle.dumps(n) for n in together] == [pickle.dumps(n) for n in orm]
            assert [vars(n).keys() for n in together] == [vars(n).keys() for n in orm]


def test_a_write_after_a_miss_read_together_shows_at_once(client, users, django_capture_on_commit_callbacks):
    """The values a miss read together are stored under the versions read before the statement: a notification,
    a confirmed address and a marking read each show on the next visit."""
    many, none = users[0], users[1]
    first = ClientFactory()
    _visit(client, first, "/dashboard/")
    page, _statements = _visit(client, none, "/dashboard/")
    assert "verify-banner" in page and 'data-unread-badge="notifications">0<' in page
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(none, "test", "Now one", email=False)
    with django_capture_on_commit_callbacks(execute=True):
        address = EmailAddress.objects.get(user=none)
        address.verified = True
        address.save()  # as allauth confirms it
    again = client.get("/dashboard/").content.decode()
    assert "verify-banner" not in again and 'data-unread-badge="notifications">1<' in again and "Now one" in again
    _visit(client, first, "/dashboard/")
    page, _statements = _visit(client, many, "/dashboard/")
    assert 'data-unread-badge="notifications">4<' in page
    with django_capture_on_commit_callbacks(execute=True):
        services.mark_read(actor=many)
    assert 'data-unread-badge="notifications">0<' in client.get("/dashboard/").content.decode()
