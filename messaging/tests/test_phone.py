"""The conversation on a phone in real Chromium: the composer and the newest message fit the first
screen, attachments wait behind the paperclip, and sending still works."""

import re

import pytest
from playwright.sync_api import expect

from messaging.models import Message
from messaging.services import send_message

expect.set_options(timeout=10_000)

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(asgi_servers, media_root):
    return "http://" + asgi_servers(extra_env={"CELERY_TASK_ALWAYS_EAGER": "true"})


def in_viewport(page, selector: str) -> bool:
    """Whether the element is wholly inside the visible window (not scrolled to, not clipped by the log)."""
    return page.eval_on_selector(
        selector,
        """node => {
          const r = node.getBoundingClientRect();
          const log = document.getElementById("chat-log").getBoundingClientRect();
          const inWindow = r.top >= 0 && r.bottom <= window.innerHeight && r.width > 0;
          const inLog = !node.closest("#chat-log") || (r.top >= log.top - 1 && r.bottom <= log.bottom + 1);
          return inWindow && inLog;
        }""",
    )


@pytest.mark.parametrize("size", [(375, 812), (320, 640)], ids=["375x812", "320x640"])
def test_the_conversation_fits_a_phone(
    browser, server, thread, client_user, coach_user, login_cookie, artifacts_dir, size
):
    width, height = size
    for n in range(30):
        send_message(thread, actor=coach_user if n % 2 else client_user, body=f"Message number {n}")
    newest = Message.objects.order_by("-id").first()
    context = browser.new_context(base_url=server, viewport={"width": width, "height": height}, is_mobile=True)
    name, value = login_cookie(client_user).split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": server}])
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    page.goto(f"/threads/{thread.pk}/")
    expect(page.locator("[data-connection]")).to_have_text("Live")

    # On open, without scrolling: the composer and the newest message are on screen, the drop zone is not.
    assert page.evaluate("window.scrollY") == 0
    for selector in ("#chat-form textarea", "#chat-form button[type=submit]", "#chat-clip", f"#m{newest.pk}"):
        assert in_viewport(page, selector), selector
    expect(page.locator("[data-drop]")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing scrolls sideways
    page.screenshot(path=f"{artifacts_dir}/chat-phone-{width}x{height}.png")

    # The paperclip opens the file picker and shows the drop zone with what is being uploaded.
    with page.expect_file_chooser() as chooser:
        page.locator("#chat-clip").click()
    expect(page.locator("#chat-clip")).to_have_attribute("aria-expanded", "true")
    expect(page.locator("[data-drop]")).to_be_visible()
    chooser.value.set_files([])
    page.locator("#chat-clip").click()
    expect(page.locator("[data-drop]")).to_be_hidden()

    # Sending still works and the new message is in view above the composer.
    page.locator("textarea[name=body]").fill("Sent from my phone")
    page.locator("#chat-form button[type=submit]").click()
    mine = page.locator(".chat-mine").last
    expect(mine).to_contain_text("Sent from my phone")
    expect(mine.locator("[data-status]")).to_contain_text(re.compile("Sent|Read"))
    sent = Message.objects.order_by("-id").first()
    assert sent.body == "Sent from my phone"
    assert in_viewport(page, f"#m{sent.pk}") and in_viewport(page, "#chat-form textarea")
    page.screenshot(path=f"{artifacts_dir}/chat-phone-{width}x{height}-sent.png")
    assert errors == []
    context.close()


def test_a_client_asks_a_coach_from_the_coach_page_on_a_phone(
    browser, server, client_user, coach_user, login_cookie, artifacts_dir
):
    context = browser.new_context(base_url=server, viewport={"width": 375, "height": 812}, is_mobile=True)
    name, value = login_cookie(client_user).split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": server}])
    page = context.new_page()
    page.goto(f"/coaches/{coach_user.coach_profile.pk}/")
    page.get_by_role("link", name="Message this coach").click()
    page.get_by_role("button", name="Open the conversation").click()
    expect(page.get_by_role("heading", name=re.compile("Questions for"))).to_be_visible()
    expect(page.locator("[data-connection]")).to_have_text("Live")
    assert in_viewport(page, "#chat-form textarea")
    page.locator("textarea[name=body]").fill("Do you work with career changers?")
    page.locator("textarea[name=body]").press("Enter")
    expect(page.locator(".chat-mine").last.locator("[data-status]")).to_contain_text(re.compile("Sent|Read"))
    assert Message.objects.get().thread.order is None
    page.screenshot(path=f"{artifacts_dir}/chat-preorder-phone.png")
    context.close()
