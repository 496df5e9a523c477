"""Open chat sockets do not outlive their session: logout, a password change and a suspension close them at
once (through the account group on the channel layer, Redis in CI), and every frame re-checks the session."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from django.test import Client

from accounts import services as account_services
from accounts.tests.factories import DEFAULT_PASSWORD
from core.tests.asyncutil import run
from elite.asgi import application
from messaging.consumers import SESSION_ENDED
from messaging.models import Message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]

CLOSED = {"type": "websocket.close", "code": SESSION_ENDED}


def logged_in(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def socket(browser: Client, path: str) -> WebsocketCommunicator:
    cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()
    return WebsocketCommunicator(application, path, headers=[(b"origin", b"http://testserver"), (b"cookie", cookie)])


async def open_socket(browser, path):
    comm = socket(browser, path)
    connected, _ = await comm.connect()
    assert connected
    return comm


async def pong(comm) -> bool:
    await comm.send_to(text_data=json.dumps({"type": "ping"}))
    while True:
        output = await comm.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return False
        if json.loads(output["text"])["type"] == "pong":
            return True


def test_logout_closes_that_sessions_sockets_at_once(thread, client_user):
    laptop, phone = logged_in(client_user), logged_in(client_user)

    async def scenario():
        chat = await open_socket(laptop, f"/ws/threads/{thread.pk}/")
        live = await open_socket(laptop, "/ws/live/")
        other = await open_socket(phone, f"/ws/threads/{thread.pk}/")
        await live.receive_json_from(timeout=5)  # the unread count sent on connect
        await sync_to_async(laptop.post)("/accounts/logout/")
        closed = [await chat.receive_output(timeout=5), await live.receive_output(timeout=5)]
        still_open = await pong(other)
        await other.disconnect()
        return closed, still_open

    closed, still_open = run(scenario)
    assert closed == [CLOSED, CLOSED]
    assert still_open  # another session of the same user is not logged out


def test_password_change_closes_the_sockets_of_every_stale_session(thread, client_user):
    """Django cycles the changing session's key and leaves the others with a stale hash: every open socket
    closes, the page that changed the password reconnects with its new cookie, the other session cannot."""
    laptop, phone = logged_in(client_user), logged_in(client_user)

    async def scenario():
        here = await open_socket(laptop, f"/ws/threads/{thread.pk}/")
        elsewhere = await open_socket(phone, f"/ws/threads/{thread.pk}/")
        new = "brand-new-secret-phrase-9"
        response = await sync_to_async(laptop.post)(
            "/accounts/password/change/", {"oldpassword": DEFAULT_PASSWORD, "password1": new, "password2": new}
        )
        assert response.status_code == 302
        closed = [await elsewhere.receive_output(timeout=5), await here.receive_output(timeout=5)]
        again = socket(laptop, f"/ws/threads/{thread.pk}/")
        reconnected, _ = await again.connect()
        kept = await pong(again)
        await again.disconnect()
        stale, _ = await socket(phone, f"/ws/threads/{thread.pk}/").connect()
        return closed, reconnected and kept, stale

    closed, reconnected, stale = run(scenario)
    assert closed == [CLOSED, CLOSED]
    assert reconnected
    assert not stale


def test_suspension_closes_every_socket_and_no_message_gets_through(thread, client_user, staff_user):
    laptop = logged_in(client_user)

    async def scenario():
        chat = await open_socket(laptop, f"/ws/threads/{thread.pk}/")
        await sync_to_async(account_services.suspend_user)(client_user, actor=staff_user, reason="Fraud")
        closed = await chat.receive_output(timeout=5)
        return closed

    assert run(scenario) == CLOSED
    assert not Message.objects.filter(thread=thread, sender=client_user).exists()


def test_a_frame_on_a_socket_whose_session_is_gone_is_refused(thread, client_user):
    """A session deleted without any signal (expiry sweep, a manual delete): the next frame closes the socket."""
    laptop = logged_in(client_user)

    async def scenario():
        chat = await open_socket(laptop, f"/ws/threads/{thread.pk}/")
        assert await pong(chat)
        await sync_to_async(Session.objects.filter(session_key=laptop.session.session_key).delete)()
        await chat.send_to(text_data=json.dumps({"type": "message:send", "body": "still here?", "client_token": "t1"}))
        return await chat.receive_output(timeout=5)

    assert run(scenario) == CLOSED
    assert not Message.objects.filter(thread=thread, body="still here?").exists()
