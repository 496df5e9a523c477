"""The operator console for money: payments, the webhook log with replay, the read-only ledger."""

import json

import pytest
from django.test import Client

from audit.models import AuditLog
from payments import services
from payments.models import LedgerEntry, WebhookEvent, WebhookStatus
from payments.providers import test_provider
from payments.webhooks import deliver_test_event


def signed_test_event(payment, event_type="payment.succeeded"):
    payload = test_provider.build_event(
        event_type, payment=payment.provider_payment_id, amount=payment.amount_minor, currency=payment.currency
    )
    return payload, {"Test-Signature": test_provider.sign(payload)}


@pytest.mark.django_db
def test_staff_see_payments_events_and_ledger(staff_login, order):
    payment = services.start_test_checkout(order.pk, actor=order.client)
    deliver_test_event("payment.succeeded", payment=payment.provider_payment_id, amount=12000, currency="GBP")
    for url in (
        "/admin/payments/payment/",
        f"/admin/payments/payment/{payment.pk}/change/",
        "/admin/payments/webhookevent/",
        "/admin/payments/ledgerentry/",
        "/admin/payments/refund/",
    ):
        assert staff_login.get(url).status_code == 200, url
    events = staff_login.get("/admin/payments/webhookevent/").content.decode()
    assert "payment.succeeded" in events and "Processed" in events
    assert "Refund this payment" in staff_login.get(f"/admin/payments/payment/{payment.pk}/change/").content.decode()


@pytest.mark.django_db
def test_ledger_cannot_be_edited_or_deleted(staff_login, order):
    payment = services.start_test_checkout(order.pk, actor=order.client)
    deliver_test_event("payment.succeeded", payment=payment.provider_payment_id, amount=12000, currency="GBP")
    entry = LedgerEntry.objects.get()
    assert staff_login.get("/admin/payments/ledgerentry/add/").status_code == 403
    page = staff_login.get(f"/admin/payments/ledgerentry/{entry.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    staff_login.post(f"/admin/payments/ledgerentry/{entry.pk}/delete/", {"post": "yes"})
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.django_db
def test_non_staff_cannot_open_the_money_console(client_login):
    response = client_login.get("/admin/payments/payment/")
    # The admin login page, or a 403 where the console hands admin login over to allauth.
    assert response.status_code in (302, 403)


@pytest.mark.django_db
def test_staff_replay_a_failed_event_and_it_is_processed(staff_login, staff_user, order):
    payment = services.start_test_checkout(order.pk, actor=order.client)
    # The event names a payment id that our database does not have (yet): processing fails.
    real_id = payment.provider_payment_id
    type(payment).objects.filter(pk=payment.pk).update(provider_payment_id="tp_not_yet")
    payload, headers = signed_test_event(payment)
    response = Client().post("/payments/webhooks/test/", data=payload, content_type="application/json", headers=headers)
    assert response.status_code == 500
    event = WebhookEvent.objects.get()
    assert event.status == WebhookStatus.FAILED and "does not exist" in event.error
    listing = staff_login.get("/admin/payments/webhookevent/?status=failed").content.decode()
    assert "does not exist" in listing

    type(payment).objects.filter(pk=payment.pk).update(provider_payment_id=real_id)
    staff_login.post(
        "/admin/payments/webhookevent/",
        {"action": "replay_events", "_selected_action": [event.pk]},
    )

    event.refresh_from_db()
    assert event.status == WebhookStatus.PROCESSED and event.attempts == 2
    order.refresh_from_db()
    assert order.status == "in_progress"
    assert AuditLog.objects.filter(action="payment.webhook_replayed", actor=staff_user).exists()


@pytest.mark.django_db
def test_refund_action_opens_the_form_for_one_payment(staff_login, order):
    payment = services.start_test_checkout(order.pk, actor=order.client)
    deliver_test_event("payment.succeeded", payment=payment.provider_payment_id, amount=12000, currency="GBP")
    response = staff_login.post(
        "/admin/payments/payment/", {"action": "refund_selected", "_selected_action": [payment.pk]}
    )
    assert response.status_code == 302 and response["Location"].endswith(f"/payment/{payment.pk}/refund/")


@pytest.mark.django_db
def test_invalid_json_body_with_a_valid_signature_is_400(order):
    payload = b"not json"
    response = Client().post(
        "/payments/webhooks/test/",
        data=payload,
        content_type="application/json",
        headers={"Test-Signature": test_provider.sign(payload)},
    )
    assert response.status_code == 400
    assert json.loads(response.content)["error"]
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_changelists_query_count_does_not_grow(staff_login, client_user, coach_user, django_assert_max_num_queries):
    from orders.tests.factories import make_order

    def add_paid_order():
        order = make_order(client=client_user, coach=coach_user)
        payment = services.start_test_checkout(order.pk, actor=client_user)
        deliver_test_event("payment.succeeded", payment=payment.provider_payment_id, amount=12000, currency="GBP")

    urls = [
        "/admin/payments/payment/",
        "/admin/payments/ledgerentry/",
        "/admin/payments/webhookevent/",
        "/admin/payments/refund/",
    ]
    add_paid_order()
    counts = {}
    for url in urls:
        with django_assert_max_num_queries(30) as captured:
            assert staff_login.get(url).status_code == 200
        counts[url] = len(captured.captured_queries)
    for _ in range(4):
        add_paid_order()
    for url in urls:
        with django_assert_max_num_queries(counts[url]):
            staff_login.get(url)
