"""Per-category email choices: on by default, money always on, and off stops the email, never the inbox row."""

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.urls import reverse

from audit.models import AuditLog
from core.exceptions import DomainError, NotPermitted
from notifications import services
from notifications.models import EmailPreference, Notification, SentEmail
from notifications.tasks import send_notification_email

pytestmark = pytest.mark.django_db


def _notify_and_send(capture, user, kind, text="Something happened"):
    before = len(mail.outbox)
    with capture(execute=True):
        note = services.notify(user, kind, text, link="/orders/")
    return note, mail.outbox[before:]


def test_every_category_is_on_until_the_user_says_otherwise(client_user):
    assert services.email_preferences(client_user) == dict.fromkeys(
        ["money", "request", "delivery", "message", "dispute"], True
    )
    assert not EmailPreference.objects.exists()


def test_the_page_lists_each_category_with_money_locked_on(client, client_user):
    client.force_login(client_user)

    html = client.get(reverse("notifications:preferences")).content.decode()

    for label in ("Money", "Requests", "Deliveries", "Messages", "Disputes"):
        assert f">{label}" in html
    money = html[html.index('id="id_money"') - 200 : html.index('id="id_money"') + 200]
    assert "checked" in money and "disabled" in money
    assert "Always sent" in html and "always sent" in html
    assert 'href="/notifications/preferences/"' in html  # the account menu's entry


def test_switching_a_category_off_stops_its_email_but_keeps_the_notification(
    client, client_user, django_capture_on_commit_callbacks
):
    client.force_login(client_user)
    response = client.post(reverse("notifications:preferences"), {"request": "on", "message": "on", "dispute": "on"})
    assert response.status_code == 302

    assert services.email_preferences(client_user)["delivery"] is False
    note, sent = _notify_and_send(django_capture_on_commit_callbacks, client_user, "order_deliver")
    assert sent == []
    assert Notification.objects.filter(pk=note.pk, category="delivery").exists()
    assert not SentEmail.objects.exists()
    # The others still arrive.
    _, sent = _notify_and_send(django_capture_on_commit_callbacks, client_user, "request_accepted")
    assert [m.to for m in sent] == [[client_user.email]]
    log = AuditLog.objects.get(action="notifications.email_preferences")
    assert log.actor_id == client_user.pk and log.details == {"changed": {"delivery": False}}


def test_money_emails_cannot_be_switched_off(client, client_user, django_capture_on_commit_callbacks):
    client.force_login(client_user)
    client.post(reverse("notifications:preferences"), {"request": "on"})  # money unticked (and disabled)

    assert services.email_preferences(client_user)["money"] is True
    _, sent = _notify_and_send(django_capture_on_commit_callbacks, client_user, "payment_refunded")
    assert len(sent) == 1
    with pytest.raises(DomainError, match="always sent"):
        services.set_email_preferences(client_user, actor=client_user, choices={"money": False})
    with pytest.raises(IntegrityError), transaction.atomic():
        EmailPreference.objects.create(user=client_user, category="money", enabled=False)


def test_a_security_notice_is_emailed_even_with_its_category_off(client_user, django_capture_on_commit_callbacks):
    services.set_email_preferences(client_user, actor=client_user, choices={"delivery": False})

    _, sent = _notify_and_send(django_capture_on_commit_callbacks, client_user, "file_infected")

    assert len(sent) == 1
    assert "List-Unsubscribe" not in sent[0].extra_headers  # a mail app's button would promise too much
    assert "always sent" in sent[0].body


def test_switched_off_after_the_notification_the_task_does_not_send(client_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        note = services.notify(client_user, "order_deliver", "Delivered", link="/orders/")
    services.set_email_preferences(client_user, actor=client_user, choices={"delivery": False})

    for callback in callbacks:
        callback()
    send_notification_email.delay(note.pk, {}).get()  # a redelivery, too

    assert mail.outbox == []
    assert not SentEmail.objects.exists()


def test_bad_choices_change_nothing(client_user, other_client):
    with pytest.raises(DomainError, match="Unknown email category"):
        services.set_email_preferences(client_user, actor=client_user, choices={"spam": False})
    with pytest.raises(NotPermitted):
        services.set_email_preferences(client_user, actor=other_client, choices={"request": False})
    assert not EmailPreference.objects.exists() and not AuditLog.objects.exists()


def test_saving_the_same_choices_twice_writes_one_audit_row(client, client_user):
    client.force_login(client_user)
    for _ in range(2):
        client.post(reverse("notifications:preferences"), {"request": "on", "delivery": "on", "message": "on"})

    assert EmailPreference.objects.get(user=client_user).category == "dispute"
    assert AuditLog.objects.filter(action="notifications.email_preferences").count() == 1


def test_switching_back_on_sends_again(client_user, django_capture_on_commit_callbacks):
    services.set_email_preferences(client_user, actor=client_user, choices={"dispute": False})
    services.set_email_preferences(client_user, actor=client_user, choices={"dispute": True})

    _, sent = _notify_and_send(django_capture_on_commit_callbacks, client_user, "dispute_statement")

    assert len(sent) == 1


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(reverse("notifications:preferences"))

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
