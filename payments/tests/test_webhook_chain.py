"""A Stripe delivery through the real WSGI entry point (elite/handlers.py's short middleware chain)."""

import pytest
from django.test import Client

from audit.models import AuditLog
from elite.tests.wsgi_client import WsgiClient
from orders.models import OrderEvent, OrderStatus
from payments.ledger import reconcile
from payments.models import LedgerEntry, Payment, PaymentStatus, WebhookEvent, WebhookStatus

from .conftest import post_stripe
from .fakes import stripe_event


@pytest.mark.django_db
def test_a_signed_completion_through_the_short_chain_pays_the_order(fake_stripe, client_user, order):
    client = Client()
    client.force_login(client_user)
    client.post(f"/payments/checkout/{order.pk}/stripe/")
    payment = Payment.objects.get(order=order)
    event = stripe_event("checkout.session.completed", fake_stripe.pay(payment.provider_payment_id))

    response = post_stripe(WsgiClient(), event)

    assert response.status_code == 200 and response.json()["status"] == "processed"
    assert "set-cookie" not in response.headers
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED
    assert order.status == OrderStatus.IN_PROGRESS
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.IN_PROGRESS).count() == 1
    charge = LedgerEntry.objects.get(payment=payment)
    assert (charge.gross_minor, charge.fee_minor, charge.payout_minor) == (12000, 2400, 9600)
    assert WebhookEvent.objects.get(event_id=event["id"]).status == WebhookStatus.PROCESSED
    assert AuditLog.objects.filter(action="payment.captured", target_id=str(payment.pk)).exists()
    assert reconcile() == []

    again = post_stripe(WsgiClient(), event)  # redelivered: acknowledged, nothing twice
    assert again.status_code == 200
    assert LedgerEntry.objects.filter(payment=payment).count() == 1
