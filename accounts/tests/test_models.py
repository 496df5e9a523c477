"""The custom user: email is the login, stored lower-case and unique whatever the letter case; role drives staff."""

import pytest
from django.db import IntegrityError, transaction

from accounts.models import AccountStatus, Role, User
from accounts.tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def test_email_is_normalised_and_is_the_username():
    user = User.objects.create_user("  Ada.Lovelace@Example.COM ", "x" * 12)
    assert user.email == "ada.lovelace@example.com"
    assert User.USERNAME_FIELD == "email"
    assert User.objects.get_by_natural_key("ADA.LOVELACE@example.com") == user
    assert user.role == Role.CLIENT
    assert user.account_status == AccountStatus.ACTIVE


def test_email_is_unique_in_any_letter_case_even_past_save():
    ClientFactory(email="taken@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("TAKEN@example.com", "x" * 12)
    # A raw update skips save()'s lower-casing; the database constraint still refuses it.
    other = ClientFactory(email="other@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=other.pk).update(email="Taken@Example.com")


def test_staff_access_follows_the_role():
    user = ClientFactory()
    user.is_staff = True
    user.save()
    assert not user.is_staff  # cannot be granted by flipping the flag
    user.role = Role.ADMIN
    user.save()
    assert user.is_staff
    assert user.is_admin_role


def test_superuser_is_staff_with_the_admin_role():
    root = User.objects.create_superuser("root@example.com", "x" * 12)
    assert (root.role, root.is_staff, root.is_superuser) == (Role.ADMIN, True, True)


def test_display_name_and_flags():
    user = ClientFactory(first_name="", last_name="", email="jo.bloggs@example.com")
    assert user.display_name == "jo.bloggs"
    assert str(user) == "jo.bloggs@example.com"
    named = ClientFactory(first_name="Jo", last_name="Bloggs")
    assert named.display_name == "Jo Bloggs"
    assert named.is_client and not named.is_coach and not named.is_suspended


def test_has_verified_email_reads_allauth_addresses():
    assert ClientFactory().has_verified_email
    assert not ClientFactory(verified=False).has_verified_email


def test_email_is_required():
    with pytest.raises(ValueError, match="email"):
        User.objects.create_user("", "x" * 12)
