"""Suspending and reactivating accounts: the service rules, login refusal and ending open sessions."""

import pytest
from allauth.usersessions.models import UserSession
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client

from accounts import services
from accounts.models import AccountStatus
from accounts.tests.factories import DEFAULT_PASSWORD, StaffFactory
from audit.models import AuditLog
from core.exceptions import InvalidState, NotPermitted

pytestmark = pytest.mark.django_db


def login(client, user, password=DEFAULT_PASSWORD):
    return client.post("/accounts/login/", {"login": user.email, "password": password})


def test_suspend_records_audit_and_emails_the_user(client_user, staff_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.suspend_user(client_user, actor=staff_user, reason="Chargeback fraud", ip_address="10.0.0.9")
    client_user.refresh_from_db()
    assert client_user.account_status == AccountStatus.SUSPENDED
    assert client_user.suspended_reason == "Chargeback fraud"
    row = AuditLog.objects.get(action="account.suspend")
    assert row.actor == staff_user
    assert row.target_id == str(client_user.pk)
    assert row.details["reason"] == "Chargeback fraud"
    assert row.ip_address == "10.0.0.9"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [client_user.email]
    assert "suspended" in mail.outbox[0].subject
    assert "Chargeback fraud" in mail.outbox[0].body


def test_suspend_ends_every_open_session_of_the_user(client_user, other_client, staff_user):
    laptop, phone, bystander = Client(), Client(), Client()
    assert login(laptop, client_user).status_code == 302
    assert login(phone, client_user).status_code == 302
    assert login(bystander, other_client).status_code == 302
    assert UserSession.objects.filter(user=client_user).count() == 2

    services.suspend_user(client_user, actor=staff_user, reason="Abuse")

    assert UserSession.objects.filter(user=client_user).count() == 0
    remaining = {s.get_decoded().get("_auth_user_id") for s in Session.objects.all()}
    assert str(client_user.pk) not in remaining
    assert str(other_client.pk) in remaining
    assert laptop.get("/dashboard/").status_code == 302
    assert bystander.get("/dashboard/").status_code == 200
    assert AuditLog.objects.get(action="account.suspend").details["sessions_ended"] == 2


def test_untracked_session_ends_at_the_next_request(client, client_user):
    """A suspension written without the service (no session purge) still locks the user out."""
    client.force_login(client_user)
    assert client.get("/dashboard/").status_code == 200
    type(client_user).objects.filter(pk=client_user.pk).update(account_status=AccountStatus.SUSPENDED)

    response = client.get("/dashboard/", follow=True)

    assert response.redirect_chain[0] == ("/accounts/login/", 302)
    assert "This account is suspended" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_suspended_user_cannot_log_in(client, client_user, staff_user):
    services.suspend_user(client_user, actor=staff_user, reason="Abuse")

    response = client.post("/accounts/login/", {"login": client_user.email, "password": DEFAULT_PASSWORD}, follow=True)

    assert "This account is suspended" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/dashboard/").status_code == 302


def test_suspended_user_with_wrong_password_gets_the_generic_answer(client, client_user, staff_user):
    services.suspend_user(client_user, actor=staff_user, reason="Abuse")
    response = client.post("/accounts/login/", {"login": client_user.email, "password": "wrong-password-1"})
    assert response.status_code == 200
    assert "suspended" not in response.content.decode()
    assert "The email address and/or password you specified are not correct." in response.content.decode()


def test_reactivated_user_logs_in_again(client, client_user, staff_user, django_capture_on_commit_callbacks):
    services.suspend_user(client_user, actor=staff_user, reason="Mistake")
    with django_capture_on_commit_callbacks(execute=True):
        services.reactivate_user(client_user, actor=staff_user, ip_address="10.0.0.9")
    client_user.refresh_from_db()
    assert client_user.account_status == AccountStatus.ACTIVE
    assert client_user.suspended_reason == ""
    assert AuditLog.objects.filter(action="account.reactivate", actor=staff_user).count() == 1
    assert "active again" in mail.outbox[-1].subject
    assert login(client, client_user).status_code == 302
    assert client.get("/dashboard/").status_code == 200


def test_staff_cannot_suspend_themselves(staff_user):
    StaffFactory()  # not the last staff account, so only the self-rule can refuse
    with pytest.raises(NotPermitted, match="your own account"):
        services.suspend_user(staff_user, actor=staff_user, reason="oops")
    staff_user.refresh_from_db()
    assert staff_user.account_status == AccountStatus.ACTIVE


def test_last_active_staff_cannot_be_suspended(staff_user):
    other_staff = StaffFactory()
    services.suspend_user(other_staff, actor=staff_user, reason="Left the company")
    superuser = type(staff_user).objects.create_superuser("root@example.com", "x" * 20)
    # superuser is staff too, so staff_user is not the last one yet
    services.suspend_user(superuser, actor=staff_user, reason="Shared account")
    with pytest.raises(NotPermitted, match="last active staff"):
        services.suspend_user(staff_user, actor=other_staff, reason="revenge")
    staff_user.refresh_from_db()
    assert staff_user.account_status == AccountStatus.ACTIVE


def test_non_staff_cannot_suspend(client_user, other_client, coach_user):
    for actor in (other_client, coach_user, None):
        with pytest.raises(NotPermitted):
            services.suspend_user(client_user, actor=actor, reason="spite")
    client_user.refresh_from_db()
    assert client_user.account_status == AccountStatus.ACTIVE
    assert not AuditLog.objects.exists()


def test_reason_is_required(client_user, staff_user):
    with pytest.raises(NotPermitted, match="reason"):
        services.suspend_user(client_user, actor=staff_user, reason="  ")


def test_suspending_twice_or_reactivating_an_active_account_is_refused(client_user, staff_user):
    with pytest.raises(InvalidState):
        services.reactivate_user(client_user, actor=staff_user)
    services.suspend_user(client_user, actor=staff_user, reason="Abuse")
    with pytest.raises(InvalidState):
        services.suspend_user(client_user, actor=staff_user, reason="Again")
    assert AuditLog.objects.filter(action="account.suspend").count() == 1


def test_non_staff_cannot_reactivate(client_user, staff_user, other_client):
    services.suspend_user(client_user, actor=staff_user, reason="Abuse")
    with pytest.raises(NotPermitted):
        services.reactivate_user(client_user, actor=other_client)
    client_user.refresh_from_db()
    assert client_user.account_status == AccountStatus.SUSPENDED
