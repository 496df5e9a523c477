"""Signup keeps you going (issue 15 item 5): the emailed code, typed in the same browser, confirms the
address and signs in; the emailed link does it from any device; wrong, expired and too many codes say so."""

import re
import time

import pytest
from allauth.account.internal.flows.email_verification_by_code import EMAIL_VERIFICATION_CODE_SESSION_KEY
from django.test import Client

from accounts.models import User
from accounts.tests.conftest import links_in
from accounts.tests.factories import ClientFactory
from accounts.verification import CONFIRMED_ELSEWHERE, EXPIRED_MESSAGE, TOO_MANY_MESSAGE

pytestmark = pytest.mark.django_db

SIGNUP = "/accounts/signup/"
CODE_PAGE = "/accounts/confirm-email/"
CODE = re.compile(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", re.M)


def code_in(message) -> str:
    found = CODE.search(message.body)
    assert found, message.body
    return found.group(1)


def signed_in(browser) -> bool:
    return "_auth_user_id" in browser.session


def test_the_emailed_code_confirms_and_signs_in_on_the_dashboard(client, signup_data, mailoutbox):
    assert client.post(SIGNUP, signup_data).url == CODE_PAGE
    assert not signed_in(client)
    mail = mailoutbox[0]
    assert "in the browser where you signed up" in mail.body

    response = client.post(CODE_PAGE, {"action": "verify", "code": code_in(mail).lower()}, follow=True)

    assert response.redirect_chain[-1][0] == "/dashboard/"
    assert response.status_code == 200
    assert signed_in(client)
    assert User.objects.get(email=signup_data["email"]).has_verified_email
    assert EMAIL_VERIFICATION_CODE_SESSION_KEY not in client.session


def test_the_email_also_carries_a_link_for_another_device(signup_data, mailoutbox):
    Client().post(SIGNUP, signup_data)
    path = "/" + links_in(mailoutbox[0], CODE_PAGE)[0].split("://", 1)[1].split("/", 1)[1]
    phone = Client()

    assert "Confirm your email address" in phone.get(path).content.decode()
    assert not User.objects.get(email=signup_data["email"]).has_verified_email  # GET changes nothing
    response = phone.post(path, follow=True)

    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert CONFIRMED_ELSEWHERE in response.content.decode()
    assert not signed_in(phone)  # a link alone never signs in: it may have leaked
    assert User.objects.get(email=signup_data["email"]).has_verified_email
    assert phone.post(path).status_code == 404  # used: the key only matches an unverified address


def test_the_code_still_signs_in_after_the_link_was_used_elsewhere(client, signup_data, mailoutbox):
    client.post(SIGNUP, signup_data)
    path = "/" + links_in(mailoutbox[0], CODE_PAGE)[0].split("://", 1)[1].split("/", 1)[1]
    Client().post(path)

    response = client.post(CODE_PAGE, {"action": "verify", "code": code_in(mailoutbox[0])})

    assert response.url == "/dashboard/"
    assert signed_in(client)


def test_a_broken_link_says_so_with_404(client):
    response = client.get("/accounts/confirm-email/not-a-key/")
    assert response.status_code == 404
    assert "This link does not work" in response.content.decode()
    assert client.post("/accounts/confirm-email/not-a-key/").status_code == 404


def test_a_wrong_code_says_so_and_changes_nothing(client, signup_data, mailoutbox):
    client.post(SIGNUP, signup_data)

    response = client.post(CODE_PAGE, {"action": "verify", "code": "BCDF-GHJK"})

    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert not signed_in(client)
    assert not User.objects.get(email=signup_data["email"]).has_verified_email
    # The right code still works after a wrong one.
    assert client.post(CODE_PAGE, {"action": "verify", "code": code_in(mailoutbox[0])}).url == "/dashboard/"


def test_five_wrong_codes_kill_the_code_and_send_to_log_in(client, signup_data, mailoutbox):
    client.post(SIGNUP, signup_data)
    for _ in range(4):
        assert client.post(CODE_PAGE, {"action": "verify", "code": "BCDF-GHJK"}).status_code == 200

    response = client.post(CODE_PAGE, {"action": "verify", "code": "BCDF-GHJK"}, follow=True)

    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert TOO_MANY_MESSAGE in response.content.decode()
    # The right code no longer works: the page itself is gone.
    late = client.post(CODE_PAGE, {"action": "verify", "code": code_in(mailoutbox[0])})
    assert late.status_code == 302 and late.url == "/accounts/login/"
    assert not signed_in(client)
    assert not User.objects.get(email=signup_data["email"]).has_verified_email


def test_an_expired_code_says_so(client, signup_data, mailoutbox):
    client.post(SIGNUP, signup_data)
    session = client.session
    session[EMAIL_VERIFICATION_CODE_SESSION_KEY]["at"] = time.time() - 16 * 60
    session.save()

    response = client.post(CODE_PAGE, {"action": "verify", "code": code_in(mailoutbox[0])}, follow=True)

    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert EXPIRED_MESSAGE in response.content.decode()
    assert not signed_in(client)
    assert not User.objects.get(email=signup_data["email"]).has_verified_email


def test_typed_codes_are_rate_limited_per_ip(signup_data, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "verify_email_code": "3/h/ip"}
    for n in range(3):
        browser = Client()
        browser.post(SIGNUP, {**signup_data, "email": f"n{n}@example.com"})
        assert browser.post(CODE_PAGE, {"action": "verify", "code": "BCDF-GHJK"}).status_code == 200

    assert browser.post(CODE_PAGE, {"action": "verify", "code": "BCDF-GHJK"}).status_code == 429


def test_sign_up_again_forgets_the_pending_code_for_new_and_taken_emails(signup_data):
    ClientFactory(email="taken@example.com")
    for email in ("new.person@example.com", "taken@example.com"):
        browser = Client()
        browser.post(SIGNUP, {**signup_data, "email": email})
        assert browser.get("/accounts/login/").url == CODE_PAGE  # allauth sends back to the pending code

        assert browser.post(CODE_PAGE, {"action": "cancel"}).url == SIGNUP

        assert browser.get("/accounts/login/").status_code == 200
        assert EMAIL_VERIFICATION_CODE_SESSION_KEY not in browser.session


def test_no_code_signs_in_for_a_taken_email(client, signup_data, mailoutbox):
    ClientFactory(email="taken@example.com")
    client.post(SIGNUP, {**signup_data, "email": "taken@example.com"})
    assert not CODE.search(mailoutbox[0].body)  # the owner gets "you already have an account"
    for _ in range(5):
        client.post(CODE_PAGE, {"action": "verify", "code": "BCDF-GHJK"})
    assert not signed_in(client)


def test_a_signed_in_unconfirmed_user_gets_a_code_from_the_banner(client, signup_data, mailoutbox):
    user = ClientFactory(email="later@example.com", verified=False)
    client.force_login(user)

    response = client.post("/account/verify-email/", {"next": "/requests/"})

    assert response.url == CODE_PAGE + "?next=%2Frequests%2F"
    code = code_in(mailoutbox[-1])
    confirmed = client.post(CODE_PAGE + "?next=/requests/", {"action": "verify", "code": code, "next": "/requests/"})
    assert confirmed.url == "/requests/"
    user.refresh_from_db()
    assert user.has_verified_email
