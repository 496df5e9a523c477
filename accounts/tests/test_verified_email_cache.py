"""User.has_verified_email is asked on every logged-in page: cached per user, and right at once when
an address is confirmed, removed or changed."""

import pytest
from allauth.account.models import EmailAddress

from accounts.tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def fresh(user):
    return type(user).objects.get(pk=user.pk)


def test_a_second_ask_makes_no_query(client_user, django_assert_num_queries):
    assert fresh(client_user).has_verified_email
    with django_assert_num_queries(0):
        assert client_user.has_verified_email


def test_confirming_an_address_shows_at_once(django_capture_on_commit_callbacks):
    user = ClientFactory(verified=False)
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    assert not fresh(user).has_verified_email
    address = EmailAddress.objects.get(user=user)
    with django_capture_on_commit_callbacks(execute=True):
        address.verified = True
        address.save()
    assert fresh(user).has_verified_email


def test_removing_the_address_shows_at_once(client_user, django_capture_on_commit_callbacks):
    assert fresh(client_user).has_verified_email
    with django_capture_on_commit_callbacks(execute=True):
        EmailAddress.objects.filter(user=client_user).delete()
    assert not fresh(client_user).has_verified_email


def test_a_changed_login_email_is_asked_afresh(client_user):
    assert fresh(client_user).has_verified_email
    type(client_user).objects.filter(pk=client_user.pk).update(email="new-address@example.com")
    assert not fresh(client_user).has_verified_email


def test_one_users_answer_is_never_anothers(client_user):
    unverified = ClientFactory(verified=False)
    assert fresh(client_user).has_verified_email
    assert not fresh(unverified).has_verified_email
    assert fresh(client_user).has_verified_email


def test_the_memoised_ask_is_the_orms(client_user):
    """The ask runs a statement compiled once per process (core.sqlmemo): the same answer as the ORM's exists()
    for a verified, an unverified, a differently cased address and a login email that moved."""
    unverified = ClientFactory(verified=False)
    EmailAddress.objects.create(user=unverified, email=unverified.email, verified=False, primary=True)
    cased = ClientFactory()
    type(cased).objects.filter(pk=cased.pk).update(email=cased.email.upper())
    moved = ClientFactory()  # a verified address, then another login email
    type(moved).objects.filter(pk=moved.pk).update(email="moved-elsewhere@example.com")
    for user in (client_user, unverified, cased, moved):
        user = fresh(user)
        orm = EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()
        assert user.has_verified_email is orm
    assert [fresh(u).has_verified_email for u in (client_user, unverified, cased, moved)] == [
        True,
        False,
        True,
        False,
    ]


def test_a_first_ask_compiles_no_query(client_user, compilations):
    other = ClientFactory()
    assert fresh(client_user).has_verified_email
    compilations.clear()
    assert fresh(other).has_verified_email
    assert EmailAddress not in compilations


def test_a_login_email_changed_and_changed_back_is_asked_afresh_each_time(client_user):
    """The answer is kept under one name per user, stamped with the address it was asked for: an address that
    moves without an EmailAddress write (which would make the answer stale) is asked again, both ways."""
    verified_email = client_user.email
    assert fresh(client_user).has_verified_email
    type(client_user).objects.filter(pk=client_user.pk).update(email="moved@example.com")
    assert not fresh(client_user).has_verified_email
    assert not fresh(client_user).has_verified_email
    type(client_user).objects.filter(pk=client_user.pk).update(email=verified_email.upper())
    assert fresh(client_user).has_verified_email


def test_the_answer_is_cached_under_a_name_without_the_address(client_user, monkeypatch):
    """So core.pages reads it ahead for a user by another user's pattern (their names are the same)."""
    from core import cache as core_cache

    names: list[str] = []
    cached_for = core_cache.cached_for
    monkeypatch.setattr(
        "accounts.models.cached_for",
        lambda scope, pk, name, *a, **k: names.append(name) or cached_for(scope, pk, name, *a, **k),
    )
    other = ClientFactory()
    assert fresh(client_user).has_verified_email and fresh(other).has_verified_email
    assert names == ["verified-email", "verified-email"]
    assert all(client_user.email not in name and "@" not in name for name in names)
