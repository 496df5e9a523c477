"""The websocket consumer, driven through the real ASGI stack (origin check, session auth, routing)."""

import json

import pytest
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from core.tests.asyncutil import run
from elite.asgi import application
from messaging.models import Message

ORIGIN = (b"origin", b"http://testserver")


def communicator(thread_id, cookie=None, origin=ORIGIN, path=None):
    headers = [origin] if origin else []
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path or f"/ws/threads/{thread_id}/", headers=headers)


async def send(comm, **frame):
    await comm.send_to(text_data=json.dumps(frame))


async def receive(comm, timeout=5):
    return json.loads(await comm.receive_from(timeout=timeout))


async def receive_type(comm, wanted, timeout=5):
    """Skip events of other types (e.g. the sender's own message:new) until `wanted` arrives."""
    while True:
        event = await receive(comm, timeout)
        if event["type"] == wanted:
            return event


@pytest.mark.django_db(transaction=True)
class TestConnecting:
    def test_participant_connects(self, thread, client_user, login_cookie):
        async def scenario():
            comm = communicator(thread.pk, login_cookie(client_user))
            connected, _ = await comm.connect()
            await comm.disconnect()
            return connected

        assert run(scenario) is True

    def test_without_session_is_refused(self, thread):
        async def scenario():
            comm = communicator(thread.pk)
            connected, _ = await comm.connect()
            return connected

        assert run(scenario) is False

    def test_stranger_is_refused(self, thread, other_client, login_cookie):
        async def scenario():
            comm = communicator(thread.pk, login_cookie(other_client))
            connected, _ = await comm.connect()
            return connected

        assert run(scenario) is False

    def test_unknown_thread_is_refused(self, thread, client_user, login_cookie):
        async def scenario():
            comm = communicator(thread.pk + 999, login_cookie(client_user))
            connected, _ = await comm.connect()
            return connected

        assert run(scenario) is False

    def test_foreign_origin_is_refused(self, thread, client_user, login_cookie):
        async def scenario():
            comm = communicator(thread.pk, login_cookie(client_user), origin=(b"origin", b"https://evil.example"))
            connected, _ = await comm.connect()
            return connected

        assert run(scenario) is False

    def test_missing_origin_is_refused(self, thread, client_user, login_cookie):
        async def scenario():
            comm = communicator(thread.pk, login_cookie(client_user), origin=None)
            connected, _ = await comm.connect()
            return connected

        assert run(scenario) is False

    def test_suspended_user_is_refused(self, thread, client_user, login_cookie):
        cookie = login_cookie(client_user)
        client_user.account_status = "suspended"
        client_user.save(update_fields=["account_status"])

        async def scenario():
            connected, _ = await communicator(thread.pk, cookie).connect()
            return connected

        assert run(scenario) is False

    def test_staff_may_connect(self, thread, staff_user, login_cookie):
        async def scenario():
            comm = communicator(thread.pk, login_cookie(staff_user))
            connected, _ = await comm.connect()
            await comm.disconnect()
            return connected

        assert run(scenario) is True


@pytest.mark.django_db(transaction=True)
class TestEvents:
    def test_send_is_saved_acked_and_broadcast(self, thread, client_user, coach_user, login_cookie):
        async def scenario():
            alice = communicator(thread.pk, login_cookie(client_user))
            bob = communicator(thread.pk, login_cookie(coach_user))
            assert (await alice.connect())[0] and (await bob.connect())[0]
            await send(alice, type="message:send", body="Hello coach", client_token="tok-1")
            ack = await receive_type(alice, "message:ack")
            new = await receive_type(bob, "message:new")
            await alice.disconnect()
            await bob.disconnect()
            return ack, new

        ack, new = run(scenario)
        saved = Message.objects.get()
        assert ack["client_token"] == "tok-1"
        assert ack["message"]["id"] == saved.pk == new["message"]["id"]
        assert new["message"]["body"] == "Hello coach"
        assert new["message"]["sender_id"] == client_user.pk
        assert saved.sender == client_user and saved.thread == thread and not saved.is_moderator
        thread.refresh_from_db()
        assert thread.last_message_at == saved.created_at

    def test_resend_with_same_token_saves_once(self, thread, client_user, login_cookie):
        async def scenario():
            comm = communicator(thread.pk, login_cookie(client_user))
            await comm.connect()
            await send(comm, type="message:send", body="Once", client_token="same")
            first = await receive_type(comm, "message:ack")
            await send(comm, type="message:send", body="Once", client_token="same")
            second = await receive_type(comm, "message:ack")
            await comm.disconnect()
            return first, second

        first, second = run(scenario)
        assert first["message"]["id"] == second["message"]["id"]
        assert Message.objects.count() == 1

    def test_read_tells_the_other_side(self, thread, client_user, coach_user, login_cookie):
        from messaging import services

        message = services.send_message(thread, actor=coach_user, body="Draft attached soon")

        async def scenario():
            alice = communicator(thread.pk, login_cookie(client_user))
            bob = communicator(thread.pk, login_cookie(coach_user))
            await alice.connect()
            await bob.connect()
            await send(alice, type="message:read", message_id=message.pk)
            event = await receive_type(bob, "message:read")
            await alice.disconnect()
            await bob.disconnect()
            return event

        event = run(scenario)
        assert event == {"type": "message:read", "user_id": client_user.pk, "message_id": message.pk}
        assert services.unread_in_thread(thread.pk, client_user) == 0

    def test_typing_reaches_the_other_side_only_and_is_throttled(self, thread, client_user, coach_user, login_cookie):
        async def scenario():
            alice = communicator(thread.pk, login_cookie(client_user))
            bob = communicator(thread.pk, login_cookie(coach_user))
            await alice.connect()
            await bob.connect()
            await send(alice, type="thread:typing")
            await send(alice, type="thread:typing")  # within the throttle window: dropped
            event = await receive(bob)
            bob_extra = await bob.receive_nothing(timeout=0.3)
            alice_nothing = await alice.receive_nothing(timeout=0.3)
            await alice.disconnect()
            await bob.disconnect()
            return event, bob_extra, alice_nothing

        event, bob_nothing_more, alice_nothing = run(scenario)
        assert event["type"] == "thread:typing"
        assert event["user_id"] == client_user.pk
        assert event["name"] == client_user.display_name
        assert bob_nothing_more and alice_nothing

    def test_ping_pong(self, thread, client_user, login_cookie):
        async def scenario():
            comm = communicator(thread.pk, login_cookie(client_user))
            await comm.connect()
            await send(comm, type="ping")
            event = await receive(comm)
            await comm.disconnect()
            return event

        assert run(scenario) == {"type": "pong"}

    def test_staff_message_is_marked_moderator(self, thread, staff_user, client_user, login_cookie):
        async def scenario():
            staff = communicator(thread.pk, login_cookie(staff_user))
            alice = communicator(thread.pk, login_cookie(client_user))
            await staff.connect()
            await alice.connect()
            await send(staff, type="message:send", body="Please keep it civil", client_token="mod")
            event = await receive_type(alice, "message:new")
            await staff.disconnect()
            await alice.disconnect()
            return event

        event = run(scenario)
        assert event["message"]["is_moderator"] is True
        assert Message.objects.get().is_moderator


@pytest.mark.django_db(transaction=True)
class TestBadFrames:
    def _errors_then_still_works(self, thread, user, cookie, frames):
        async def scenario():
            comm = communicator(thread.pk, cookie)
            await comm.connect()
            errors = []
            for frame in frames:
                await comm.send_to(text_data=frame)
                errors.append(await receive(comm))
            await send(comm, type="ping")
            still_open = await receive(comm)
            await comm.disconnect()
            return errors, still_open

        return run(scenario)

    def test_malformed_json_and_unknown_types_get_error_events(self, thread, client_user, login_cookie):
        frames = ["{not json", "[1, 2]", '{"no_type": 1}', '{"type": "message:delete"}', '"just a string"']
        errors, still_open = self._errors_then_still_works(thread, client_user, login_cookie(client_user), frames)
        assert [e["type"] for e in errors] == ["error"] * 5
        assert [e["code"] for e in errors] == ["bad_json", "bad_frame", "bad_frame", "unknown_type", "bad_frame"]
        assert still_open == {"type": "pong"}
        assert Message.objects.count() == 0

    def test_empty_and_over_long_messages_are_refused_and_not_saved(self, thread, client_user, login_cookie, settings):
        frames = [
            json.dumps({"type": "message:send", "body": "   ", "client_token": "a"}),
            json.dumps(
                {"type": "message:send", "body": "x" * (settings.CHAT_MAX_MESSAGE_LENGTH + 1), "client_token": "b"}
            ),
            json.dumps({"type": "message:send", "body": 42, "client_token": "c"}),
        ]
        errors, still_open = self._errors_then_still_works(thread, client_user, login_cookie(client_user), frames)
        assert [e["code"] for e in errors] == ["invalid", "invalid", "invalid"]
        assert [e["client_token"] for e in errors] == ["a", "b", "c"]
        assert "at most" in errors[1]["message"]
        assert still_open == {"type": "pong"}
        assert Message.objects.count() == 0

    def test_html_is_sent_as_escaped_text(self, thread, client_user, login_cookie):
        async def scenario():
            comm = communicator(thread.pk, login_cookie(client_user))
            await comm.connect()
            await send(
                comm,
                type="message:send",
                body="<script>alert(1)</script> see https://example.com/a?b=1&c=2",
                client_token="x",
            )
            ack = await receive_type(comm, "message:ack")
            await comm.disconnect()
            return ack

        html = run(scenario)["message"]["html"]
        assert "<script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert '<a href="https://example.com/a?b=1&amp;c=2" rel="nofollow noopener noreferrer" target="_blank">' in html

    @override_settings(CHAT_RATE_LIMIT_COUNT=3)
    def test_flood_gets_rate_limit_errors(self, thread, client_user, login_cookie):
        async def scenario():
            comm = communicator(thread.pk, login_cookie(client_user))
            await comm.connect()
            results = []
            for n in range(5):
                await send(comm, type="message:send", body=f"msg {n}", client_token=f"flood-{n}")
                while True:
                    event = await receive(comm)
                    if event["type"] in ("message:ack", "error"):
                        results.append(event)
                        break
            await send(comm, type="ping")
            # The broadcast of the last saved message may still be on its way through Redis.
            still_open = await receive_type(comm, "pong")
            await comm.disconnect()
            return results, still_open

        results, still_open = run(scenario)
        assert [r["type"] for r in results] == ["message:ack"] * 3 + ["error"] * 2
        assert results[-1]["code"] == "rate_limited"
        assert still_open == {"type": "pong"}
        assert Message.objects.count() == 3


@pytest.mark.django_db(transaction=True)
class TestLiveCounts:
    def test_unread_total_on_connect_and_pushed_on_new_message(self, thread, client_user, coach_user, login_cookie):
        from messaging import services

        services.send_message(thread, actor=coach_user, body="First")

        async def scenario():
            live = communicator(None, login_cookie(client_user), path="/ws/live/")
            assert (await live.connect())[0]
            first = await receive(live)
            coach = communicator(thread.pk, login_cookie(coach_user))
            await coach.connect()
            await send(coach, type="message:send", body="Second", client_token="s2")
            pushed = await receive(live)
            await coach.disconnect()
            await live.disconnect()
            return first, pushed

        first, pushed = run(scenario)
        assert first == {"type": "unread", "total": 1}
        assert pushed["type"] == "unread"
        assert pushed["total"] == 2
        assert pushed["thread"] == thread.pk
        assert pushed["thread_unread"] == 2
        assert pushed["last_message"]["body"] == "Second"

    def test_the_notification_bell_count_is_pushed_when_it_changes(self, client_user, login_cookie):
        from asgiref.sync import sync_to_async

        from notifications.services import mark_read, notify

        async def scenario():
            live = communicator(None, login_cookie(client_user), path="/ws/live/")
            assert (await live.connect())[0]
            await receive(live)  # the messages count sent on connect
            await sync_to_async(notify)(client_user, "order_delivered", "Your CV is ready", email=False)
            arrived = await receive_type(live, "notifications")
            await sync_to_async(notify)(client_user, "order_delivered", "Your letter is ready", email=False)
            second = await receive_type(live, "notifications")
            await sync_to_async(mark_read)(actor=client_user)
            read = await receive_type(live, "notifications")
            await live.disconnect()
            return arrived, second, read

        assert run(scenario) == (
            {"type": "notifications", "unread": 1},
            {"type": "notifications", "unread": 2},
            {"type": "notifications", "unread": 0},
        )

    def test_no_push_is_published_for_someone_without_a_live_page(self, client_user, monkeypatch):
        from messaging import realtime
        from notifications.services import notify

        published = []
        monkeypatch.setattr(realtime, "_send", lambda *pushes: published.extend(pushes))

        notify(client_user, "order_delivered", "Your CV is ready", email=False)

        assert published == []

    def test_live_socket_needs_a_session(self, db):
        async def scenario():
            connected, _ = await communicator(None, path="/ws/live/").connect()
            return connected

        assert run(scenario) is False


@pytest.mark.django_db(transaction=True)
def test_message_with_attachment_ids_reaches_the_other_side(
    thread, client_user, coach_user, login_cookie, media_root, pdf_upload
):
    from files.services import store_upload

    asset = store_upload(pdf_upload("notes.pdf"), actor=coach_user, category="message_attachment")
    coach_cookie, client_cookie = login_cookie(coach_user), login_cookie(client_user)

    async def scenario():
        bob = communicator(thread.pk, coach_cookie)
        alice = communicator(thread.pk, client_cookie)
        await bob.connect()
        await alice.connect()
        await send(bob, type="message:send", body="", attachment_ids=[asset.pk], client_token="att")
        ack = await receive_type(bob, "message:ack")
        new = await receive_type(alice, "message:new")
        await bob.disconnect()
        await alice.disconnect()
        return ack, new

    ack, new = run(scenario)
    assert new["message"]["id"] == ack["message"]["id"]
    [attachment] = new["message"]["attachments"]
    assert attachment["name"] == "notes.pdf"
    assert attachment["url"] == f"/files/{asset.pk}/"  # scanned clean right after upload (no-op scanner here)
    assert list(Message.objects.get().attachments.all()) == [asset]


@pytest.mark.django_db(transaction=True)
def test_a_suspension_stops_posting_on_an_open_socket(thread, client_user, login_cookie):
    """Even one written straight to the database (no signal): the next frame re-checks the session."""
    from messaging.consumers import SESSION_ENDED

    cookie = login_cookie(client_user)

    def suspend():
        client_user.account_status = "suspended"
        client_user.save(update_fields=["account_status"])

    async def scenario():
        from channels.db import database_sync_to_async

        comm = communicator(thread.pk, cookie)
        assert (await comm.connect())[0]
        await send(comm, type="message:send", body="before", client_token="s1")
        before = await receive_type(comm, "message:ack")
        await database_sync_to_async(suspend)()
        await send(comm, type="message:send", body="after", client_token="s2")
        # The fan-out of "before" may still be on its way (a loaded machine): read up to the close.
        frames = []
        while (after := await comm.receive_output(timeout=5))["type"] != "websocket.close":
            frames.append(json.loads(after["text"]))
        return before, after, frames

    before, after, frames = run(scenario)
    assert before["message"]["body"] == "before"
    assert after == {"type": "websocket.close", "code": SESSION_ENDED}
    assert [frame["message"]["body"] for frame in frames] in ([], ["before"])  # never an answer to "after"
    assert list(Message.objects.values_list("body", flat=True)) == ["before"]


@pytest.mark.django_db(transaction=True)
def test_a_closed_orders_thread_refuses_new_messages_over_the_socket(thread, client_user, login_cookie, settings):
    from orders import services as order_services

    settings.THREAD_READ_ONLY_AFTER_DAYS = 0
    order_services.cancel_order(thread.order.pk, actor=client_user, reason="No longer needed")
    cookie = login_cookie(client_user)

    async def scenario():
        comm = communicator(thread.pk, cookie)
        assert (await comm.connect())[0]  # still readable
        await send(comm, type="message:send", body="hello?", client_token="ro")
        error = await receive_type(comm, "error")
        await comm.disconnect()
        return error

    error = run(scenario)
    assert error["code"] == "read_only"
    assert Message.objects.count() == 0
