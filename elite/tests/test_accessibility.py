"""Every main page, as each role sees it on the demo data, judged by axe-core in Chromium.

axe-core (npm, pinned in package.json) is injected into each page; the run covers WCAG 2.0/2.1 A and AA
and WCAG 2.2's target size (24 × 24 px), on a desktop and a phone. Any violation fails the test with the
rule, the page and the offending elements, so a new page or partial cannot quietly regress.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}}
RUN_AXE = """async (options) => {
  const result = await window.axe.run(document, options);
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: " + n.failureSummary.split("\\n")[1])
  }));
}"""


@pytest.fixture
def demo(db):
    from accounts.models import User
    from orders.models import Order
    from payments.models import Payment

    call_command("seed_demo", verbosity=0)
    users = {user.email: user for user in User.objects.filter(email__endswith="@elite.example")}
    client, coach = users["client@elite.example"], users["coach@elite.example"]
    order = (
        Order.objects.filter(client=client, coach=coach, status="delivered").first()
        or Order.objects.filter(client=client).first()
    )
    payment = Payment.objects.filter(client=client, status="captured").first()
    return {
        "client": client,
        "coach": coach,
        "staff": users["staff@elite.example"],
        "order": order,
        "payment": payment,
        "coach_profile": coach.coach_profile,
    }


def _context(browser, live_server, user, width, height):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": height}, bypass_csp=True, reduced_motion="reduce"
    )
    if user is not None:
        session = Client()
        session.force_login(user)
        cookie = session.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    return context


def _pages(demo) -> dict[str | None, list[str]]:
    from notifications.services import unsubscribe_token

    order, payment, profile = demo["order"], demo["payment"], demo["coach_profile"]
    thread = getattr(order, "thread", None)
    unsubscribe = f"/notifications/unsubscribe/{unsubscribe_token(demo['client'], 'request')}/"
    return {
        None: ["/", "/coaches/", f"/coaches/{profile.pk}/", "/accounts/login/", "/accounts/signup/",
               "/accounts/password/reset/", unsubscribe, "/notifications/unsubscribe/not-a-token/"],
        "client": ["/dashboard/", "/requests/", "/orders/", f"/orders/{order.pk}/", "/threads/",
                   *([f"/threads/{thread.pk}/"] if thread else []), "/notifications/",
                   "/notifications/?category=money", "/notifications/preferences/", "/payments/receipts/",
                   *([f"/payments/receipts/{payment.pk}/"] if payment else []), "/files/", "/account/profile/"],
        "coach": ["/dashboard/", "/requests/available/", "/orders/", f"/orders/{order.pk}/", "/coaches/me/profile/",
                  "/payments/earnings/"],
        "staff": ["/dashboard/", "/staff/analytics/", "/staff/transactions/"],
    }  # fmt: skip


def test_every_main_page_has_no_axe_violations_on_a_desktop_and_a_phone(browser, live_server, demo):
    """Both sizes in one test: the demo is seeded once (the suite's costliest fixture), and every violation
    of both is listed with its width."""
    problems = []
    for width, height in [(1280, 900), (375, 812)]:
        for role, urls in _pages(demo).items():
            context = _context(browser, live_server, demo[role] if role else None, width, height)
            page = context.new_page()
            page.set_default_timeout(15_000)
            for url in urls:
                page.goto(url)
                expect(page.locator("main")).to_be_visible()
                assert not re.search(r"/accounts/login/", page.url) or role is None, f"{role} sent to log in: {url}"
                page.add_script_tag(path=str(AXE))
                for violation in page.evaluate(RUN_AXE, RULES):
                    nodes = "\n      ".join(violation["nodes"])
                    problems.append(
                        f"{width}px {role or 'anonymous'} {url}: {violation['id']} ({violation['help']})\n      {nodes}"
                    )
            context.close()
    assert not problems, f"{len(problems)} axe violations:\n" + "\n".join(problems)
