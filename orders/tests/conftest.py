import pytest
from django.conf import settings as django_settings
from django.test import Client


@pytest.fixture
def page_as(browser, live_server):
    """page_as(user, width=1200) → a Playwright page already logged in as `user` on the live server."""
    contexts = []

    def make(user, *, width=1200, height=900):
        session = Client()
        session.force_login(user)
        context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": height})
        context.add_cookies(
            [
                {
                    "name": django_settings.SESSION_COOKIE_NAME,
                    "value": session.cookies[django_settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield make
    for context in contexts:
        context.close()
