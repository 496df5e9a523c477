"""The chat journey in real Chromium: two people on one order, live, and again without JavaScript.

The pages and websockets are served by a real uvicorn process (pytest-django's live_server is WSGI
and cannot carry websockets), sharing the PostgreSQL test database and Redis.
"""

import re
import threading

import pytest
from playwright.sync_api import expect

from files.tests.samples import pdf_bytes
from messaging.models import Message

# The machine running the suite may be busy: allow live updates a little longer than the default 5 s.
expect.set_options(timeout=10_000)

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]


def session_context(browser, base_url, cookie, **options):
    context = browser.new_context(base_url=base_url, viewport={"width": 1100, "height": 900}, **options)
    name, value = cookie.split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": base_url}])
    return context


@pytest.fixture
def server(asgi_servers, media_root):
    # One process, tasks in-process: uploads are scanned (no-op scanner, DEBUG) right after they commit.
    return "http://" + asgi_servers(extra_env={"CELERY_TASK_ALWAYS_EAGER": "true"})


def test_two_people_chat_live_with_typing_read_receipts_and_an_attachment(
    browser, server, thread, client_user, coach_user, login_cookie, artifacts_dir
):
    client_ctx = session_context(browser, server, login_cookie(client_user))
    coach_ctx = session_context(browser, server, login_cookie(coach_user))
    url = f"/threads/{thread.pk}/"
    alice, bob = client_ctx.new_page(), coach_ctx.new_page()
    errors = []
    for page in (alice, bob):
        page.on("pageerror", lambda error: errors.append(error))
    alice.goto(url)
    bob.goto(url)
    expect(alice.locator("[data-connection]")).to_have_text("Live")
    expect(bob.locator("[data-connection]")).to_have_text("Live")

    # Typing shows on the other side.
    alice.locator("textarea[name=body]").press_sequentially("Hi! Here is what I need <b>for</b> my CV", delay=5)
    expect(bob.locator("#chat-typing")).to_have_text(re.compile(rf"{client_user.first_name}.* is typing"))

    # Enter sends; the other side sees it without reload, as text, and the typing note goes away.
    alice.locator("textarea[name=body]").press("Enter")
    mine = alice.locator(".chat-mine").last
    expect(mine.locator("[data-status]")).to_contain_text(re.compile("Sent|Read"))
    theirs = bob.locator(".chat-theirs").last
    expect(theirs).to_contain_text("Hi! Here is what I need <b>for</b> my CV")
    expect(bob.locator("#chat-typing")).to_have_text("")
    # Bob is looking at the page, so Alice's message shows as read.
    expect(mine.locator("[data-status]")).to_contain_text("Read")
    assert Message.objects.get().body == "Hi! Here is what I need <b>for</b> my CV"

    # Bob attaches a draft through the upload widget and sends it with a link.
    bob.locator("#upload-input-chat").set_input_files(
        {"name": "draft-cv.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes("Draft CV")}
    )
    expect(bob.locator("[data-file-id]")).to_have_count(1)
    bob.locator("textarea[name=body]").fill("First draft attached, notes at https://example.com/notes")
    bob.locator("#chat-form button[type=submit]").click()
    expect(bob.locator(".chat-mine").last.locator("[data-status]")).to_contain_text(re.compile("Sent|Read"))
    incoming = alice.locator(".chat-theirs").last
    expect(incoming).to_contain_text("First draft attached")
    link = incoming.get_by_role("link", name="https://example.com/notes")
    expect(link).to_have_attribute("rel", "nofollow noopener noreferrer")
    attachment = incoming.get_by_role("link", name="draft-cv.pdf")
    expect(attachment).to_be_visible()
    alice.screenshot(path=f"{artifacts_dir}/chat-client.png", full_page=True)
    bob.screenshot(path=f"{artifacts_dir}/chat-coach.png", full_page=True)
    with alice.expect_download() as download_info:
        attachment.click()
    with open(download_info.value.path(), "rb") as fh:
        assert fh.read().startswith(b"%PDF")
    assert download_info.value.suggested_filename == "draft-cv.pdf"

    # The navbar badge counts unread messages live on another page (the conversation is closed,
    # else it would mark them read at once).
    alice.close()
    dashboard = client_ctx.new_page()
    dashboard.goto("/dashboard/")
    panel = dashboard.locator("[data-chat-panel]")
    expect(panel.locator(f'[data-thread-row="{thread.pk}"]')).to_contain_text("First draft attached")
    expect(dashboard.locator(".navbar-quick [data-unread-badge=messages]")).to_have_text("0")  # the live channel is up
    bob.locator("textarea[name=body]").fill("Any feedback?")
    bob.locator("textarea[name=body]").press("Enter")
    expect(dashboard.locator(".navbar-quick [data-unread-badge=messages]")).to_have_text("1")
    expect(panel.locator(f'[data-thread-row="{thread.pk}"] [data-thread-unread]')).to_have_text("1")
    expect(panel.locator(f'[data-thread-row="{thread.pk}"] [data-thread-preview]')).to_contain_text("Any feedback?")
    # The notification bell follows too: a notification made by the server shows without a reload.
    from notifications.services import notify

    bell = dashboard.locator(".navbar-quick [data-unread-badge=notifications]")
    before = int(bell.text_content() or 0)
    # From another thread, as a request or a task would: Playwright's event loop owns this one.
    notifier = threading.Thread(
        target=notify, args=(client_user, "order_delivered", "Your CV draft is ready"), kwargs={"email": False}
    )
    notifier.start()
    notifier.join(10)
    expect(bell).to_have_text(str(before + 1))
    expect(bell).to_be_visible()  # at this width, next to the folded menu's button
    dashboard.screenshot(path=f"{artifacts_dir}/chat-dashboard-live.png", full_page=True)
    threads = client_ctx.new_page()
    threads.goto("/threads/")
    expect(threads.locator(f'[data-thread-row="{thread.pk}"] [data-thread-unread]')).to_have_text("1")
    threads.screenshot(path=f"{artifacts_dir}/chat-list.png", full_page=True)
    order_page = client_ctx.new_page()
    order_page.goto(f"/orders/{thread.order_id}/")
    order_page.get_by_role("link", name="Open conversation").click()
    expect(order_page).to_have_url(re.compile(rf"/threads/{thread.pk}/$"))
    assert errors == []  # no JavaScript errors on either side
    client_ctx.close()
    coach_ctx.close()


def test_the_same_conversation_works_without_javascript(
    browser, server, thread, client_user, coach_user, login_cookie, artifacts_dir, tmp_path
):
    url = f"/threads/{thread.pk}/"
    coach_ctx = session_context(browser, server, login_cookie(coach_user))
    bob = coach_ctx.new_page()
    bob.goto(url)
    expect(bob.locator("[data-connection]")).to_have_text("Live")

    plain_ctx = session_context(browser, server, login_cookie(client_user), java_script_enabled=False)
    alice = plain_ctx.new_page()
    alice.goto(url)
    expect(alice.locator("[data-connection]")).to_have_text("Live updates off")
    alice.locator("textarea[name=body]").fill("Sent without JavaScript")
    cv = tmp_path / "my-cv.pdf"
    cv.write_bytes(pdf_bytes("My CV"))
    alice.locator("input[type=file][name=files]").set_input_files(str(cv))
    alice.locator("#chat-form button[type=submit]").click()
    expect(alice).to_have_url(re.compile(rf"{url}#m\d+$"))
    expect(alice.locator(".chat-mine").last).to_contain_text("Sent without JavaScript")
    expect(alice.locator(".chat-mine").last).to_contain_text("my-cv.pdf")

    # The coach (with JavaScript) sees it live and answers; the client sees the answer on reload.
    expect(bob.locator(".chat-theirs").last).to_contain_text("Sent without JavaScript")
    expect(bob.locator(".chat-theirs").last.get_by_role("link", name="my-cv.pdf")).to_be_visible()
    bob.locator("textarea[name=body]").fill("Got it, thanks!")
    bob.locator("textarea[name=body]").press("Enter")
    expect(bob.locator(".chat-mine").last.locator("[data-status]")).to_contain_text(re.compile("Sent|Read"))
    alice.goto(url)
    expect(alice.locator(".chat-theirs").last).to_contain_text("Got it, thanks!")
    # Opening the page marked it read, and the coach's page says so live.
    expect(bob.locator(".chat-mine").last.locator("[data-status]")).to_contain_text("Read")

    # An empty message is refused with the message shown, nothing saved.
    count = Message.objects.count()
    alice.locator("#chat-form button[type=submit]").click()
    expect(alice.locator("#chat-error")).to_contain_text("Write a message or attach a file")
    assert Message.objects.count() == count
    alice.screenshot(path=f"{artifacts_dir}/chat-no-js.png", full_page=True)

    narrow = plain_ctx.new_page()
    narrow.set_viewport_size({"width": 360, "height": 740})
    narrow.goto(url)
    narrow.screenshot(path=f"{artifacts_dir}/chat-360.png", full_page=True)
    plain_ctx.close()
    coach_ctx.close()


def test_nothing_is_lost_across_a_dropped_connection(
    browser, asgi_servers, media_root, thread, client_user, coach_user, login_cookie, artifacts_dir
):
    """The server goes away: the page says so, keeps what the user writes, and on reconnect fetches
    what was said meanwhile and sends what it kept, each exactly once."""
    from messaging import services

    address = asgi_servers()
    port = int(address.rsplit(":", 1)[1])
    context = session_context(browser, f"http://{address}", login_cookie(client_user))
    alice = context.new_page()
    alice.goto(f"/threads/{thread.pk}/")
    expect(alice.locator("[data-connection]")).to_have_text("Live")

    asgi_servers.stop(address)
    expect(alice.locator("[data-connection]")).to_have_text("Reconnecting…")
    # Said while Alice was cut off (saved straight through the service: no server is listening).
    services.send_message(thread, actor=coach_user, body="Sent while you were offline")
    alice.locator("textarea[name=body]").fill("Written while offline")
    alice.locator("textarea[name=body]").press("Enter")
    expect(alice.locator(".chat-pending")).to_contain_text("Written while offline")

    asgi_servers(port=port)  # back on the same address
    expect(alice.locator("[data-connection]")).to_have_text("Live", timeout=40_000)
    expect(alice.locator(".chat-theirs").last).to_contain_text("Sent while you were offline")
    expect(alice.locator(".chat-pending")).to_have_count(0)
    expect(alice.locator(".chat-mine").last.locator("[data-status]")).to_contain_text(re.compile("Sent|Read"))
    alice.screenshot(path=f"{artifacts_dir}/chat-reconnected.png", full_page=True)
    assert list(thread.messages.order_by("id").values_list("body", flat=True)) == [
        "Sent while you were offline",
        "Written while offline",
    ]
    context.close()


def test_attachment_becomes_downloadable_once_scanned_without_reload(
    browser, server, thread, client_user, coach_user, login_cookie, monkeypatch
):
    from files.scanner import Verdict
    from files.services import record_verdict, store_upload
    from files.tests.samples import upload
    from messaging import services

    monkeypatch.setattr("files.services._schedule_scan", lambda asset_id: None)  # the scanner is slow today
    asset = store_upload(
        upload(pdf_bytes("Draft"), name="slow-scan.pdf"), actor=coach_user, category="message_attachment"
    )
    services.send_message(thread, actor=coach_user, body="Draft coming", attachments=[asset])
    context = session_context(browser, server, login_cookie(client_user))
    alice = context.new_page()
    alice.goto(f"/threads/{thread.pk}/")
    row = alice.locator(f'[data-attachment-id="{asset.pk}"]')
    expect(row).to_contain_text("scanning")
    expect(row.get_by_role("link")).to_have_count(0)
    record_verdict(asset.pk, Verdict(infected=False))
    expect(row.get_by_role("link", name="slow-scan.pdf")).to_be_visible()
    context.close()
