"""Receipts on a phone: the list fits 375 px, a receipt opens and its PDF downloads."""

import os

import pytest
from playwright.sync_api import expect

from .test_pages import pay

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [320, 375, 1280])
def test_receipts_fit_the_screen_and_download_as_pdf(page_as, order, width, artifacts_dir):
    payment = pay(order)
    page = page_as(order.client, width=width)
    page.goto("/payments/receipts/")
    expect(page.get_by_role("link", name=f"Receipt for order #{order.pk}", exact=True)).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    page.screenshot(path=os.path.join(artifacts_dir, f"receipts-{width}.png"), full_page=True)

    page.get_by_role("link", name=f"Receipt for order #{order.pk}", exact=True).click()
    expect(page.get_by_role("heading", name="Receipt")).to_be_visible()
    expect(page.get_by_text("Platform fee (included)")).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    page.screenshot(path=os.path.join(artifacts_dir, f"receipt-{width}.png"), full_page=True)
    with page.expect_download() as info:
        page.get_by_role("link", name="Download PDF").click()
    assert info.value.suggested_filename == f"receipt-EWS-{payment.pk}.pdf"
    page.emulate_media(media="print")
    expect(page.locator(".receipt-actions")).to_be_hidden()
    expect(page.locator("nav.navbar").first).to_be_hidden()
