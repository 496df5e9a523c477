"""Two ASGI server processes sharing Redis serve one conversation (DESIGN.md §2)."""

import asyncio
import json
from functools import partial

import pytest
from websockets.asyncio.client import connect

from core.tests.asyncutil import run
from messaging.models import Message


async def receive_type(ws, wanted, timeout=10):
    async with asyncio.timeout(timeout):
        while True:
            event = json.loads(await ws.recv())
            if event["type"] == wanted:
                return event


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_message_sent_on_one_server_reaches_a_client_on_the_other(
    asgi_servers, thread, client_user, coach_user, login_cookie
):
    server_a = asgi_servers()
    server_b = asgi_servers()
    assert server_a != server_b

    async def scenario():
        async with (
            connect(
                f"ws://{server_a}/ws/threads/{thread.pk}/",
                origin=f"http://{server_a}",
                additional_headers={"Cookie": login_cookie(client_user)},
            ) as client_ws,
            connect(
                f"ws://{server_b}/ws/threads/{thread.pk}/",
                origin=f"http://{server_b}",
                additional_headers={"Cookie": login_cookie(coach_user)},
            ) as coach_ws,
        ):
            await client_ws.send(json.dumps({"type": "thread:typing"}))
            typing = await receive_type(coach_ws, "thread:typing")
            await client_ws.send(json.dumps({"type": "message:send", "body": "Across machines", "client_token": "x1"}))
            ack = await receive_type(client_ws, "message:ack")
            new = await receive_type(coach_ws, "message:new")
            await coach_ws.send(json.dumps({"type": "message:read", "message_id": new["message"]["id"]}))
            read = await receive_type(client_ws, "message:read")
            return typing, ack, new, read

    typing, ack, new, read = run(scenario)
    message = Message.objects.get()
    assert typing["user_id"] == client_user.pk
    assert ack["message"]["id"] == new["message"]["id"] == message.pk
    assert new["message"]["body"] == "Across machines"
    assert read == {"type": "message:read", "user_id": coach_user.pk, "message_id": message.pk}


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_real_server_refuses_strangers_and_foreign_origins(
    asgi_servers, thread, other_client, client_user, login_cookie
):
    from websockets.exceptions import InvalidStatus

    server = asgi_servers()

    async def attempt(cookie, origin):
        try:
            async with connect(
                f"ws://{server}/ws/threads/{thread.pk}/", origin=origin, additional_headers={"Cookie": cookie}
            ):
                return "connected"
        except InvalidStatus as exc:
            return exc.response.status_code

    stranger, member = login_cookie(other_client), login_cookie(client_user)
    assert run(partial(attempt, stranger, f"http://{server}")) == 403
    assert run(partial(attempt, member, "https://evil.example")) == 403
    assert run(partial(attempt, "sessionid=forged", f"http://{server}")) == 403
    assert run(partial(attempt, member, f"http://{server}")) == "connected"


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_message_posted_to_a_wsgi_page_process_reaches_websockets(
    asgi_servers, thread, client_user, coach_user, login_cookie, client
):
    """Production serves pages from gunicorn (no event loop) and websockets from uvicorn: a plain
    form POST handled like this test client's (synchronously, in this process) is pushed through
    Redis to the coach's socket on the ASGI server."""
    server = asgi_servers()
    cookie = login_cookie(coach_user)
    client.force_login(client_user)

    async def scenario():
        async with connect(
            f"ws://{server}/ws/threads/{thread.pk}/", origin=f"http://{server}", additional_headers={"Cookie": cookie}
        ) as coach_ws:
            await asyncio.sleep(0.3)  # subscribed
            response = await asyncio.to_thread(
                client.post, f"/threads/{thread.pk}/messages/", {"body": "Posted without JavaScript"}
            )
            assert response.status_code == 302
            return await receive_type(coach_ws, "message:new")

    event = run(scenario)
    assert event["message"]["body"] == "Posted without JavaScript"
    assert event["message"]["sender_id"] == client_user.pk
