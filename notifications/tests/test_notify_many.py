"""notify_many: the rows and emails of one notify per user, for less work (one INSERT, one task, one push check)."""

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications import services
from notifications.models import Notification, SentEmail
from notifications.signals import unread_changed
from notifications.tasks import send_notification_emails

pytestmark = pytest.mark.django_db


def test_each_recipient_gets_their_row_and_their_email(client_user, coach_user, django_capture_on_commit_callbacks):
    recipients = [(client_user, {"order_id": 7, "is_client": True}), (coach_user, {"order_id": 7, "is_client": False})]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        rows = services.notify_many(recipients, "order_mark_paid", "Order #7 is paid.", link="/orders/7/")

    assert [row.user for row in rows] == [client_user, coach_user]
    stored = Notification.objects.filter(kind="order_mark_paid").order_by("pk")
    assert [(n.user_id, n.category, n.text, n.link) for n in stored] == [
        (client_user.pk, "money", "Order #7 is paid.", "/orders/7/"),
        (coach_user.pk, "money", "Order #7 is paid.", "/orders/7/"),
    ]
    assert sorted(message.to[0] for message in mail.outbox) == sorted([client_user.email, coach_user.email])
    assert len(callbacks) == 2, "one for the unread counts of both users, one task for both emails"


def test_the_rows_are_one_insert(client_user, coach_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(), CaptureQueriesContext(connection) as captured:
        services.notify_many([(client_user, None), (coach_user, None)], "order_mark_paid", "Paid.")

    inserts = [q["sql"] for q in captured.captured_queries if q["sql"].startswith('INSERT INTO "notifications_')]
    assert len(inserts) == 1


def test_the_unread_change_is_announced_once_for_both_users(
    client_user, coach_user, django_capture_on_commit_callbacks
):
    seen = []

    def receiver(sender, **kwargs):
        seen.append(kwargs["user_ids"])

    unread_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.notify_many([(client_user, None), (coach_user, None)], "order_mark_paid", "Paid.", email=False)
    finally:
        unread_changed.disconnect(receiver)
    assert seen == [(client_user.pk, coach_user.pk)]


def test_both_bells_and_recent_lists_are_fresh_at_once(client_user, coach_user, django_capture_on_commit_callbacks):
    assert services.recent(client_user) == [] and services.recent(coach_user) == []  # cached empty

    with django_capture_on_commit_callbacks(execute=True):
        services.notify_many([(client_user, None), (coach_user, None)], "order_mark_paid", "Paid.", email=False)

    assert [n.text for n in services.recent(client_user)] == ["Paid."]
    assert [n.text for n in services.recent(coach_user)] == ["Paid."]


def test_a_redelivered_batch_sends_each_email_once(client_user, coach_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        rows = services.notify_many([(client_user, None), (coach_user, None)], "order_mark_paid", "Paid.")
    assert len(mail.outbox) == 2

    send_notification_emails.delay([(row.pk, {}) for row in rows]).get()  # the broker delivers it again

    assert len(mail.outbox) == 2
    assert set(SentEmail.objects.values_list("key", flat=True)) == {f"notification:{row.pk}" for row in rows}


def test_a_recipient_who_switched_the_category_off_gets_the_row_only(
    client_user, coach_user, django_capture_on_commit_callbacks
):
    services.set_email_preferences(coach_user, actor=coach_user, choices={"request": False})

    with django_capture_on_commit_callbacks(execute=True):
        services.notify_many([(client_user, None), (coach_user, None)], "request_received", "A new request.")

    assert Notification.objects.filter(kind="request_received").count() == 2
    assert [message.to for message in mail.outbox] == [[client_user.email]]


def test_one_recipient_is_a_plain_notify(client_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        (row,) = services.notify_many([(client_user, None)], "order_mark_paid", "Paid.")
    assert row.category == "money" and [m.to for m in mail.outbox] == [[client_user.email]]


@pytest.mark.parametrize("parties", [1, 2])
def test_the_email_task_s_message_shows_the_ids_and_carries_every_context(
    parties, client_user, coach_user, django_capture_on_commit_callbacks, monkeypatch
):
    """The message published after commit (notify: one email, notify_many: several) names the notifications in
    its argsrepr header, what the worker's log and monitoring show, instead of Celery's repr of every email's
    context; the task's arguments still carry the contexts whole. Published for real, to an in-memory broker
    (tests otherwise run tasks eagerly, and nothing else reads from this one)."""
    from celery.app.task import Task
    from kombu import Connection

    from elite.celery import app as celery_app

    recipients = [(client_user, {"order_id": 7, "is_client": True}), (coach_user, {"order_id": 7, "is_client": False})]
    recipients = recipients[:parties]
    apply_async = Task.apply_async
    with Connection("memory://") as broker, broker.Producer() as producer:

        def to_memory(self, args=None, kwargs=None, **options):
            return apply_async(self, args, kwargs, producer=producer, **options)

        monkeypatch.setattr(Task, "apply_async", to_memory)
        celery_app.conf.task_always_eager = False  # the conftest makes it eager again for the next test
        try:
            with django_capture_on_commit_callbacks(execute=True):
                rows = services.notify_many(recipients, "order_mark_paid", "Paid.")
        finally:
            celery_app.conf.task_always_eager = True
        queue = broker.SimpleQueue(celery_app.conf.task_default_queue)
        try:
            message = queue.get(timeout=1)
            message.ack()
        finally:
            queue.close()

    emails = [[row.pk, context] for row, (_, context) in zip(rows, recipients, strict=True)]
    assert message.headers["argsrepr"] == f"(notifications {[row.pk for row in rows]!r})"
    assert message.headers["kwargsrepr"] == "{}"
    args, kwargs, _ = message.decode()
    assert (args, kwargs) == ((emails[0] if parties == 1 else [emails]), {})
    assert message.headers["task"] == f"notifications.tasks.send_notification_email{'s' if parties > 1 else ''}"
    assert mail.outbox == []  # published, not run here
