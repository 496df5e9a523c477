"""In real Chromium on a phone: the client reads delivery 1, comments on two passages, requests a
revision from them, and sees the redline of delivery 2 with those passages changed and the score moved."""

import os
import re

import pytest
from playwright.sync_api import expect

from documents import services
from orders.models import OrderStatus

from . import builders

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 375, "height": 740}
JOB = (
    "Project Manager with Agile experience. You will lead a team of engineers and deliver releases on time. "
    "Experience with Jira and Agile delivery is required. Budget management and stakeholder communication."
)


def _shot(page, artifacts_dir, name):
    page.screenshot(path=os.path.join(artifacts_dir, f"documents-{name}.png"), full_page=True)


def _comment_on(page, passage: str, body: str):
    page.locator("[data-doc-text] li", has_text=passage).select_text()
    form = page.locator("[data-comment-form]")
    expect(form).to_be_visible()
    expect(form.locator("textarea[name=quote]")).to_have_value(passage)
    form.get_by_label("Your comment").fill(body)
    form.get_by_role("button", name="Add comment").click()
    expect(page.get_by_text(body)).to_be_visible()


def test_client_reads_comments_revises_and_sees_the_redline_on_a_phone(page_as, order_with_cv, deliver, artifacts_dir):
    order = deliver(order_with_cv, builders.CV_V1)
    services.add_job_description(order, actor=order.client, title="PM at Gamma", text=JOB)
    phone = page_as(order.client, **PHONE)
    phone.goto(f"/orders/{order.pk}/")
    phone.get_by_role("link", name="Read").last.click()
    expect(phone.get_by_role("heading", name="EXPERIENCE")).to_be_visible()
    expect(phone.get_by_role("link", name="Open the original")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    _shot(phone, artifacts_dir, "read-phone")

    _comment_on(phone, "Managed a team of five engineers", "Say what the team delivered.")
    _comment_on(phone, "Ran weekly planning meetings", "What changed because of them?")
    expect(phone.locator("mark.commented")).to_have_count(2)
    phone.reload()
    expect(phone.locator("mark.commented")).to_have_count(2)
    _shot(phone, artifacts_dir, "comments-phone")
    phone.get_by_role("button", name=re.compile("Request a revision with 2 comments")).click()
    expect(phone.get_by_text("Revision requested with your comments")).to_be_visible()
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PROGRESS
    assert "“Managed a team of five engineers” — Say what the team delivered." in order.events.last().note

    deliver(order, builders.CV_V2, "jane-cv-v2.pdf")
    phone.goto(f"/documents/orders/{order.pk}/compare/")
    expect(phone.locator("[data-summary]")).to_have_text(
        re.compile(r"\d+ words added, \d+ removed, \d+ sections? changed")
    )
    expect(phone.locator(".redline ins").first).to_be_visible()
    expect(phone.locator(".redline del").first).to_be_visible()
    expect(phone.locator("[data-passage]", has_text="Managed a team")).to_contain_text("Changed")
    expect(phone.locator("[data-passage]", has_text="Ran weekly planning")).to_contain_text("Changed")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    _shot(phone, artifacts_dir, "redline-phone")

    phone.get_by_role("link", name="Job match").click()
    change = phone.locator("[data-version='d2.1'] [data-change]")
    expect(change).to_have_text(re.compile(r"\(\+\d+ since the version before\)"))
    _shot(phone, artifacts_dir, "report-phone")
