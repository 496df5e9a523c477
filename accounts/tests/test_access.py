"""role_required / RoleRequiredMixin and verified_email_required, on real views through the full middleware."""

import pytest
from allauth.account.models import EmailAddress

from accounts.tests.factories import ClientFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("accounts.tests.urls_access")]


@pytest.mark.parametrize("url", ["/t/client-only/", "/t/coach-or-staff/", "/t/staff-only/", "/t/place-request/"])
def test_anonymous_is_sent_to_login_with_next(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"/accounts/login/?next={url}"


def test_role_required_lets_the_right_role_in(client, client_user):
    client.force_login(client_user)
    response = client.get("/t/client-only/")
    assert response.status_code == 200
    assert response.content == b"client page"


def test_wrong_role_gets_a_styled_403_naming_the_role(client, coach_user):
    client.force_login(coach_user)
    response = client.get("/t/client-only/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "Access denied" in html
    assert "This page is for client accounts." in html
    assert 'class="navbar' in html  # the site's own layout, not Django's bare page


@pytest.mark.parametrize(
    ("user_fixture", "expected"),
    [("client_user", 403), ("coach_user", 200), ("staff_user", 200)],
)
def test_decorator_with_several_roles(client, request, user_fixture, expected):
    client.force_login(request.getfixturevalue(user_fixture))
    assert client.get("/t/coach-or-staff/").status_code == expected


@pytest.mark.parametrize(
    ("user_fixture", "expected"),
    [("client_user", 403), ("coach_user", 403), ("staff_user", 200)],
)
def test_mixin_checks_the_role(client, request, user_fixture, expected):
    client.force_login(request.getfixturevalue(user_fixture))
    assert client.get("/t/staff-only/").status_code == expected


def test_superuser_counts_as_staff(client, django_user_model):
    root = django_user_model.objects.create_superuser("root@example.com", "x" * 20)
    client.force_login(root)
    assert client.get("/t/staff-only/").status_code == 200


def test_verified_user_passes(client, client_user):
    client.force_login(client_user)
    response = client.get("/t/place-request/")
    assert response.status_code == 200
    assert response.content.decode() == f"placed by {client_user.email}"


def test_unverified_user_is_sent_to_the_verify_page(client):
    user = ClientFactory(verified=False)
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    client.force_login(user)

    response = client.get("/t/place-request/?coach=3")

    assert response.status_code == 302
    assert response.url == "/account/verify-email/?next=%2Ft%2Fplace-request%2F%3Fcoach%3D3"
    page = client.get(response.url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "confirm your email" in html
    assert user.email in html
    assert 'action="/account/verify-email/"' in html
    assert 'href="/t/place-request/?coach=3"' in html


def test_unverified_post_is_refused_and_nothing_runs(client):
    user = ClientFactory(verified=False)
    client.force_login(user)
    response = client.post("/t/pay/", HTTP_REFERER="http://testserver/orders/4/")
    assert response.status_code == 302
    assert response.url.startswith("/account/verify-email/")
    json_response = client.post("/t/pay/", HTTP_ACCEPT="application/json")
    assert json_response.status_code == 403
    assert "confirm your email" in json_response.json()["error"]


def test_verified_page_sends_verified_users_on(client, client_user):
    client.force_login(client_user)
    response = client.get("/account/verify-email/?next=/t/place-request/")
    assert response.status_code == 302
    assert response.url == "/t/place-request/"


def test_verify_page_ignores_offsite_next(client):
    user = ClientFactory(verified=False)
    client.force_login(user)
    html = client.get("/account/verify-email/?next=https://evil.example/").content.decode()
    assert 'href="https://evil.example/' not in html
    assert "Continue where you left off" not in html


def test_resend_from_the_verify_page_sends_a_confirmation_then_rate_limits(client, mailoutbox):
    user = ClientFactory(verified=False)
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    client.force_login(user)

    response = client.post("/account/verify-email/", {"next": "/t/place-request/"})

    assert response.status_code == 302
    assert response.url == "/accounts/confirm-email/?next=%2Ft%2Fplace-request%2F"  # the code page
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [user.email]
    assert "/accounts/confirm-email/" in mailoutbox[0].body  # the link for another device
    again = client.post("/account/verify-email/", follow=True)
    assert "We sent you a code a moment ago" in again.content.decode()
    assert len(mailoutbox) == 1


def test_resend_works_for_accounts_made_outside_signup(client, django_user_model, mailoutbox):
    user = django_user_model.objects.create_user("made.by.hand@example.com", "x" * 12)
    assert not EmailAddress.objects.filter(user=user).exists()
    client.force_login(user)

    client.post("/account/verify-email/")

    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.primary, address.verified) == (user.email, True, False)
    assert mailoutbox[0].to == [user.email]


def test_resend_needs_csrf(csrf_client, mailoutbox):
    user = ClientFactory(verified=False)
    csrf_client.force_login(user)
    assert csrf_client.post("/account/verify-email/").status_code == 403
    assert mailoutbox == []


def test_banner_on_every_page_resends_and_comes_back(client, mailoutbox):
    user = ClientFactory(verified=False)
    client.force_login(user)
    html = client.get("/account/profile/").content.decode()
    assert "Please confirm your email address" in html
    assert 'name="next" value="/account/profile/"' in html
    response = client.post("/account/verify-email/", {"next": "/account/profile/"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
