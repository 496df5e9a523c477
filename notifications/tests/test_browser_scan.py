"""In Chromium, on a desktop and a phone: an inbox you can scan, mark-all-read, email choices, unsubscribing.

axe-core finds nothing on any of the pages, nothing scrolls sideways at 375 px, and the screenshots in
artifacts/ are the ones looked at for the notes.
"""

import datetime
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from notifications import services
from notifications.models import Notification

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
AXE_RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}}
SIZES = [pytest.param(1280, 900, id="desktop"), pytest.param(375, 812, id="phone")]


def _axe(page) -> list[str]:
    page.evaluate(AXE.read_text())
    found = page.evaluate(
        "async (o) => (await window.axe.run(document, o)).violations"
        ".map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))",
        AXE_RULES,
    )
    return found


WIDEST = """() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1)
  .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""


def _no_sideways_scroll(page) -> None:
    wide = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert not wide, f"scrolls sideways: {page.evaluate(WIDEST)}"


def _inbox_of(user) -> None:
    rows = [
        ("payment_refunded", "£20.00 was refunded for order #12.", 0, False),
        ("request_received", "New request from Ana Silva: “CV for a data analyst role” (CV).", 0, False),
        ("dispute_statement", "Sam Jones gave a statement on the dispute about order #9 “LinkedIn refresh”.", 0, False),
        ("order_deliver", "Order #12 “Cover letter for Acme” was delivered. Review the files and accept.", 0, True),
        ("order_mark_paid", "Order #12 “Cover letter for Acme” is paid; work has started.", 1, True),
        ("review_reply", "Sam Jones replied to your review of order #7.", 3, True),
    ]
    for kind, text, days, read in rows:
        note = services.notify(user, kind, text, link="/orders/", email=False)
        when = timezone.now() - datetime.timedelta(days=days, minutes=5)
        Notification.objects.filter(pk=note.pk).update(created_at=when, read_at=timezone.now() if read else None)


@pytest.mark.parametrize("width, height", SIZES)
def test_the_inbox_groups_unread_first_filters_by_type_and_marks_all_read(
    page_as, client_user, artifacts_dir, width, height
):
    _inbox_of(client_user)
    page = page_as(client_user, width=width, height=height)
    page.set_default_timeout(30_000)  # two cores shared by six engineers: the first page can be slow

    page.goto("/notifications/")
    groups = page.locator(".notification-group-title")
    expect(groups).to_have_text([re.compile("Unread"), "Today", "Yesterday", re.compile(r"\w+day \d+ \w+")])
    unread = page.locator(".notification-row.is-unread")
    expect(unread).to_have_count(3)
    expect(unread.first.locator(".notification-icon i")).to_have_class(re.compile("bi-"))
    expect(page.locator(".notification-row[data-category=money] .notification-meta").first).to_contain_text("Money")
    _no_sideways_scroll(page)
    assert _axe(page) == []
    page.screenshot(path=f"{artifacts_dir}/notifications-inbox-{width}.png", full_page=True)

    page.get_by_role("link", name=re.compile(r"^Disputes")).click()
    expect(page).to_have_url(re.compile(r"category=dispute"))
    expect(page.locator(".notification-row")).to_have_count(1)
    expect(page.locator(".notification-row")).to_contain_text("statement on the dispute")

    page.get_by_role("button", name="Mark all read").click()
    expect(page).to_have_url(re.compile(r"category=dispute"))  # back where the reader was
    expect(page.locator(".notification-row.is-unread")).to_have_count(0)
    expect(page.get_by_role("button", name="Mark all read")).to_have_count(0)
    expect(page.locator("[data-unread-badge=notifications]").first).to_be_hidden()
    assert not Notification.objects.filter(user=client_user, read_at__isnull=True).exists()
    page.goto("/notifications/")
    assert _axe(page) == []


@pytest.mark.parametrize("width, height", SIZES)
def test_email_choices_save_and_money_stays_on(page_as, client_user, artifacts_dir, width, height):
    page = page_as(client_user, width=width, height=height)
    page.set_default_timeout(30_000)

    page.goto("/account/profile/")
    page.get_by_role("navigation", name="Account settings").get_by_role("link", name="Email notifications").click()
    expect(page.get_by_role("heading", name="Email notifications")).to_be_visible()
    money = page.get_by_role("switch", name=re.compile("^Money"))
    expect(money).to_be_checked()
    expect(money).to_be_disabled()
    _no_sideways_scroll(page)
    assert _axe(page) == []
    page.screenshot(path=f"{artifacts_dir}/notifications-preferences-{width}.png", full_page=True)

    page.get_by_role("switch", name=re.compile("^Deliveries")).uncheck()
    page.get_by_role("button", name="Save email choices").click()

    expect(page.get_by_text("Your email choices were saved.")).to_be_visible()
    expect(page.get_by_role("switch", name=re.compile("^Deliveries"))).not_to_be_checked()
    expect(page.get_by_role("switch", name=re.compile("^Requests"))).to_be_checked()
    assert services.email_preferences(client_user)["delivery"] is False
    assert _axe(page) == []


@pytest.mark.parametrize("width, height", SIZES)
def test_the_unsubscribe_link_works_without_signing_in(browser, live_server, client_user, artifacts_dir, width, height):
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(30_000)
    token = services.unsubscribe_token(client_user, "request")

    page.goto(f"/notifications/unsubscribe/{token}/")
    expect(page.get_by_role("heading", name="Unsubscribe from emails about requests?")).to_be_visible()
    _no_sideways_scroll(page)
    assert _axe(page) == []
    page.screenshot(path=f"{artifacts_dir}/notifications-unsubscribe-{width}.png", full_page=True)
    page.get_by_role("button", name="Unsubscribe").click()

    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    assert services.email_preferences(client_user)["request"] is False
    assert _axe(page) == []
    page.screenshot(path=f"{artifacts_dir}/notifications-unsubscribed-{width}.png", full_page=True)

    response = page.goto(f"/notifications/unsubscribe/{token[:-3]}xyz/")
    assert response is not None and response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("This unsubscribe link is not valid")
    assert _axe(page) == []
    page.screenshot(path=f"{artifacts_dir}/notifications-unsubscribe-bad-{width}.png", full_page=True)
    context.close()
