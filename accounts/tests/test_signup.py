"""Signup as client or coach, the role rule, password rules, and no account enumeration (DESIGN §7)."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.test import Client

from accounts.models import Role, User
from accounts.tests.conftest import links_in
from accounts.tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
SIGNUP = "/accounts/signup/"
CHECK_INBOX = "/accounts/confirm-email/"


@pytest.mark.parametrize("role", ["client", "coach"])
def test_signup_creates_an_unverified_account_with_the_chosen_role(client, signup_data, mailoutbox, role):
    response = client.post(SIGNUP, {**signup_data, "role": role})

    assert response.status_code == 302
    assert response.url == CHECK_INBOX
    user = User.objects.get(email="new.person@example.com")
    assert user.role == role
    assert not user.is_staff
    assert (user.first_name, user.last_name) == ("Nadia", "Rahman")
    assert EmailAddress.objects.filter(user=user, verified=False, primary=True).count() == 1
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["new.person@example.com"]
    assert links_in(mailoutbox[0], "/accounts/confirm-email/")
    # Signup never logs in: the answer must not differ from a signup with a registered email.
    assert "_auth_user_id" not in client.session


def test_check_inbox_page_is_shown_after_signup(client, signup_data):
    response = client.post(SIGNUP, signup_data, follow=True)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Check your inbox" in html


@pytest.mark.parametrize("role", ["admin", "superuser", "", "CLIENT"])
def test_forged_or_unknown_role_is_a_form_error(client, signup_data, mailoutbox, role):
    response = client.post(SIGNUP, {**signup_data, "role": role})

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "role" in errors
    assert not User.objects.exists()
    assert mailoutbox == []


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1x", "This password is too short. It must contain at least 10 characters."),
        ("password123", "This password is too common."),
        ("8273649182736", "This password is entirely numeric."),
    ],
)
def test_weak_passwords_get_the_validators_messages(client, signup_data, password, message):
    response = client.post(SIGNUP, {**signup_data, "password1": password, "password2": password})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.exists()


def test_mismatched_passwords_are_refused(client, signup_data):
    response = client.post(SIGNUP, {**signup_data, "password2": "something-else-entirely-9"})
    assert response.status_code == 200
    assert "You must type the same password each time." in response.content.decode()
    assert not User.objects.exists()


@pytest.mark.parametrize("typed", ["taken@example.com", "Taken@Example.COM", " TAKEN@example.com "])
def test_registered_email_answers_like_a_new_signup_and_mails_the_owner(client, signup_data, mailoutbox, typed):
    owner = ClientFactory(email="taken@example.com")

    response = client.post(SIGNUP, {**signup_data, "email": typed, "role": "coach"})

    assert response.status_code == 302
    assert response.url == CHECK_INBOX
    assert User.objects.count() == 1
    owner.refresh_from_db()
    assert owner.role == Role.CLIENT
    assert "_auth_user_id" not in client.session
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["taken@example.com"]
    assert "already" in mailoutbox[0].subject.lower() + mailoutbox[0].body.lower()
    assert links_in(mailoutbox[0], "/accounts/password/reset/")


def test_new_and_registered_emails_get_identical_pages(signup_data):
    ClientFactory(email="taken@example.com")
    answers = []
    for email in ("taken@example.com", "fresh@example.com"):
        browser = Client()
        response = browser.post(SIGNUP, {**signup_data, "email": email}, follow=True)
        html = CSRF_FIELD.sub("", response.content.decode().replace(email, "X"))
        answers.append((response.redirect_chain, response.status_code, html))
    assert answers[0] == answers[1]
    assert "Type it here to confirm" in answers[0][2]


def test_signup_requires_csrf(csrf_client, signup_data):
    response = csrf_client.post(SIGNUP, signup_data)
    assert response.status_code == 403
    assert not User.objects.exists()


def test_signup_with_csrf_token_works(csrf_client, signup_data):
    csrf_client.get(SIGNUP)
    token = csrf_client.cookies["csrftoken"].value
    response = csrf_client.post(SIGNUP, {**signup_data, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert User.objects.filter(email=signup_data["email"]).exists()


def test_confirming_from_the_emailed_link_verifies_and_logs_in(client, signup_data, mailoutbox):
    client.post(SIGNUP, signup_data)
    link = links_in(mailoutbox[0], "/accounts/confirm-email/")[0]
    path = link.split("://", 1)[1].split("/", 1)[1]

    page = client.get("/" + path)
    assert page.status_code == 200
    assert "Confirm" in page.content.decode()
    response = client.post("/" + path)

    assert response.status_code == 302
    user = User.objects.get(email=signup_data["email"])
    assert user.has_verified_email
    assert client.get("/dashboard/").status_code == 200


def test_signup_is_rate_limited_per_ip(client, signup_data, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "2/h/ip"}
    for n in range(2):  # a browser each: one with a pending code is sent back to its code page
        Client().post(SIGNUP, {**signup_data, "email": f"n{n}@example.com"})
    response = client.post(SIGNUP, {**signup_data, "email": "n3@example.com"})
    assert response.status_code == 429
    assert User.objects.count() == 2


def test_become_a_coach_link_preselects_the_coach_role(client):
    assert client.get(SIGNUP + "?role=coach").context["form"]["role"].value() == "coach"
    assert client.get(SIGNUP + "?role=admin").context["form"]["role"].value() == "client"
