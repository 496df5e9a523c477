"""The ASGI application: websockets only from our own hosts, authenticated by the site's session cookie."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator, WebsocketCommunicator
from django.db import connections

from elite.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def run(scenario):
    """Run an async scenario on a thread of its own.

    Once a Playwright test has run, its sync API leaves an event loop in the main thread for the rest
    of the session, and async_to_sync refuses to start inside it.
    """

    def in_thread():
        try:
            return async_to_sync(scenario)()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(in_thread).result()


def connect(origin: bytes, cookie: str = "") -> bool:
    headers = [(b"origin", origin), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))

    async def attempt():
        communicator = WebsocketCommunicator(application, "/ws/live/", headers=headers)
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    return run(attempt)


def session_cookie(client, user) -> str:
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def test_logged_in_user_connects_from_our_origin(client, client_user):
    assert connect(b"http://testserver", session_cookie(client, client_user)) is True


def test_the_same_session_from_a_foreign_origin_is_refused(client, client_user):
    assert connect(b"https://evil.example", session_cookie(client, client_user)) is False


def test_anonymous_socket_is_refused():
    assert connect(b"http://testserver") is False


def test_http_over_asgi_reaches_django():
    async def get_health():
        communicator = HttpCommunicator(application, "GET", "/health", headers=[(b"host", b"testserver")])
        return await communicator.get_response()

    response = run(get_health)
    assert response["status"] == 200
    assert response["body"] == b'{"status": "ok"}'


def test_suspension_ends_the_websocket_session_too(client, client_user, staff_user):
    from accounts.services import suspend_user
    from accounts.tests.factories import DEFAULT_PASSWORD

    client.post("/accounts/login/", {"login": client_user.email, "password": DEFAULT_PASSWORD})
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    assert connect(b"http://testserver", cookie) is True

    suspend_user(client_user, actor=staff_user, reason="Abuse")

    assert connect(b"http://testserver", cookie) is False
