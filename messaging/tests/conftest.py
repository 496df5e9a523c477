import pytest
from django.test import Client

from messaging.models import MessageThread


@pytest.fixture
def thread(order):
    """The order's thread, opened by the order_created signal."""
    return MessageThread.objects.get(order=order)


@pytest.fixture
def login_cookie():
    """A real session for `user` (as the login view would make), returned as a Cookie header value."""

    def make(user) -> str:
        client = Client()
        client.force_login(user)
        return f"sessionid={client.cookies['sessionid'].value}"

    return make
