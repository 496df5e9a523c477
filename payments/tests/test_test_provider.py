"""The built-in test provider: a local checkout page that posts signed events to ourselves."""

import json

import pytest
from django.test import Client

from orders.models import OrderEvent, OrderStatus
from payments.models import LedgerEntry, Payment, PaymentStatus, WebhookEvent, WebhookStatus
from payments.providers import test_provider


@pytest.fixture
def test_payment(client_login, order):
    response = client_login.post(f"/payments/checkout/{order.pk}/test/")
    payment = Payment.objects.get(order=order)
    assert response.status_code == 302 and response["Location"] == f"/payments/test/{payment.pk}/"
    return payment


@pytest.mark.django_db
def test_pay_on_the_test_page_pays_the_order_through_the_webhook_path(client_login, order, test_payment):
    page = client_login.get(f"/payments/test/{test_payment.pk}/")
    assert page.status_code == 200 and "Pay £120.00" in page.content.decode()

    response = client_login.post(f"/payments/test/{test_payment.pk}/submit/", {"action": "pay"})

    assert response.status_code == 302
    assert response["Location"] == f"/payments/checkout/{order.pk}/done/?payment={test_payment.pk}"
    test_payment.refresh_from_db()
    order.refresh_from_db()
    assert test_payment.status == PaymentStatus.CAPTURED and order.status == OrderStatus.IN_PROGRESS
    event = WebhookEvent.objects.get(provider="test")
    assert event.event_type == "payment.succeeded" and event.status == WebhookStatus.PROCESSED
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.IN_PROGRESS, note__contains="£120.00").exists()
    done = client_login.get(response["Location"])
    assert 'data-payment-state="paid"' in done.content.decode()


@pytest.mark.django_db
def test_pay_form_needs_csrf(client_user, order, test_payment):
    c = Client(enforce_csrf_checks=True)
    c.force_login(client_user)
    assert c.post(f"/payments/test/{test_payment.pk}/submit/", {"action": "pay"}).status_code == 403
    page = c.get(f"/payments/test/{test_payment.pk}/")
    token = page.cookies["csrftoken"].value
    ok = c.post(f"/payments/test/{test_payment.pk}/submit/", {"action": "pay", "csrfmiddlewaretoken": token})
    assert ok.status_code == 302


@pytest.mark.django_db
def test_fail_on_the_test_page_leaves_the_order_unpaid(client_login, order, test_payment):
    client_login.post(f"/payments/test/{test_payment.pk}/submit/", {"action": "fail"})
    test_payment.refresh_from_db()
    order.refresh_from_db()
    assert test_payment.status == PaymentStatus.FAILED and order.status == OrderStatus.PENDING
    assert not LedgerEntry.objects.exists()
    done = client_login.get(f"/payments/checkout/{order.pk}/done/?payment={test_payment.pk}")
    assert 'data-payment-state="failed"' in done.content.decode()
    # and the client can try again
    assert client_login.post(f"/payments/checkout/{order.pk}/test/").status_code == 302


@pytest.mark.django_db
def test_no_action_is_a_400(client_login, test_payment):
    response = client_login.post(f"/payments/test/{test_payment.pk}/submit/", {"action": "steal"})
    assert response.status_code == 400
    test_payment.refresh_from_db()
    assert test_payment.status == PaymentStatus.CREATED


@pytest.mark.django_db
def test_another_users_test_payment_is_404(other_client, test_payment):
    c = Client()
    c.force_login(other_client)
    assert c.get(f"/payments/test/{test_payment.pk}/").status_code == 404
    assert c.post(f"/payments/test/{test_payment.pk}/submit/", {"action": "pay"}).status_code == 404
    test_payment.refresh_from_db()
    assert test_payment.status == PaymentStatus.CREATED


@pytest.mark.django_db
def test_a_forged_test_event_is_refused(test_payment):
    payload = json.dumps(
        {"id": "evt_forged", "type": "payment.succeeded", "data": {"payment": test_payment.provider_payment_id}}
    ).encode()
    response = Client().post(
        "/payments/webhooks/test/",
        data=payload,
        content_type="application/json",
        headers={"Test-Signature": "t=1,v1=deadbeef"},
    )
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_a_correctly_signed_test_event_over_http_is_processed(test_payment, order):
    payload = test_provider.build_event(
        "payment.succeeded", payment=test_payment.provider_payment_id, amount=12000, currency="GBP"
    )
    response = Client().post(
        "/payments/webhooks/test/",
        data=payload,
        content_type="application/json",
        headers={"Test-Signature": test_provider.sign(payload)},
    )
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PROGRESS


@pytest.mark.django_db
def test_with_debug_off_the_test_provider_does_not_exist(client_login, order, test_payment, settings):
    # What elite/settings.py computes with DEBUG off (see the next test).
    settings.DEBUG = False
    settings.TEST_PAYMENTS_ENABLED = False
    assert client_login.post(f"/payments/checkout/{order.pk}/test/").status_code == 404
    assert client_login.get(f"/payments/test/{test_payment.pk}/").status_code == 404
    assert client_login.post(f"/payments/test/{test_payment.pk}/submit/", {"action": "pay"}).status_code == 404
    assert Client().post("/payments/webhooks/test/", data=b"{}", content_type="application/json").status_code == 404
    test_payment.refresh_from_db()
    assert test_payment.status == PaymentStatus.CREATED


def test_settings_force_the_test_provider_off_without_debug():
    """elite/settings.py ties TEST_PAYMENTS_ENABLED to DEBUG, whatever the environment says."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DEBUG": "false",
        "TEST_PAYMENTS_ENABLED": "true",
        "SECRET_KEY": "x" * 60,
        "ALLOWED_HOSTS": "example.com",
        "CLAMD_URL": "tcp://127.0.0.1:3310",
    }
    code = "import elite.settings as s; print(s.DEBUG, s.TEST_PAYMENTS_ENABLED)"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.split()[-2:] == ["False", "False"]
