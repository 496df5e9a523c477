"""Login (case-insensitive email), lockout after failed attempts, logout, password reset and change, profile."""

import pytest

from accounts.adapter import LOCKED_MESSAGE
from accounts.tests.conftest import links_in
from accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
WRONG = "The email address and/or password you specified are not correct."


def test_login_with_any_letter_case_goes_to_the_dashboard(client, client_user):
    response = client.post(LOGIN, {"login": client_user.email.upper(), "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert response.url == "/dashboard/"
    assert client.session["_auth_user_id"] == str(client_user.pk)


def test_an_unverified_user_logging_in_types_the_emailed_code_and_is_in(client, mailoutbox):
    import re

    from accounts.tests.factories import ClientFactory

    user = ClientFactory(verified=False)
    response = client.post(LOGIN, {"login": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert response.url == "/accounts/confirm-email/"
    assert "_auth_user_id" not in client.session
    code = re.search(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", mailoutbox[-1].body, re.M).group(1)

    assert client.post(response.url, {"action": "verify", "code": code}).url == "/dashboard/"
    page = client.get("/dashboard/")
    assert page.status_code == 200
    assert "Please confirm your email address" not in page.content.decode()


def test_unknown_email_and_wrong_password_get_the_same_answer(client, client_user):
    unknown = client.post(LOGIN, {"login": "nobody@example.com", "password": "whatever-pass-1"})
    wrong = client.post(LOGIN, {"login": client_user.email, "password": "whatever-pass-1"})
    assert unknown.status_code == wrong.status_code == 200
    assert WRONG in unknown.content.decode()
    assert WRONG in wrong.content.decode()
    assert "_auth_user_id" not in client.session


def test_five_wrong_passwords_lock_the_email_for_a_while(client, client_user):
    for _ in range(5):
        response = client.post(LOGIN, {"login": client_user.email, "password": "not-my-password"})
        assert WRONG in response.content.decode()

    # Even the right password is refused now, with a message that says what happened.
    response = client.post(LOGIN, {"login": client_user.email, "password": DEFAULT_PASSWORD})

    html = response.content.decode()
    assert response.status_code == 200
    assert LOCKED_MESSAGE.split(":")[0] in html
    assert "for up to 15 minutes" in html
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_email_so_others_can_still_log_in(client, client_user, other_client):
    for _ in range(5):
        client.post(LOGIN, {"login": client_user.email, "password": "not-my-password"})
    response = client.post(LOGIN, {"login": other_client.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302


def test_unknown_emails_lock_too_so_the_lock_reveals_nothing(client):
    for _ in range(5):
        client.post(LOGIN, {"login": "nobody@example.com", "password": "not-my-password"})
    response = client.post(LOGIN, {"login": "nobody@example.com", "password": "not-my-password"})
    assert "for up to 15 minutes" in response.content.decode()


def test_login_requires_csrf(csrf_client, client_user):
    response = csrf_client.post(LOGIN, {"login": client_user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 403


def test_logout_needs_a_post_and_ends_the_session(client, client_user):
    client.force_login(client_user)
    confirm = client.get("/accounts/logout/")
    assert confirm.status_code == 200
    assert "_auth_user_id" in client.session
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response.url == "/"
    assert "_auth_user_id" not in client.session
    assert client.get("/dashboard/").status_code == 302


def test_password_reset_end_to_end(client, client_user, mailoutbox):
    response = client.post("/accounts/password/reset/", {"email": client_user.email.upper()})
    assert response.status_code == 302
    assert response.url == "/accounts/password/reset/done/"
    assert len(mailoutbox) == 1
    link = links_in(mailoutbox[0], "/accounts/password/reset/key/")[0]
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]

    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200
    assert "Choose a new password" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else path
    done = client.post(set_url, {"password1": "brand-new-secret-phrase-9", "password2": "brand-new-secret-phrase-9"})
    assert done.status_code == 302

    client.logout()
    old = client.post(LOGIN, {"login": client_user.email, "password": DEFAULT_PASSWORD})
    assert WRONG in old.content.decode()
    new = client.post(LOGIN, {"login": client_user.email, "password": "brand-new-secret-phrase-9"})
    assert new.status_code == 302


def test_password_reset_answers_the_same_for_unknown_emails(client, mailoutbox):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response.url == "/accounts/password/reset/done/"
    # allauth tells the address's owner that no account exists; no reset link goes anywhere.
    assert not any(links_in(m, "/accounts/password/reset/key/") for m in mailoutbox)


def test_reused_reset_link_is_refused(client, client_user, mailoutbox):
    client.post("/accounts/password/reset/", {"email": client_user.email})
    link = links_in(mailoutbox[0], "/accounts/password/reset/key/")[0]
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    page = client.get(path, follow=True)
    set_url = page.redirect_chain[-1][0]
    client.post(set_url, {"password1": "brand-new-secret-phrase-9", "password2": "brand-new-secret-phrase-9"})
    client.logout()
    again = client.get(path, follow=True)
    assert "This link has expired" in again.content.decode()


def test_password_change(client, client_user):
    client.force_login(client_user)
    bad = client.post(
        "/accounts/password/change/",
        {"oldpassword": "wrong", "password1": "brand-new-secret-phrase-9", "password2": "brand-new-secret-phrase-9"},
    )
    assert bad.status_code == 200
    assert "Please type your current password." in bad.content.decode()
    ok = client.post(
        "/accounts/password/change/",
        {
            "oldpassword": DEFAULT_PASSWORD,
            "password1": "brand-new-secret-phrase-9",
            "password2": "brand-new-secret-phrase-9",
        },
    )
    assert ok.status_code == 302
    client_user.refresh_from_db()
    assert client_user.check_password("brand-new-secret-phrase-9")


def test_profile_edits_names_and_phone_only(client, client_user):
    client.force_login(client_user)
    response = client.post(
        "/account/profile/",
        {"first_name": "Ada", "last_name": "Lovelace", "phone": "+44 20 7946 0000", "role": "admin"},
    )
    assert response.status_code == 302
    client_user.refresh_from_db()
    assert (client_user.first_name, client_user.last_name, client_user.phone) == ("Ada", "Lovelace", "+44 20 7946 0000")
    assert client_user.role == "client"
    assert not client_user.is_staff


def test_profile_needs_login(client):
    response = client.get("/account/profile/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_adding_a_registered_email_does_not_reveal_it(client, client_user, other_client):
    from allauth.account.models import EmailAddress

    client.force_login(client_user)
    taken = client.post("/accounts/email/", {"email": other_client.email.upper(), "action_add": ""})
    fresh = client.post("/accounts/email/", {"email": "spare@example.com", "action_add": ""})
    assert taken.status_code == fresh.status_code == 302
    assert taken.url == fresh.url
    # With codes, allauth adds an address only once its code is typed: no row for either yet, and no
    # code can ever match for the taken one.
    assert not EmailAddress.objects.filter(user=client_user, email__iexact=other_client.email).exists()
    client_user.refresh_from_db()
    assert client_user.email != other_client.email
    assert EmailAddress.objects.get(user=other_client, email=other_client.email).verified


def test_password_reset_is_rate_limited_per_email_with_a_styled_page(client, client_user, mailoutbox):
    for _ in range(5):
        assert client.post("/accounts/password/reset/", {"email": client_user.email}).status_code == 302
    response = client.post("/accounts/password/reset/", {"email": client_user.email})
    assert response.status_code == 429
    html = response.content.decode()
    assert "Too many attempts" in html
    assert 'class="navbar' in html
    assert len(mailoutbox) <= 5


@pytest.mark.parametrize("phone", ["call me", "12", "+44 20 7946 0000 ext. 5"])
def test_profile_refuses_a_malformed_phone(client, client_user, phone):
    client.force_login(client_user)
    response = client.post("/account/profile/", {"first_name": "Ada", "last_name": "L", "phone": phone})
    assert response.status_code == 200
    assert "Enter a phone number" in response.content.decode()
    client_user.refresh_from_db()
    assert client_user.first_name != "Ada"


def test_login_says_why_when_a_visitor_came_to_request_a_coach(client):
    reason = "to send your request to this coach"

    asked = client.get("/accounts/login/", {"next": "/requests/new/?coach=3&service=cv"}).content.decode()
    plain = client.get("/accounts/login/").content.decode()

    assert reason in asked and "/accounts/signup/?next=" in asked
    assert reason not in plain
