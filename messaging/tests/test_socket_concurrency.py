"""What a busy socket does at once: it keeps delivering the other party's messages while its own is being
saved, its save does not wait for the broadcast, and one message costs one database call (issue 13: the
tail of the chat latency)."""

import asyncio
import threading

import pytest
from channels.layers import get_channel_layer

from core.tests.asyncutil import run
from messaging import consumers
from messaging.models import Message
from messaging.tests.test_consumers import communicator, receive, receive_type, send

pytestmark = pytest.mark.django_db(transaction=True)

# What the pool of database threads gives (PostgreSQL): a save that does not hold up the socket's other
# events, one thread hop per message, the ack queued before the broadcast. SQLite allows one writer at a
# time, so there consumers keep channels' single database thread (consumers._db_calls) and none of it applies.
needs_the_pool = pytest.mark.skipif(
    consumers.db_call is consumers.database_sync_to_async,
    reason="SQLite: consumers use channels' one database thread, not the pool these tests are about",
)


@needs_the_pool
def test_a_socket_gets_the_other_partys_message_while_its_own_is_being_saved(
    thread, client_user, coach_user, login_cookie, monkeypatch
):
    """Before, channels' one dispatch loop per socket awaited the save, and the other party's message
    waited behind it."""
    saving = threading.Event()
    release = threading.Event()
    send_message = consumers.services.send_message

    def slow_for_the_client(thread, *, actor, **kwargs):
        if actor.pk == client_user.pk:
            saving.set()
            release.wait(10)
        return send_message(thread, actor=actor, **kwargs)

    monkeypatch.setattr(consumers.services, "send_message", slow_for_the_client)
    alice_cookie, bob_cookie = login_cookie(client_user), login_cookie(coach_user)

    async def scenario():
        alice = communicator(thread.pk, alice_cookie)
        bob = communicator(thread.pk, bob_cookie)
        assert (await alice.connect())[0] and (await bob.connect())[0]
        try:
            await send(alice, type="message:send", body="slow to save", client_token="a1")
            assert await asyncio.to_thread(saving.wait, 5)
            await send(bob, type="message:send", body="quick answer", client_token="b1")
            delivered = await receive_type(alice, "message:new", timeout=3)
        finally:
            release.set()
        ack = await receive_type(alice, "message:ack")
        await alice.disconnect()
        await bob.disconnect()
        return delivered, ack

    delivered, ack = run(scenario)
    assert delivered["message"]["body"] == "quick answer"
    assert ack["message"]["body"] == "slow to save"
    assert Message.objects.count() == 2


def test_the_sender_is_acked_without_waiting_for_the_broadcast(
    thread, client_user, coach_user, login_cookie, monkeypatch
):
    """The database thread hands the push to the event loop and returns: before, it waited for the publish."""
    layer = get_channel_layer()
    group_send = layer.group_send
    held = []

    async def held_group_send(group, message):
        if message["type"] == "chat.message":
            held.append(asyncio.Event())
            await held[-1].wait()
        await group_send(group, message)

    monkeypatch.setattr(layer, "group_send", held_group_send, raising=False)
    alice_cookie, bob_cookie = login_cookie(client_user), login_cookie(coach_user)

    async def scenario():
        alice = communicator(thread.pk, alice_cookie)
        bob = communicator(thread.pk, bob_cookie)
        assert (await alice.connect())[0] and (await bob.connect())[0]
        await send(alice, type="message:send", body="Hello", client_token="a1")
        try:
            ack = await receive_type(alice, "message:ack", timeout=3)
        finally:
            for event in held:
                event.set()
        delivered = await receive_type(bob, "message:new")
        await alice.disconnect()
        await bob.disconnect()
        return ack, delivered

    ack, delivered = run(scenario)
    assert ack["message"]["id"] == delivered["message"]["id"] == Message.objects.get().pk


@needs_the_pool
def test_a_message_is_checked_and_saved_in_one_database_call(thread, client_user, login_cookie, monkeypatch):
    """The session re-check runs in the save's own database call: one thread hop per message, not two."""
    calls = []
    thread_handler = consumers._PooledDatabaseSyncToAsync.thread_handler

    def counted(self, *args, **kwargs):
        calls.append(getattr(self.func, "__name__", "?"))
        return thread_handler(self, *args, **kwargs)

    monkeypatch.setattr(consumers._PooledDatabaseSyncToAsync, "thread_handler", counted)
    cookie = login_cookie(client_user)

    async def scenario():
        alice = communicator(thread.pk, cookie)
        assert (await alice.connect())[0]
        calls.clear()
        await send(alice, type="message:send", body="Hello", client_token="a1")
        await receive_type(alice, "message:ack")
        during = len(calls)
        await alice.disconnect()
        return during

    assert run(scenario) == 1
    assert Message.objects.get().body == "Hello"


def test_a_message_sent_just_before_closing_is_still_saved(thread, client_user, login_cookie):
    """The socket's frames are handled by a task of their own; a disconnect waits for the ones already sent."""
    cookie = login_cookie(client_user)

    async def scenario():
        alice = communicator(thread.pk, cookie)
        assert (await alice.connect())[0]
        await send(alice, type="message:send", body="last words", client_token="a1")
        await alice.disconnect()

    run(scenario)
    assert Message.objects.get().body == "last words"


@needs_the_pool
def test_the_sending_socket_gets_its_ack_but_not_the_echo_and_the_senders_other_tab_gets_the_message(
    thread, client_user, coach_user, login_cookie
):
    tab_cookie, other_tab_cookie, bob_cookie = (
        login_cookie(client_user),
        login_cookie(client_user),
        login_cookie(coach_user),
    )

    async def scenario():
        tab = communicator(thread.pk, tab_cookie)
        other_tab = communicator(thread.pk, other_tab_cookie)
        bob = communicator(thread.pk, bob_cookie)
        for comm in (tab, other_tab, bob):
            assert (await comm.connect())[0]
        await send(tab, type="message:send", body="Hello", client_token="a1")
        await receive_type(bob, "message:new")
        in_other_tab = await receive_type(other_tab, "message:new")
        # The echo would have been dispatched before this ping's pong (it was queued first).
        await send(tab, type="ping")
        seen = []
        while (event := await receive(tab))["type"] != "pong":
            seen.append(event["type"])
        for comm in (tab, other_tab, bob):
            await comm.disconnect()
        return seen, in_other_tab

    seen, in_other_tab = run(scenario)
    assert seen == ["message:ack"]
    assert in_other_tab["message"]["body"] == "Hello"


def test_a_push_that_cannot_be_made_is_logged_and_the_caller_goes_on(caplog):
    """Outside a consumer, where an event loop already runs in the thread (a sync caller under Playwright's
    loop), async_to_sync refuses: the save that pushed must stand all the same."""
    from messaging import realtime

    async def scenario():
        realtime._send(("thread-0", {"type": "chat.read", "user_id": 1, "message_id": 1}))

    run(scenario)
    assert "channel layer push to ['thread-0'] failed" in caplog.text
