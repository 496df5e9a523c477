"""User.objects.get(pk=…), what every signed-in request asks (the session's user, django.contrib.auth's
ModelBackend.get_user): compiled once per process (core.sqlmemo, issue 13), the same user as the ORM reads."""

import pytest
from django.contrib.auth.models import Group
from django.db.models import QuerySet

from accounts.models import User
from accounts.tests.factories import ClientFactory, CoachUserFactory, StaffFactory

pytestmark = pytest.mark.django_db


def _fields(user: User) -> dict:
    return {field.attname: getattr(user, field.attname) for field in User._meta.concrete_fields}


def test_the_user_is_the_one_the_orm_reads():
    users = [ClientFactory(), CoachUserFactory(), StaffFactory(), ClientFactory(first_name="Zoë", last_name="O’Brien")]
    for user in users * 2:  # compiled, then memoised
        found = User.objects.get(pk=user.pk)
        assert type(found) is User and not found._state.adding and found._state.db == "default"
        assert _fields(found) == _fields(QuerySet(User).get(pk=user.pk))


def test_a_second_user_compiles_no_user_query(compilations, django_assert_num_queries):
    first, second = ClientFactory(), CoachUserFactory()
    User.objects.get(pk=first.pk)
    compilations.clear()
    with django_assert_num_queries(1):
        assert User.objects.get(pk=second.pk).email == second.email
    assert User not in compilations


def test_a_missing_user_raises_as_the_orm_does():
    gone = ClientFactory()
    User.objects.get(pk=gone.pk)
    gone_pk = gone.pk
    gone.delete()
    with pytest.raises(User.DoesNotExist, match="^User matching query does not exist.$"):
        User.objects.get(pk=gone_pk)


def test_other_lookups_and_a_related_manager_take_the_orm(compilations):
    member, outsider = ClientFactory(), ClientFactory()
    group = Group.objects.create(name="readers")
    group.user_set.add(member)
    User.objects.get(pk=member.pk)
    compilations.clear()
    assert group.user_set.get(pk=member.pk) == member
    with pytest.raises(User.DoesNotExist):
        group.user_set.get(pk=outsider.pk)  # the relation's filter holds
    assert User.objects.get(pk=str(member.pk)) == member  # not an int: the ORM, which converts it
    assert User.objects.get(email=outsider.email) == outsider
    assert compilations.count(User) == 4
