"""Every event that concerns a user notifies them in the app and by email (text + HTML, after commit)."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from notifications.models import Notification
from orders import services as orders
from requests_app import services as requests
from requests_app.tests.factories import ServiceRequestFactory

pytestmark = pytest.mark.django_db


def _deadline():
    return timezone.localdate() + datetime.timedelta(days=10)


def _sent(capture, fn, *args, **kwargs):
    """Run fn, execute its on-commit callbacks, return (result, emails sent)."""
    before = len(mail.outbox)
    with capture(execute=True):
        result = fn(*args, **kwargs)
    return result, mail.outbox[before:]


def _assert_email(message, user, *snippets):
    assert message.to == [user.email]
    html = {ct: body for body, ct in message.alternatives}["text/html"]
    for snippet in snippets:
        assert snippet in message.body
        assert snippet in html
    assert "<html" in html and "<html" not in message.body


def test_request_lifecycle_notifies_and_emails(client_user, coach_user, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    service_request, sent = _sent(
        capture,
        requests.create_request,
        actor=client_user,
        coach_profile=coach_user.coach_profile,
        service_type="cv",
        title="CV for data roles",
        requirements="Move from academia into data science.",
        deadline=_deadline(),
    )
    assert [m.to for m in sent] == [[coach_user.email]]
    _assert_email(sent[0], coach_user, "CV for data roles", f"/requests/{service_request.pk}/")
    assert sent[0].subject.startswith("[Elite Writing Services] New request")

    order, sent = _sent(capture, orders.accept_request, service_request.pk, actor=coach_user)
    _assert_email(sent[0], client_user, "accepted your request", f"/orders/{order.pk}/")
    assert "pay" in sent[0].subject.lower()

    second = ServiceRequestFactory(client=client_user, coach=coach_user.coach_profile, title="Cover letter too")
    _, sent = _sent(capture, requests.reject_request, second.pk, actor=coach_user, reason="Too busy")
    _assert_email(sent[0], client_user, "Too busy")

    third = ServiceRequestFactory(
        client=client_user, coach=coach_user.coach_profile, expires_at=timezone.now() - datetime.timedelta(hours=1)
    )
    _, sent = _sent(capture, requests.expire_requests)
    _assert_email(sent[0], client_user, "expired")
    assert Notification.objects.filter(user=client_user, kind="request_expired", link=f"/requests/{third.pk}/").exists()


def test_order_lifecycle_notifies_the_other_party(order, staff_user, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    client_user, coach_user = order.client, order.coach

    _, sent = _sent(capture, orders.mark_paid, order.pk, actor=None)
    assert sorted(m.to[0] for m in sent) == sorted([client_user.email, coach_user.email])
    assert all("is paid" in m.body for m in sent)

    _, sent = _sent(capture, orders.deliver, order.pk, actor=coach_user, note="v1")
    assert [m.to for m in sent] == [[client_user.email]]
    _assert_email(sent[0], client_user, "was delivered", "completes automatically")

    _, sent = _sent(capture, orders.request_revision, order.pk, actor=client_user, note="Shorter")
    _assert_email(sent[0], coach_user, "revision was requested")

    orders.deliver(order.pk, actor=coach_user)
    _, sent = _sent(capture, orders.accept_delivery, order.pk, actor=client_user)
    _assert_email(sent[0], coach_user, "is complete", "payout")

    _, sent = _sent(capture, orders.submit_review, order.pk, actor=client_user, rating=5, comment="Great")
    _assert_email(sent[0], coach_user, "5-star review")


def test_dispute_notifies_the_other_party_and_staff(paid_order, staff_user, django_capture_on_commit_callbacks):
    _, sent = _sent(
        django_capture_on_commit_callbacks, orders.open_dispute, paid_order.pk, actor=paid_order.client, reason="Late"
    )
    assert sorted(m.to[0] for m in sent) == sorted([paid_order.coach.email, staff_user.email])
    assert Notification.objects.filter(user=staff_user, kind="order_open_dispute").exists()


def test_no_email_before_commit(order, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        orders.mark_paid(order.pk, actor=None)
    assert mail.outbox == []
    # After commit (and only then): each of the two people told gets their email. The other callbacks
    # (the bells' live counts, the metrics of the transition) send nothing.
    for callback in callbacks:
        callback()
    assert sorted(message.to[0] for message in mail.outbox) == sorted([order.client.email, order.coach.email])


def test_inbox_badge_and_mark_read(client, client_user, csrf_client):
    from notifications.services import notify

    first = notify(client_user, "test", "First thing happened", link="/orders/", email=False)
    notify(client_user, "test", "Second thing happened", email=False)
    client.force_login(client_user)
    html = client.get("/notifications/").content.decode()
    assert "First thing happened" in html and "Second thing happened" in html
    assert 'data-unread-badge="notifications">2<' in html
    csrf_client.force_login(client_user)
    csrf_client.get("/notifications/")
    token = csrf_client.cookies["csrftoken"].value
    csrf_client.post("/notifications/read/", {"csrfmiddlewaretoken": token, "id": first.pk})
    assert Notification.objects.filter(user=client_user, read_at__isnull=True).count() == 1
    csrf_client.post("/notifications/read/", {"csrfmiddlewaretoken": token})
    assert not Notification.objects.filter(user=client_user, read_at__isnull=True).exists()


def test_inbox_only_shows_your_own_and_cannot_mark_others(client, client_user, other_client):
    from notifications.services import notify

    theirs = notify(other_client, "test", "Private to someone else", email=False)
    client.force_login(client_user)
    assert "Private to someone else" not in client.get("/notifications/").content.decode()
    client.post("/notifications/read/", {"id": theirs.pk})
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_inbox_query_count_does_not_grow(client, client_user, django_assert_max_num_queries):
    from notifications.services import notify

    client.force_login(client_user)
    notify(client_user, "test", "one", email=False)
    with django_assert_max_num_queries(10) as few:
        client.get("/notifications/")
    for i in range(30):
        notify(client_user, "test", f"n{i}", email=False)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/notifications/")


@pytest.mark.parametrize(
    "kind",
    [
        "request_received",
        "request_accepted",
        "request_reminder",
        "order_deliver",
        "order_accept_delivery",
        "order_mark_paid",
        "review_received",
    ],
)
def test_every_email_kind_renders_text_and_html(client_user, kind):
    from notifications.services import notify
    from notifications.tasks import send_notification_email

    notification = notify(client_user, kind, f"Something about {kind}", link="/orders/1/", email=False)
    context = {"order_id": 1, "is_client": True, "revisions_left": 1, "auto_complete_days": 7}
    send_notification_email.delay(notification.pk, context).get()
    message = mail.outbox[-1]
    _assert_email(message, client_user, f"Something about {kind}", "/orders/1/")
    assert "{{" not in message.body and "{%" not in message.subject
