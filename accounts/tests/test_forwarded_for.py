"""Behind one trusted proxy, the caller is the right-most X-Forwarded-For hop: a forged left-most hop is
neither what the audit log records nor what the login rate limit counts (core.http.client_ip)."""

import pytest
from django.urls import reverse

from accounts import services
from audit.models import AuditLog

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
REAL = "203.0.113.7"  # what our one proxy saw and appended


def forged(n: int) -> dict:
    return {"HTTP_X_FORWARDED_FOR": f"198.51.100.{n}, {REAL}", "REMOTE_ADDR": "10.0.0.2"}


def test_the_audit_row_records_the_proxys_hop_not_the_forged_one(client, client_user, staff_user, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    services.suspend_user(client_user, actor=staff_user, reason="Spam", ip_address=None)
    client.force_login(staff_user)
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "reactivate_users", "_selected_action": [client_user.pk]},
        **forged(1),
    )
    assert response.status_code == 302
    row = AuditLog.objects.get(action="account.reactivate")
    assert row.ip_address == REAL


def test_the_login_rate_limit_counts_the_proxys_hop_whatever_is_forged_before_it(client, settings):
    """login_failed allows 10 failures a minute per IP: changing the forged hop and the email each time
    does not buy an eleventh, while another real caller is unaffected."""
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(10):
        client.post(LOGIN, {"login": f"guess{n}@example.com", "password": "wrong-pass-1"}, **forged(n))
    locked = client.post(LOGIN, {"login": "fresh@example.com", "password": "wrong-pass-1"}, **forged(99))
    assert "for up to 15 minutes" in locked.content.decode()
    other = client.post(
        LOGIN,
        {"login": "fresh@example.com", "password": "wrong-pass-1"},
        HTTP_X_FORWARDED_FOR="198.51.100.99, 203.0.113.8",
        REMOTE_ADDR="10.0.0.2",
    )
    assert "for up to 15 minutes" not in other.content.decode()
