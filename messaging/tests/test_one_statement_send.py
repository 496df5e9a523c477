"""A chat message's one statement (messaging.services._create_with_activity: the message row and its thread's
activity time, core.writes) ends every send exactly as the ORM path does (issue 13).

Each case runs twice, on two threads of the same two people (two orders), once with
MESSAGING_ONE_STATEMENT_SEND on and once off. Compared: the message rows (all columns but the id and the
time, which is compared with the thread's), the thread row, what send_message returns, the broadcast
payload (ids normalised), the post_save signals sent (model, created, update_fields), the pushes after
commit and the cache versions bumped (thread lists and pages, both users). PostgreSQL only: elsewhere
there is only the ORM path.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import require_service
from core import pages
from core.cache import _version_key
from files.scanner import Verdict
from files.services import record_verdict, store_upload
from messaging import realtime, services
from messaging.models import Message, MessageThread


@pytest.fixture(autouse=True)
def _postgres():
    require_service("PostgreSQL", connection.vendor == "postgresql", "run with DATABASE_URL=postgres://…")


def _versions(user_ids) -> dict:
    keys = [_version_key(scope, pk) for scope in (services.THREADS_SCOPE, pages.SCOPE) for pk in user_ids]
    return {key: cache.get(key) for key in keys}


class _Undo(Exception):
    pass


def _sequences() -> list[tuple[str, int | None]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences")
        return cursor.fetchall()


def _restore(sequences) -> None:
    """Sequences do not roll back: set back, the second run's rows get the first run's ids."""
    with connection.cursor() as cursor:
        for name, value in sequences:
            cursor.execute("SELECT setval(%s, %s, %s)", [name, value or 1, value is not None])


_TIMES = re.compile(r"\d{4}-\d\d-\d\d[T ][0-9:.+-]+|\d{1,2} \w{3}, \d\d:\d\d|\w{3}\.? \d{1,2}, \d{4}, [^<\"']+")


def _run(case, thread, staff, *, one_statement: bool, settings, capture, monkeypatch) -> dict:
    """The case on `thread`, everything it wrote rolled back after (its ids given back)."""
    settings.MESSAGING_ONE_STATEMENT_SEND = one_statement
    users = [thread.client_id, thread.coach_id]
    signals, pushes = [], []

    def saved(sender, instance, created, update_fields, **_):
        signals.append((sender.__name__, instance.pk, created, update_fields))

    monkeypatch.setattr(realtime, "message_created", lambda payload, t: pushes.append((payload, t.pk)))
    sequences = _sequences()
    before = _versions(users)
    post_save.connect(saved, weak=False, dispatch_uid="test-one-statement-send")
    try:
        with transaction.atomic():
            with capture(execute=True), CaptureQueriesContext(connection) as queries:
                returned = case(thread, staff)
            post_save.disconnect(dispatch_uid="test-one-statement-send")
            thread_row = MessageThread.objects.values().get(pk=thread.pk)
            rows = list(Message.objects.filter(thread=thread).order_by("pk"))
            seen: dict[str, Any] = {
                "messages": [
                    {**m.__dict__, "_state": None, "attachments": [(a.pk, a.scan_status) for a in m.attachments.all()]}
                    for m in rows
                ],
                "thread": thread_row,
                "returned": [(m.pk, _TIMES.sub("<time>", repr(m.payload))) for m in returned],
                "pushes": _TIMES.sub("<time>", repr(pushes)),
                "signals": signals,
                "bumped": {key: (cache.get(key) or 0) - (before[key] or 0) for key in before},
                "inserts": sum('INSERT INTO "messaging_message" ' in q["sql"] for q in queries.captured_queries),
                "updates": sum(
                    q["sql"].startswith('UPDATE "messaging_messagethread"') and "IS NULL" in q["sql"]
                    for q in queries.captured_queries
                ),
            }
            raise _Undo
    except _Undo:
        pass
    finally:
        post_save.disconnect(dispatch_uid="test-one-statement-send")
    _restore(sequences)
    thread.refresh_from_db()
    # The times differ between the runs: each message's is the thread's activity time, or older.
    for m in seen["messages"]:
        created = m.pop("created_at")
        m["created_at"] = "the thread's" if created == seen["thread"]["last_message_at"] else "older"
    for key in ("last_message_at", "updated_at"):
        value = seen["thread"][key]
        seen["thread"][key] = "<time>" if value and value > thread.created_at else value
    return seen


def _first(thread, staff):
    return [
        services.send_message(thread, actor=thread.client, body="Hello <b>you</b> www.example.com", client_token="t1")
    ]


def _reply_without_token(thread, staff):
    first = services.send_message(thread, actor=thread.client, body="One")
    return [
        first,
        services.send_message(thread, actor=thread.coach, body="Two"),
        services.send_message(thread, actor=thread.coach, body="Two"),
    ]


def _out_of_order(thread, staff):
    # A message that committed later with an earlier time: the activity time never moves backwards.
    MessageThread.objects.filter(pk=thread.pk).update(last_message_at=timezone.now() + timedelta(minutes=5))
    thread.refresh_from_db()
    return [services.send_message(thread, actor=thread.coach, body="Late")]


def _resend(thread, staff):
    first = services.send_message(thread, actor=thread.client, body="Once", client_token="same")
    return [first, services.send_message(thread, actor=thread.client, body="Once", client_token="same")]


def _moderator(thread, staff):
    return [services.send_message(thread, actor=staff, body="Please keep it civil")]


def _attachments(thread, staff):
    assets = [
        store_upload(_pdf(name), actor=thread.client, category="message_attachment") for name in ("a.pdf", "b.pdf")
    ]
    record_verdict(assets[0].pk, Verdict(infected=False))  # one downloadable, one still being scanned
    return [services.send_message(thread, actor=thread.client, body="", attachments=assets)]


def _pdf(name):
    from files.tests.samples import pdf_bytes, upload

    return upload(pdf_bytes("Draft"), name=name)


CASES = {
    "first message, with a token": _first,
    "replies without a token": _reply_without_token,
    "out of order": _out_of_order,
    "resend": _resend,
    "moderator": _moderator,
    "attachments": _attachments,
}


@pytest.mark.parametrize("name", CASES)
def test_the_one_statement_ends_a_send_as_the_orm_does(
    name, thread, staff_user, settings, django_capture_on_commit_callbacks, monkeypatch, media_root
):
    fast, orm = (
        _run(
            CASES[name],
            thread,
            staff_user,
            one_statement=on,
            settings=settings,
            capture=django_capture_on_commit_callbacks,
            monkeypatch=monkeypatch,
        )
        for on in (True, False)
    )
    # Each path was the one taken: the ORM's INSERT then UPDATE, or one statement with both.
    # (A resend's INSERT fails on the client_token, before any UPDATE.)
    assert orm["updates"] >= 1 and fast["updates"] == 0 and fast["inserts"] == orm["inserts"] >= 1
    fast.pop("updates"), orm.pop("updates")
    assert fast == orm
    assert fast["signals"] and fast["pushes"] and fast["messages"]


def test_a_pre_save_receiver_sends_the_save_down_the_orm_path(thread, client_user):
    """The one statement sends no pre_save: with a receiver on Message it is not taken."""
    seen = []
    pre_save.connect(receiver := lambda sender, instance, **_: seen.append(instance.body), sender=Message)
    try:
        with CaptureQueriesContext(connection) as queries:
            services.send_message(thread, actor=client_user, body="Watched")
    finally:
        pre_save.disconnect(receiver, sender=Message)
    assert seen == ["Watched"]
    assert any(
        q["sql"].startswith('UPDATE "messaging_messagethread"') and "IS NULL" in q["sql"]
        for q in queries.captured_queries
    )


def test_a_thread_gone_writes_nothing_and_leaves_it_to_the_orm(thread, client_user):
    message = Message(thread=thread, sender=client_user, body="Orphan")
    MessageThread.objects.filter(pk=thread.pk).delete()
    assert services._create_with_activity(message) is None
    assert message.pk is None and not Message.objects.filter(body="Orphan").exists()
