"""Browser journey with the built-in test provider: pay → in progress → timeline → coach's pending earnings."""

import os
import re

import pytest
from playwright.sync_api import expect

from orders.models import OrderStatus
from payments.ledger import reconcile
from payments.models import PaymentStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shot(page, artifacts_dir, name):
    page.screenshot(path=os.path.join(artifacts_dir, f"payments-{name}.png"), full_page=True)


def test_client_pays_with_the_test_provider_and_the_coach_sees_pending_earnings(
    page_as, client_user, coach_user, order, artifacts_dir
):
    client = page_as(client_user)
    client.goto(f"/orders/{order.pk}/")
    panel = client.locator("#payment")
    expect(panel.locator('[data-payment-state="unpaid"]')).to_be_visible()
    _shot(client, artifacts_dir, "order-unpaid")
    panel.get_by_role("button", name=re.compile(r"Pay £120\.00 \(test provider\)")).click()

    expect(client).to_have_url(re.compile(r"/payments/test/\d+/$"))
    expect(client.get_by_role("heading", name="Pay £120.00")).to_be_visible()
    _shot(client, artifacts_dir, "test-checkout")
    client.get_by_role("button", name="Pay", exact=True).click()

    expect(client).to_have_url(re.compile(rf"/payments/checkout/{order.pk}/done/\?payment=\d+$"))
    expect(client.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(client.locator("[data-order-status]")).to_have_text("In progress")
    _shot(client, artifacts_dir, "done")

    client.get_by_role("link", name="Back to the order").click()
    expect(client.locator('#payment [data-payment-state="paid"]')).to_be_visible()
    timeline = client.locator(".timeline")
    expect(timeline).to_contain_text("Payment of £120.00 received (Test provider)")
    _shot(client, artifacts_dir, "order-paid")

    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PROGRESS
    assert order.payments.get().status == PaymentStatus.CAPTURED
    assert reconcile() == []

    coach = page_as(coach_user)
    coach.goto("/dashboard/")
    expect(coach.locator('.coach-earnings [data-earnings="pending"]')).to_have_text("£96.00")
    coach.goto("/payments/earnings/")
    expect(coach.locator(f'tr[data-order="{order.pk}"] [data-cell="pending"]')).to_have_text("£96.00")
    _shot(coach, artifacts_dir, "coach-earnings")

    client.goto("/payments/receipts/")
    client.get_by_role("link", name="Receipt").first.click()
    expect(client.get_by_role("heading", name="Receipt")).to_be_visible()
    _shot(client, artifacts_dir, "receipt")


def test_failed_test_payment_leaves_the_order_unpaid_on_a_small_screen(page_as, client_user, order, artifacts_dir):
    client = page_as(client_user, width=360, height=740)
    client.goto(f"/orders/{order.pk}/")
    client.locator("#payment").get_by_role("button", name=re.compile("test provider")).click()
    _shot(client, artifacts_dir, "test-checkout-360")
    client.get_by_role("button", name="Fail the payment").click()
    expect(client.get_by_role("heading", name="Payment failed")).to_be_visible()
    _shot(client, artifacts_dir, "failed-360")
    client.get_by_role("link", name="Back to the order").click()
    expect(client.locator('#payment [data-payment-state="unpaid"]')).to_be_visible()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
