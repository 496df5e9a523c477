from orders.tests.conftest import page_as  # noqa: F401 - the logged-in Playwright page fixture
