"""The public face in real Chromium: landing page at desktop and phone widths, auth pages on a phone."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECTIONS = ["hero-title", "services-title", "how-title", "pricing-title", "testimonials-title", "cta-title"]


def assert_no_sideways_scroll(page, width):
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"page is {scroll_width}px wide in a {width}px window"


@pytest.mark.parametrize("width", [1280, 375, 360])
def test_landing_page_shows_every_section_without_sideways_scroll(page, live_server, artifacts_dir, width):
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(live_server.url + "/")

    for section in SECTIONS:
        expect(page.locator(f"#{section}")).to_be_visible()
    expect(page.locator("footer.site-footer")).to_be_visible()
    expect(page.locator("#main").get_by_role("link", name="Get started", exact=True)).to_be_visible()
    expect(page.locator("#main").get_by_role("link", name="Find a coach", exact=True)).to_be_visible()
    assert_no_sideways_scroll(page, width)
    assert errors == [], errors  # e.g. a CSP violation or a missing script
    page.screenshot(path=f"{artifacts_dir}/landing-{width}.png", full_page=True)


def test_phone_menu_opens_and_leads_to_signup(page, live_server):
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(live_server.url + "/")
    signup = page.locator("#mainNav").get_by_role("link", name="Get started")
    expect(signup).to_be_hidden()
    page.get_by_role("button", name="Toggle navigation").click()
    expect(signup).to_be_visible()
    # Bootstrap's collapse is "collapsing" (clipped) for its transition: click once it is open.
    expect(page.locator("#mainNav")).to_have_class(re.compile(r"(^|\s)show(\s|$)"))
    signup.click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()


@pytest.mark.parametrize("path", ["/accounts/signup/", "/accounts/login/", "/accounts/password/reset/"])
def test_auth_pages_fit_a_phone(page, live_server, artifacts_dir, path):
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto(live_server.url + path)
    assert_no_sideways_scroll(page, 360)
    page.set_viewport_size({"width": 375, "height": 800})
    name = path.strip("/").replace("/", "-")
    page.screenshot(path=f"{artifacts_dir}/{name}-375.png", full_page=True)
