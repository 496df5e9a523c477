"""The thread page's queries on a miss (issue 13): compiled once per process (core.sqlmemo), and still showing
what the ORM reads: the same thread, the same page of messages, each with its attachments in the same order."""

import datetime
import itertools

import pytest
from django.urls import reverse
from django.utils import timezone

from files.models import FileAsset, ScanStatus
from messaging import services, views
from messaging.models import Message, MessageThread, ThreadReadState
from orders.tests.factories import make_order

pytestmark = pytest.mark.django_db
_keys = itertools.count()


def _asset(owner, name: str, *, age_minutes: int, status=ScanStatus.CLEAN, deleted: bool = False) -> FileAsset:
    asset = FileAsset.objects.create(
        owner=owner,
        key=f"test/thread-page/{next(_keys)}",
        original_name=name,
        content_type="application/pdf",
        size=1234,
        sha256="0" * 64,
        category="message_attachment",
        scan_status=status,
        deleted_at=timezone.now() if deleted else None,
    )
    # FileAsset's own order (newest first) is what the page shows; make it differ from the id order.
    FileAsset.objects.filter(pk=asset.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=age_minutes))
    return asset


@pytest.fixture
def two_threads(client_user, coach_user, other_client, settings):
    """Two threads whose messages' ids interleave, with attachments on both, more messages than a page shows."""
    settings.CHAT_RATE_LIMIT_COUNT = 1000
    mine, theirs = (
        make_order(client=client_user, coach=coach_user).thread,
        make_order(client=other_client, coach=coach_user).thread,
    )
    for number in range(views.PAGE_SIZE + 6):
        sender = coach_user if number % 3 else client_user
        message = services.send_message(mine, actor=sender, body=f"mine {number}")
        if number % 4 == 1:
            message.attachments.add(
                _asset(sender, f"old {number}.pdf", age_minutes=50),
                _asset(sender, f"new {number}.pdf", age_minutes=5, status=ScanStatus.PENDING),
                _asset(sender, f"mid {number}.pdf", age_minutes=20, deleted=number % 8 == 1),
            )
        other = services.send_message(theirs, actor=coach_user, body=f"theirs {number}")
        other.attachments.add(_asset(coach_user, f"not yours {number}.pdf", age_minutes=1))
    return mine, theirs


def _orm_page(thread, before):
    """What views._messages_page read before core.sqlmemo: the queryset with prefetch_related."""
    queryset = Message.objects.filter(thread=thread).select_related("sender").prefetch_related("attachments")
    if before:
        queryset = queryset.filter(pk__lt=before)
    newest_first = list(queryset.order_by("-id")[: views.PAGE_SIZE + 1])
    return list(reversed(newest_first[: views.PAGE_SIZE])), len(newest_first) > views.PAGE_SIZE


@pytest.mark.parametrize("older", [False, True])
def test_a_page_of_messages_and_their_attachments_are_what_the_orm_reads(two_threads, older):
    mine, _theirs = two_threads
    before = Message.objects.filter(thread=mine).order_by("id").values_list("id", flat=True)[8] if older else None
    expected, expected_older = _orm_page(mine, before)
    messages, has_older, attachments = views._messages_page(mine, before)
    assert [(m.pk, m.body, m.sender.display_name) for m in messages] == [
        (m.pk, m.body, m.sender.display_name) for m in expected
    ]
    assert has_older is expected_older
    assert {m.pk: [a.pk for a in attachments[m.pk]] for m in messages} == {
        m.pk: [a.pk for a in m.attachments.all()] for m in expected
    }
    assert any(len(found) == 3 for found in attachments.values())  # the order among several was compared
    assert not any(a.original_name.startswith("not yours") for found in attachments.values() for a in found)


def test_read_marks_and_the_thread_are_what_the_orm_reads(two_threads, client_user, coach_user, staff_user):
    mine, theirs = two_threads
    services.mark_read(mine, actor=client_user)
    ThreadReadState.objects.create(thread=theirs, user=coach_user, last_read_message_id=99)
    assert views._read_marks(mine) == dict(
        ThreadReadState.objects.filter(thread=mine).values_list("user_id", "last_read_message_id")
    )
    for user in (client_user, coach_user, staff_user):
        found = services.thread_for(user, mine.pk)
        assert (found.pk, found.order.title, found.client.email, found.coach.email) == (
            mine.pk,
            mine.order.title,
            client_user.email,
            coach_user.email,
        )


@pytest.mark.parametrize("who", ["client_user", "coach_user"])
def test_someone_elses_thread_is_still_404_once_the_query_is_memoised(client, two_threads, other_client, who, request):
    """The memoised read keeps visible_to's condition: a participant's compiled statement run for a stranger
    finds nothing."""
    mine, theirs = two_threads
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("messaging:detail", args=[mine.pk])).status_code == 200
    client.force_login(other_client)
    assert client.get(reverse("messaging:detail", args=[mine.pk])).status_code == 404
    assert client.get(reverse("messaging:detail", args=[theirs.pk])).status_code == 200


@pytest.mark.parametrize("who", ["client", "coach"])
def test_a_thread_page_not_seen_before_compiles_none_of_its_queries(
    client, client_user, coach_user, other_client, other_coach, compilations, who
):
    """The second thread's page runs the first one's compiled statements with other ids: the ORM builds no
    thread, message, attachment or read-mark query for it (the session and cached_for values may)."""
    first = make_order(client=client_user, coach=coach_user).thread
    second = make_order(client=other_client, coach=other_coach).thread
    for thread in (first, second):
        message = services.send_message(thread, actor=thread.coach, body="Here is the draft")
        message.attachments.add(_asset(thread.coach, "draft.pdf", age_minutes=1))
        for reader in (thread.client, thread.coach):
            services.mark_read(thread, actor=reader)  # nothing left to mark: the visit only reads
    viewer = {"client": (client_user, other_client), "coach": (coach_user, other_coach)}[who]
    client.force_login(viewer[0])
    assert client.get(reverse("messaging:detail", args=[first.pk])).status_code == 200
    client.force_login(viewer[1])
    compilations.clear()
    response = client.get(reverse("messaging:detail", args=[second.pk]))
    assert response.status_code == 200 and "draft.pdf" in response.content.decode()
    listed = {MessageThread, Message, Message.attachments.through, ThreadReadState, FileAsset}
    assert [model for model in compilations if model in listed] == []
