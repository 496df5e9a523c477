"""Signup with a taken email does the same work as a new one, so its time does not tell them apart
(DESIGN §7): one password hash and one email through the same Celery task, at signup and when a new code
is asked for; the code page answers alike to a wrong code. Counted, not timed."""

import re

import pytest
from celery.signals import task_prerun
from django.test import Client

from accounts.tests.factories import ClientFactory
from accounts.tests.hashers import CountingHasher

pytestmark = pytest.mark.django_db

CODE_PAGE = "/accounts/confirm-email/"
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def work_of(browser, url, data) -> tuple[int, list[str], int, str]:
    tasks: list[str] = []

    def record(sender=None, **kwargs):
        tasks.append(sender.name)

    task_prerun.connect(record, weak=False)
    CountingHasher.calls = 0
    try:
        response = browser.post(url, data)
    finally:
        task_prerun.disconnect(record)
    return CountingHasher.calls, tasks, response.status_code, response.get("Location", "")


@pytest.fixture
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = ["accounts.tests.hashers.CountingHasher"]


def test_a_taken_email_costs_one_hash_and_one_email_task_like_a_new_one(signup_data, counting_hasher, mailoutbox):
    ClientFactory(email="taken@example.com")

    new = work_of(Client(), "/accounts/signup/", signup_data)
    taken = work_of(Client(), "/accounts/signup/", {**signup_data, "email": "taken@example.com"})

    assert new == taken == (1, ["accounts.tasks.send_rendered_email"], 302, CODE_PAGE)
    assert [m.to for m in mailoutbox] == [["new.person@example.com"], ["taken@example.com"]]


def test_asking_for_a_new_code_costs_one_email_task_for_a_taken_email_too(
    signup_data, counting_hasher, mailoutbox, settings
):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "confirm_email": "5/m/key"}
    ClientFactory(email="taken@example.com")
    answers = []
    for email in ("new.person@example.com", "taken@example.com"):
        browser = Client()
        browser.post("/accounts/signup/", {**signup_data, "email": email})
        answers.append(work_of(browser, CODE_PAGE, {"action": "resend"}))

    assert answers[0] == answers[1] == (0, ["accounts.tasks.send_rendered_email"], 302, CODE_PAGE)
    assert [m.to[0] for m in mailoutbox] == ["new.person@example.com"] * 2 + ["taken@example.com"] * 2
    assert "already have an account" in mailoutbox[-1].body


def test_a_wrong_code_gets_the_same_page_for_a_taken_and_a_new_email(signup_data):
    ClientFactory(email="taken@example.com")
    pages = []
    for email in ("new.person@example.com", "taken@example.com"):
        browser = Client()
        browser.post("/accounts/signup/", {**signup_data, "email": email})
        response = browser.post(CODE_PAGE, {"action": "verify", "code": "BCDF-GHJK"})
        pages.append((response.status_code, CSRF_FIELD.sub("", response.content.decode().replace(email, "X"))))

    assert pages[0] == pages[1]
    assert pages[0][0] == 200
    assert "That code is not right" in pages[0][1]
    assert "4 tries left for this code." in pages[0][1]
