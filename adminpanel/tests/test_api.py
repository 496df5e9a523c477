"""admin/* on the API: staff only, audited through the same services as the console."""

import pytest

from audit.models import AuditLog
from core.tests.api import API, assert_problem, client_for

pytestmark = pytest.mark.django_db

STAFF_GETS = ["admin/users", "admin/transactions", "admin/analytics/overview"]


@pytest.mark.parametrize("route", STAFF_GETS)
def test_staff_only(route, client_user, coach_user, staff_user):
    assert client_for(staff_user).get(f"{API}{route}").status_code == 200
    assert_problem(client_for(client_user).get(f"{API}{route}"), 403)
    assert_problem(client_for(coach_user).get(f"{API}{route}"), 403)
    assert_problem(client_for().get(f"{API}{route}"), 401)


def test_users_filter_by_role_and_refuse_bad_values(client_user, coach_user, staff_user):
    rows = client_for(staff_user).get(f"{API}admin/users", {"role": "coach"}).json()["results"]
    assert [r["id"] for r in rows] == [coach_user.pk]
    assert "role" in assert_problem(client_for(staff_user).get(f"{API}admin/users", {"role": "king"}), 400)["fields"]


def test_suspend_is_audited_and_ends_the_users_tokens(client_user, staff_user):
    victim = client_for(client_user)
    url = f"{API}admin/users/{client_user.pk}/suspend"
    assert_problem(victim.patch(url, {"reason": "me"}, format="json"), 403)
    response = client_for(staff_user).patch(url, {"reason": "Chargeback fraud"}, format="json", REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 200 and response.json()["account_status"] == "suspended"
    row = AuditLog.objects.get(action="account.suspend")
    assert row.actor == staff_user and row.ip_address == "10.1.2.3"
    assert_problem(victim.get(f"{API}users/me"), 401)
    assert_problem(client_for(staff_user).patch(url, {"reason": "again"}, format="json"), 409)
    assert "reason" in assert_problem(client_for(staff_user).patch(url, {}, format="json"), 400)["fields"]
    assert_problem(
        client_for(staff_user).patch(f"{API}admin/users/999999/suspend", {"reason": "x"}, format="json"), 404
    )


def test_verify_a_coach(coach_user, staff_user, client_user):
    profile = coach_user.coach_profile
    url = f"{API}admin/coaches/{profile.pk}/verify"
    assert_problem(client_for(coach_user).patch(url, {}, format="json"), 403)
    response = client_for(staff_user).patch(url, {"verified": True}, format="json")
    assert response.status_code == 200 and response.json()["is_verified"] is True
    assert [s["service_type"] for s in response.json()["services"]] == ["cv"]
    profile.refresh_from_db()
    assert profile.is_verified and AuditLog.objects.filter(action="coach.verify", actor=staff_user).exists()


def test_transactions_list_the_ledger(paid_order, staff_user):
    from payments.models import LedgerEntry

    body = client_for(staff_user).get(f"{API}admin/transactions").json()
    assert len(body["results"]) == LedgerEntry.objects.count()
    bad = client_for(staff_user).get(f"{API}admin/transactions", {"entry_type": "gift"})
    assert "entry_type" in assert_problem(bad, 400)["fields"]


def test_analytics_overview_takes_the_pages_range(staff_user):
    body = client_for(staff_user).get(f"{API}admin/analytics/overview", {"granularity": "week"}).json()
    assert body["range"]["granularity"] == "week" and "revenue" in body and "orders_by_status" in body
    bad = client_for(staff_user).get(f"{API}admin/analytics/overview", {"start": "yesterday"})
    assert "start" in assert_problem(bad, 400)["fields"]
