"""Email digests: one per thread per interval for offline participants, never one per message."""

import datetime

from django.core import mail
from django.core.cache import cache
from django.utils import timezone

from messaging import realtime, services
from messaging.models import ThreadReadState
from messaging.tasks import send_chat_digests


def test_offline_participant_gets_one_digest_for_many_messages(
    thread, client_user, coach_user, settings, django_capture_on_commit_callbacks
):
    for n in range(3):
        services.send_message(thread, actor=coach_user, body=f"Question {n}")
    with django_capture_on_commit_callbacks(execute=True):
        assert send_chat_digests() == 1
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [client_user.email]
    assert "3 new messages" in email.subject
    assert "Question 0" in email.body and "Question 2" in email.body
    assert f"/threads/{thread.pk}/" in email.body
    # Run again straight away (a beat tick, a retried task): nothing more is sent.
    with django_capture_on_commit_callbacks(execute=True):
        assert send_chat_digests() == 0
    assert len(mail.outbox) == 1


def test_next_digest_only_after_the_interval_and_only_new_messages(
    thread, client_user, coach_user, settings, django_capture_on_commit_callbacks
):
    settings.CHAT_EMAIL_DIGEST_MINUTES = 15
    services.send_message(thread, actor=coach_user, body="First")
    with django_capture_on_commit_callbacks(execute=True):
        services.send_digests()
    services.send_message(thread, actor=coach_user, body="Second")
    later = timezone.now() + datetime.timedelta(minutes=5)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.send_digests(now=later) == 0
    much_later = timezone.now() + datetime.timedelta(minutes=16)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.send_digests(now=much_later) == 1
    assert len(mail.outbox) == 2
    assert "Second" in mail.outbox[1].body and "First" not in mail.outbox[1].body


def test_read_messages_and_online_users_get_no_email(
    thread, client_user, coach_user, django_capture_on_commit_callbacks
):
    services.send_message(thread, actor=coach_user, body="Hello")  # the coach has read their own message
    cache.set(realtime.presence_key(client_user.pk), 1, 60)  # the client has the site open
    with django_capture_on_commit_callbacks(execute=True):
        assert services.send_digests() == 0
    assert mail.outbox == []
    cache.delete(realtime.presence_key(client_user.pk))
    services.mark_read(thread, actor=client_user)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.send_digests() == 0
    assert mail.outbox == []
    assert ThreadReadState.objects.filter(last_emailed_at__isnull=False).count() == 0


def test_switching_message_emails_off_stops_the_digest_and_every_digest_can_unsubscribe(
    thread, client_user, coach_user, django_capture_on_commit_callbacks
):
    from notifications.services import set_email_preferences

    services.send_message(thread, actor=coach_user, body="Are you there?")
    with django_capture_on_commit_callbacks(execute=True):
        assert send_chat_digests() == 1
    email = mail.outbox[0]
    html = email.alternatives[0][0]
    assert "/notifications/unsubscribe/" in email.body and "/notifications/unsubscribe/" in html
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    set_email_preferences(client_user, actor=client_user, choices={"message": False})
    services.send_message(thread, actor=coach_user, body="Hello again")
    later = timezone.now() + datetime.timedelta(minutes=60)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.send_digests(now=later) == 0
    assert len(mail.outbox) == 1
