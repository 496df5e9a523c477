"""Account journeys in real Chromium: signup (client, coach), email confirmation, login, lockout, reset, logout."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from accounts.tests.conftest import links_in
from accounts.tests.factories import DEFAULT_PASSWORD, ClientFactory
from elite.tests.test_accessibility import AXE, RULES, RUN_AXE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "a-long-unusual-passphrase-77"
CODE = re.compile(r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$", re.M)


def sign_up(page, live_server, *, role_label, first, last, email):
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Get started").first.click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    page.get_by_label(role_label).check()
    page.get_by_label(re.compile(r"First name")).fill(first)
    page.get_by_label(re.compile(r"Last name")).fill(last)
    page.get_by_label(re.compile(r"Email")).fill(email)
    page.get_by_label(re.compile(r"Password\*?\s*$")).fill(NEW_PASSWORD)
    page.get_by_label(re.compile(r"Password \(again\)")).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()


def log_in(page, live_server, email, password):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label(re.compile(r"Email")).fill(email)
    page.get_by_label(re.compile(r"Password\*?\s*$")).fill(password)
    page.get_by_role("button", name="Log in").click()


def test_client_signs_up_types_the_emailed_code_and_lands_signed_in(page, live_server, mailoutbox, artifacts_dir):
    sign_up(
        page,
        live_server,
        role_label="help with my job application",
        first="Nadia",
        last="Rahman",
        email="nadia@example.com",
    )
    assert User.objects.get(email="nadia@example.com").role == "client"
    code = CODE.search(mailoutbox[-1].body).group(1)

    page.get_by_label("Verification code").fill("BCDF-GHJK")  # a typo first
    page.get_by_role("button", name="Confirm and continue").click()
    expect(page.get_by_text("That code is not right")).to_be_visible()
    expect(page.get_by_text("4 tries left for this code.")).to_be_visible()
    page.screenshot(path=f"{artifacts_dir}/accounts-code-wrong.png", full_page=True)

    page.get_by_label("Verification code").fill(code.lower())
    page.get_by_role("button", name="Confirm and continue").click()

    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("heading", name="Welcome, Nadia Rahman")).to_be_visible()
    expect(page.get_by_text("Client account")).to_be_visible()
    expect(page.locator(".verify-banner")).to_have_count(0)
    assert User.objects.get(email="nadia@example.com").has_verified_email
    page.screenshot(path=f"{artifacts_dir}/accounts-client-dashboard.png", full_page=True)


def test_the_emailed_link_confirms_on_another_device(browser, page, live_server, mailoutbox):
    sign_up(page, live_server, role_label="help with my job application", first="Ana", last="Silva", email="ana@x.io")
    link = links_in(mailoutbox[-1], "/accounts/confirm-email/")[0]
    other = browser.new_context().new_page()

    other.goto(link)
    other.get_by_role("button", name="Confirm").click()

    expect(other).to_have_url(re.compile(r"/accounts/login/$"))
    expect(other.get_by_text("Your email address is confirmed. Log in to continue.")).to_be_visible()
    assert User.objects.get(email="ana@x.io").has_verified_email
    other.context.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_a_taken_email_gets_the_same_code_page_and_no_code_works(
    browser, live_server, mailoutbox, artifacts_dir, width
):
    ClientFactory(email="taken@example.com", first_name="Owner")
    # bypass_csp: axe-core is injected as a script tag, which the site's CSP (script-src 'self') blocks
    context = browser.new_context(bypass_csp=True, viewport={"width": width, "height": 812 if width == 375 else 900})
    page = context.new_page()
    sign_up(
        page, live_server, role_label="help with my job application", first="Eve", last="X", email="taken@example.com"
    )
    expect(page.get_by_text("We have sent a code to taken@example.com.")).to_be_visible()
    expect(page.get_by_role("button", name="No email? Send me a new code")).to_be_visible()
    assert "already have an account" in mailoutbox[-1].body
    assert not CODE.search(mailoutbox[-1].body)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=f"{artifacts_dir}/accounts-code-page-{width}.png", full_page=True)

    page.get_by_label("Verification code").fill("BCDF-GHJK")
    page.get_by_role("button", name="Confirm and continue").click()
    expect(page.get_by_text("That code is not right")).to_be_visible()
    assert User.objects.count() == 1
    page.add_script_tag(path=str(AXE))
    assert page.evaluate(RUN_AXE, RULES) == []  # the code page with its error
    context.close()


def test_coach_signs_up_then_logs_in_elsewhere_types_a_code_and_sees_the_coach_dashboard(
    browser, page, live_server, mailoutbox, settings, artifacts_dir
):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "confirm_email": "5/m/key"}
    sign_up(
        page, live_server, role_label="I'm a writing coach", first="Grace", last="Okafor", email="grace@example.com"
    )
    page.screenshot(path=f"{artifacts_dir}/accounts-check-inbox.png", full_page=True)
    laptop = browser.new_context().new_page()

    log_in(laptop, live_server, "GRACE@example.com", NEW_PASSWORD)  # an unconfirmed login gets a code too
    expect(laptop.get_by_role("heading", name="Check your inbox")).to_be_visible()
    laptop.get_by_label("Verification code").fill(CODE.search(mailoutbox[-1].body).group(1))
    laptop.get_by_role("button", name="Confirm and continue").click()

    expect(laptop).to_have_url(re.compile(r"/dashboard/$"))
    expect(laptop.get_by_role("heading", name="Welcome, Grace Okafor")).to_be_visible()
    expect(laptop.get_by_text("Coach account")).to_be_visible()
    assert User.objects.get(email="grace@example.com").role == "coach"
    laptop.context.close()


def test_forged_admin_role_is_refused_in_the_browser(page, live_server):
    page.goto(live_server.url + "/accounts/signup/")
    page.get_by_label(re.compile(r"First name")).fill("Mallory")
    page.get_by_label(re.compile(r"Last name")).fill("Forger")
    page.get_by_label(re.compile(r"Email")).fill("mallory@example.com")
    page.get_by_label(re.compile(r"Password\*?\s*$")).fill(NEW_PASSWORD)
    page.get_by_label(re.compile(r"Password \(again\)")).fill(NEW_PASSWORD)
    page.locator("input[name=role]").first.evaluate("el => { el.value = 'admin'; el.checked = true; }")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Select a valid choice")).to_be_visible()
    assert not User.objects.filter(email="mallory@example.com").exists()


def test_five_wrong_passwords_show_the_lockout_message(page, live_server, artifacts_dir):
    user = ClientFactory(email="locked@example.com")
    for _ in range(5):
        log_in(page, live_server, user.email, "not-the-password")
        expect(page.get_by_text("The email address and/or password you specified are not correct.")).to_be_visible()

    log_in(page, live_server, user.email, DEFAULT_PASSWORD)

    expect(page.get_by_text("Too many failed login attempts")).to_be_visible()
    expect(page.get_by_text("for up to 15 minutes")).to_be_visible()
    assert "/dashboard/" not in page.url
    page.screenshot(path=f"{artifacts_dir}/accounts-lockout.png", full_page=True)


def test_password_reset_end_to_end(page, live_server, mailoutbox):
    user = ClientFactory(email="forgetful@example.com", first_name="Fern")
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label(re.compile(r"Email")).fill("Forgetful@Example.com")
    page.get_by_role("button", name="Send me a reset link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

    link = links_in(mailoutbox[-1], "/accounts/password/reset/key/")[0]
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label(re.compile(r"New password\*?\s*$", re.I)).fill("brand-new-secret-phrase-9")
    page.get_by_label(re.compile(r"New password \(again\)", re.I)).fill("brand-new-secret-phrase-9")
    page.get_by_role("button", name="Save my new password").click()
    expect(page.get_by_role("heading", name="Your password has been changed")).to_be_visible()

    log_in(page, live_server, user.email, "brand-new-secret-phrase-9")
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("heading", name="Welcome, Fern")).to_be_visible()


def test_logout_from_the_navbar(page, live_server):
    user = ClientFactory(email="leaving@example.com")
    log_in(page, live_server, user.email, DEFAULT_PASSWORD)
    expect(page).to_have_url(re.compile(r"/dashboard/$"))

    page.get_by_role("button", name=re.compile(user.display_name)).click()
    page.get_by_role("button", name="Log out").click()

    expect(page).to_have_url(live_server.url + "/")
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    page.goto(live_server.url + "/dashboard/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/dashboard/"))
