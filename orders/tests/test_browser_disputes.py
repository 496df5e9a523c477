"""A two-sided dispute in real Chromium, on a phone and a desktop: the coach states with evidence, the
client reads it and answers once, staff see both on the console's resolve page; axe finds nothing."""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from playwright.sync_api import expect

from files.models import FileAsset, ScanStatus
from files.tests.samples import pdf_bytes
from orders import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
AXE_RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}}


def _axe_violations(page) -> list:
    page.evaluate(AXE.read_text())  # through the debugger protocol, so the page's CSP stays as it is
    return page.evaluate("async (o) => (await window.axe.run(document, o)).violations.map(v => v.id)", AXE_RULES)


@pytest.mark.parametrize("width", [375, 1280])
def test_both_sides_are_heard_and_staff_read_them(page_as, paid_order, staff_user, artifacts_dir, local_media, width):
    order = paid_order
    services.deliver(order.pk, actor=order.coach, note="First version")
    services.open_dispute(order.pk, actor=order.client, reason="The summary still names my old employer.")
    shot = lambda page, name: page.screenshot(  # noqa: E731
        path=os.path.join(artifacts_dir, f"orders-dispute-{name}-{width}.png"), full_page=True
    )

    coach = page_as(order.coach, width=width, height=812 if width == 375 else 900)
    coach.goto(f"/orders/{order.pk}/")
    expect(coach.get_by_text("Give your statement by").first).to_be_visible()
    coach.get_by_label("Your side of the story").fill("I replaced the employer in version 1; see the attached PDF.")
    coach.locator("#upload-input-evidence").set_input_files(
        files=[{"name": "change-log.pdf", "mimeType": "application/pdf", "buffer": pdf_bytes("Changes")}]
    )
    expect(coach.locator("#dispute-statement-form [data-list] [data-file-id]")).to_have_count(1)
    assert _axe_violations(coach) == []
    shot(coach, "coach-writing")
    coach.get_by_role("button", name="Send to our team").click()
    expect(coach.get_by_text("The other side and our team can read your statement now.")).to_be_visible()
    expect(coach.locator("#dispute-statement-form")).to_have_count(0)
    FileAsset.objects.filter(original_name="change-log.pdf").update(scan_status=ScanStatus.CLEAN)

    client = page_as(order.client, width=width, height=812 if width == 375 else 900)
    client.goto(f"/orders/{order.pk}/")
    statement = client.locator('[data-statement="statement"]')
    expect(statement).to_contain_text("I replaced the employer in version 1")
    expect(statement.get_by_role("link", name="change-log.pdf")).to_be_visible()
    client.get_by_label("Your side of the story").fill("Version 1 still names them in the second paragraph.")
    client.get_by_role("button", name="Send to our team").click()
    expect(client.locator('[data-statement="answer"]')).to_contain_text("second paragraph")
    expect(client.locator("#dispute-statement-form")).to_have_count(0)  # once only
    assert _axe_violations(client) == []
    shot(client, "client-answered")
    assert client.evaluate("document.documentElement.scrollWidth") <= width

    staff = page_as(staff_user, width=width)
    staff.goto(reverse("admin:orders_order_resolve_dispute", args=[order.pk]))
    facts = staff.locator(".console-facts")
    expect(facts).to_contain_text("The summary still names my old employer.")
    expect(facts).to_contain_text("I replaced the employer in version 1")
    expect(facts).to_contain_text("Version 1 still names them in the second paragraph.")
    expect(facts.get_by_role("link", name="change-log.pdf")).to_be_visible()
    shot(staff, "staff-resolve")
