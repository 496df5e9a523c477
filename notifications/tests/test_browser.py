"""On a phone the bell keeps its count in sight, and clicking a notification reads it."""

import re

import pytest
from playwright.sync_api import expect

from notifications.services import notify

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_phone_bell_shows_the_count_and_a_clicked_notification_is_read(page_as, client_user, artifacts_dir):
    notify(client_user, "test", "Your CV draft is ready", link="/orders/", email=False)
    notify(client_user, "test", "Your coach replied", link="/threads/", email=False)
    page = page_as(client_user, width=375, height=800)

    page.goto("/dashboard/")
    bell = page.locator(".navbar-quick [data-unread-badge=notifications]")
    expect(bell).to_be_visible()  # without opening the folded menu
    expect(bell).to_have_text("2")
    page.screenshot(path=f"{artifacts_dir}/notifications-phone-navbar.png")

    page.locator(".navbar-quick a[aria-label^=Notifications]").click()
    page.get_by_role("link", name="Your CV draft is ready").click()

    expect(page).to_have_url(re.compile(r"/orders/$"))
    expect(page.locator(".navbar-quick [data-unread-badge=notifications]")).to_have_text("1")


def test_a_rows_mark_read_button_reads_that_notification_only(page_as, client_user):
    """The rows are cached without a CSRF token: each button submits the page's one form with its own id."""
    notify(client_user, "test", "First note", email=False)
    notify(client_user, "test", "Second note", email=False)
    page = page_as(client_user)
    page.goto("/notifications/")
    page.get_by_role("button", name="Mark read: First note").click()
    expect(page).to_have_url(re.compile(r"/notifications/$"))
    expect(page.get_by_role("button", name="Mark read: Second note")).to_be_visible()
    expect(page.get_by_role("button", name="Mark read: First note")).to_have_count(0)
    expect(page.locator("[data-unread-badge=notifications]").first).to_have_text("1")
