"""Each way a dispute can end is told as it is: on the timeline, in both parties' notifications and emails."""

import pytest
from django.core import mail

from notifications.models import Notification
from orders.models import OrderEvent
from orders.templatetags.order_timeline import event_label
from payments import services


def resolve(order, staff_user, refund_minor, capture):
    with capture(execute=True):
        services.resolve_dispute(order.pk, actor=staff_user, refund_minor=refund_minor, note="Decided on the evidence.")
    order.refresh_from_db()
    return OrderEvent.objects.filter(order=order).order_by("-id").first()


def texts_for(order, user):
    return list(
        Notification.objects.filter(
            user=user, link__endswith=f"/orders/{order.pk}/", kind__startswith="order_resolve"
        ).values_list("text", flat=True)
    )


@pytest.mark.django_db
def test_a_release_says_the_whole_payment_goes_to_the_coach(
    disputed_order, staff_user, django_capture_on_commit_callbacks
):
    event = resolve(disputed_order, staff_user, 0, django_capture_on_commit_callbacks)
    assert disputed_order.status == "completed"
    assert event_label(event)["label"] == "Dispute resolved: payment released to the coach"
    for user in (disputed_order.client, disputed_order.coach):
        assert texts_for(disputed_order, user) == [
            f"The dispute on order #{disputed_order.pk} “{disputed_order.title}” was resolved: the whole payment "
            "goes to the coach."
        ]


@pytest.mark.django_db
def test_a_partial_refund_names_the_amount_and_where_the_rest_goes(
    disputed_order, staff_user, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    event = resolve(disputed_order, staff_user, 3000, django_capture_on_commit_callbacks)
    assert disputed_order.status == "completed"
    assert event_label(event)["label"] == "Dispute resolved: partial refund, the rest to the coach"
    assert event.note.startswith("£30.00 was refunded to the client; the rest of the payment goes to the coach.")
    expected = (
        f"The dispute on order #{disputed_order.pk} “{disputed_order.title}” was resolved: £30.00 is refunded to "
        "the client and the rest of the payment goes to the coach."
    )
    for user in (disputed_order.client, disputed_order.coach):
        assert texts_for(disputed_order, user) == [expected]
        assert "payment released" not in " ".join(texts_for(disputed_order, user))
    bodies = [message.body for message in mail.outbox if disputed_order.client.email in message.to]
    assert any("£30.00 is refunded to the client" in body for body in bodies)


@pytest.mark.django_db
def test_a_full_refund_says_the_client_is_refunded_in_full(
    disputed_order, staff_user, django_capture_on_commit_callbacks
):
    event = resolve(disputed_order, staff_user, disputed_order.amount_minor, django_capture_on_commit_callbacks)
    assert disputed_order.status == "cancelled"
    assert event_label(event)["label"] == "Dispute resolved: full refund to the client"
    for user in (disputed_order.client, disputed_order.coach):
        assert texts_for(disputed_order, user) == [
            f"The dispute on order #{disputed_order.pk} “{disputed_order.title}” was resolved: the client is "
            "refunded in full."
        ]
