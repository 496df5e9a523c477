"""The directory with £, € and $ prices in real Chromium: pick a currency, filter, read converted prices
beside the coaches' own, and see the staff-set rates with their date (phone and desktop)."""

import re
from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from coaches import services
from coaches.tests.factories import CoachProfileFactory, CoachServiceFactory, seed_languages
from elite.tests.test_accessibility import AXE, RULES, RUN_AXE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def languages():
    seed_languages()


@pytest.fixture
def mixed(staff_user):
    services.set_exchange_rate("EUR", actor=staff_user, units_per_base=Decimal("1.17"), as_of=date(2026, 11, 30))
    services.set_exchange_rate("USD", actor=staff_user, units_per_base=Decimal("1.27"), as_of=date(2026, 11, 30))
    for first, last, price, currency in [
        ("Gina", "Pound", 7000, "GBP"),
        ("Emil", "Euro", 7500, "EUR"),
        ("Dora", "Dollar", 5000, "USD"),
        ("Yuki", "Yen", 900000, "JPY"),  # no rate for JPY: shown in yen, left out of price filters
    ]:
        profile = CoachProfileFactory(
            user__first_name=first, user__last_name=last, headline=f"CVs by {first}", services=[]
        )
        CoachServiceFactory(coach=profile, price_minor=price, currency=currency)


def card_names(page):
    return page.locator("article.coach-card h2").all_inner_texts()


@pytest.mark.parametrize("width", [375, 1280])
def test_a_visitor_compares_prices_in_euros(browser, live_server, mixed, artifacts_dir, width):
    # bypass_csp: axe-core is injected as a script tag, which the site's CSP (script-src 'self') blocks
    context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 812 if width == 375 else 900})
    page = context.new_page()
    page.goto(live_server.url + "/coaches/?sort=price")
    # In pounds: $50 (£39.37) < €75 (£64.10) < £70, and the yen offer without a rate comes last.
    expect(page.locator("article.coach-card")).to_have_count(4)
    assert card_names(page) == ["Dora Dollar", "Emil Euro", "Gina Pound", "Yuki Yen"]
    expect(page.get_by_text("those offers are listed after the others")).to_be_visible()

    page.get_by_label("Show prices in").select_option("EUR")  # submits by itself
    expect(page).to_have_url(re.compile(r"currency=EUR"))
    page.wait_for_load_state("load")  # the new page's scripts have run: the Filters button works
    if width == 375:
        page.get_by_role("button", name="Filters").click()
        # Bootstrap's collapse is "collapsing" (clipped) for its transition: act once it is open.
        expect(page.locator("#filter-panel")).to_have_class(re.compile(r"(^|\s)show(\s|$)"))
    page.get_by_label("Max").fill("76")
    page.get_by_role("button", name="Show coaches").click()

    expect(page.get_by_role("link", name="Remove filter: Up to €76")).to_be_visible()
    assert card_names(page) == ["Dora Dollar", "Emil Euro"]
    dora = page.locator("article.coach-card").first
    expect(dora.locator(".price-from")).to_have_text("≈ €46.06")
    expect(dora.locator(".price-own")).to_have_text("Coach's price $50.00")
    expect(page.locator(".rates-note")).to_contain_text("1 GBP = 1.17 EUR (30 Nov 2026)")
    expect(page.get_by_text("offers in JPY are left out of the price filter")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=f"{artifacts_dir}/coaches-prices-eur-{width}.png", full_page=True)
    page.add_script_tag(path=str(AXE))
    assert page.evaluate(RUN_AXE, RULES) == []

    page.goto(live_server.url + "/coaches/")  # the choice is remembered
    expect(page.get_by_label("Show prices in")).to_have_value("EUR")
    expect(page.locator("article.coach-card", has_text="Gina Pound").locator(".price-from")).to_have_text("≈ €81.90")
    context.close()
