"""Signup with a taken email does the same work as a new one, so its time does not tell them apart
(DESIGN §7): one password hash and one email through the same Celery task. Counted, not timed."""

import pytest
from celery.signals import task_prerun

from accounts.tests.factories import ClientFactory
from accounts.tests.hashers import CountingHasher

pytestmark = pytest.mark.django_db


def work_of_signup(client, data) -> tuple[int, list[str]]:
    tasks: list[str] = []

    def record(sender=None, **kwargs):
        tasks.append(sender.name)

    task_prerun.connect(record, weak=False)
    CountingHasher.calls = 0
    try:
        response = client.post("/accounts/signup/", data)
    finally:
        task_prerun.disconnect(record)
    assert response.status_code == 302
    return CountingHasher.calls, tasks


def test_a_taken_email_costs_one_hash_and_one_email_task_like_a_new_one(client, signup_data, settings, mailoutbox):
    settings.PASSWORD_HASHERS = ["accounts.tests.hashers.CountingHasher"]
    ClientFactory(email="taken@example.com")

    new = work_of_signup(client, signup_data)
    taken = work_of_signup(client, {**signup_data, "email": "taken@example.com"})

    assert new == taken == (1, ["accounts.tasks.send_rendered_email"])
    assert [m.to for m in mailoutbox] == [["new.person@example.com"], ["taken@example.com"]]
