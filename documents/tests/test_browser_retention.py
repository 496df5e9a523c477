"""In real Chromium: the client of an order whose documents will soon be deleted sees the warning on the
order page (phone and desktop), follows it to "Export my data", asks for the export and downloads the ZIP."""

import os
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from documents import services
from documents.models import OrderRetention
from orders import services as order_services
from orders.models import Order

from . import builders

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 375, "height": 812}


def _order_near_its_deletion(order_with_cv, deliver):
    order = deliver(order_with_cv, builders.CV_V2)
    order = order_services.accept_delivery(order.pk, actor=order.client)
    Order.objects.filter(pk=order.pk).update(completed_at=timezone.now() - timedelta(days=170))
    assert services.warn_before_purge() == 1
    return order


def test_the_client_is_warned_on_the_order_page_and_exports_everything(
    page_as, order_with_cv, deliver, artifacts_dir, tmp_path
):
    order = _order_near_its_deletion(order_with_cv, deliver)
    delete_on = OrderRetention.objects.get(order=order).warned_at + timedelta(days=14)

    desktop = page_as(order.client, width=1280, height=900)
    desktop.goto(f"/orders/{order.pk}/")
    warning = desktop.locator("[data-retention='warning']")
    expect(warning).to_contain_text(f"These documents will be deleted on {delete_on:%-d %B %Y}")
    desktop.screenshot(path=os.path.join(artifacts_dir, "documents-retention-desktop.png"), full_page=True)

    phone = page_as(order.client, **PHONE)
    phone.goto(f"/orders/{order.pk}/")
    expect(phone.locator("[data-retention='warning']")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.screenshot(path=os.path.join(artifacts_dir, "documents-retention-phone.png"), full_page=True)

    phone.locator("[data-retention='warning']").get_by_role("link", name="Export my data").click()
    section = phone.locator("#data-export")
    expect(section).to_be_in_viewport()
    section.get_by_role("button", name="Export my data").click()
    expect(phone.get_by_text("Your data export is ready")).to_be_visible()
    ready = phone.locator("[data-export-ready]")
    expect(ready).to_contain_text("elite-data-export-")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.screenshot(path=os.path.join(artifacts_dir, "account-export-phone.png"), full_page=True)

    with phone.expect_download() as download_info:
        ready.get_by_role("link").click()
    saved = tmp_path / "export.zip"
    download_info.value.save_as(saved)
    names = zipfile.ZipFile(saved).namelist()
    assert "orders/orders.json" in names and any(name.endswith("jane-cv-improved.pdf") for name in names)
