"""A dashboard's threads box on a first visit (issue 13): one statement, compiled once per process (core.sqlmemo,
prepared), and still the threads, titles, unread counts, last messages and senders the ORM reads."""

import pytest
from django.utils import timezone

from accounts.tests.factories import ClientFactory
from coaches.tests.factories import CoachProfileFactory
from messaging import services
from messaging.models import Message, MessageThread, ThreadReadState
from orders.tests.factories import make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversations(client_user, coach_user, settings):
    """The client with more threads than the box shows (messages by both sides, read marks at several points,
    one thread nobody wrote in), the coach on some of them, and threads of other people."""
    settings.CHAT_RATE_LIMIT_COUNT = 1000
    other_coach, stranger = CoachProfileFactory().user, ClientFactory()
    threads = []
    for number in range(7):
        coach = coach_user if number % 2 else other_coach
        thread = make_order(client=client_user, coach=coach).thread
        threads.append(thread)
        if number == 3:
            continue  # nobody wrote in it: not in the box
        for count in range(number + 1):
            services.send_message(thread, actor=coach if count % 2 else client_user, body=f"{number}.{count}")
        if number % 3 == 1:
            services.mark_read(thread, actor=client_user)
        if number == 5:
            services.mark_read(thread, actor=coach, up_to_message_id=thread.messages.order_by("id")[2].pk)
    theirs = make_order(client=stranger, coach=coach_user).thread
    services.send_message(theirs, actor=stranger, body="Not the client's")
    return {"client": client_user, "coach": coach_user, "other_coach": other_coach, "stranger": stranger}


def _orm(user, limit):
    """What recent_threads read before core.sqlmemo."""
    threads = list(
        services.threads_for_list(user).filter(services.participant_q(user), last_message_at__isnull=False)[:limit]
    )
    services.attach_last_messages(threads)
    return threads


def _shown(threads):
    """What the box prints of each thread (messaging/partials/_dashboard_thread_row.html)."""
    return [
        (
            t.pk,
            t.title,
            t.unread,
            t.last_message and (t.last_message.sender_id, t.last_message.sender.display_name, t.last_message.body),
        )
        for t in threads
    ]


@pytest.mark.parametrize("limit", [1, 5, 20])
@pytest.mark.parametrize("who", ["client", "coach", "other_coach", "stranger"])
def test_the_threads_box_is_what_the_orm_reads(conversations, who, limit):
    user = conversations[who]
    expected = _shown(_orm(user, limit))
    assert _shown(services.recent_threads(user, limit)) == expected
    assert expected  # each of them has a thread someone wrote in
    if who == "client" and limit == 5:
        assert len(expected) == 5 and any(t[2] for t in expected) and any(not t[2] for t in expected)


def test_a_staff_participant_sees_only_their_own_threads(conversations, staff_user):
    thread = MessageThread.objects.filter(client=conversations["client"], last_message_at__isnull=False).first()
    MessageThread.objects.filter(pk=thread.pk).update(coach=staff_user)
    assert _shown(services.recent_threads(staff_user, 5)) == _shown(_orm(staff_user, 5))
    assert [t.pk for t in services.recent_threads(staff_user, 5)] == [thread.pk]


def test_a_first_threads_box_compiles_no_thread_query(conversations, compilations):
    services.recent_threads(conversations["client"], 5)
    compilations.clear()
    assert services.recent_threads(conversations["coach"], 5)
    assert MessageThread not in compilations and ThreadReadState not in compilations


def test_a_thread_before_an_order_an_attachment_and_a_thread_without_messages_show_as_the_orm_reads(
    client_user, coach_user, django_assert_num_queries
):
    """Titled "Before an order"; an attachment's empty body; last_message_at set but no message left (no last
    message); a sender without a name (named by their email) and one whose name needs escaping later."""
    emptied = make_order(client=client_user, coach=coach_user).thread
    MessageThread.objects.filter(pk=emptied.pk).update(last_message_at=timezone.now())
    named = make_order(client=client_user, coach=coach_user, title="<b>Tom & Jerry</b>").thread
    type(coach_user).objects.filter(pk=coach_user.pk).update(first_name="", last_name="")
    Message.objects.create(thread=named, sender=coach_user, body="x" * 200)
    MessageThread.objects.filter(pk=named.pk).update(last_message_at=timezone.now())
    coach_user.refresh_from_db()
    asked_first = CoachProfileFactory().user
    before = MessageThread.objects.create(client=client_user, coach=asked_first, last_message_at=timezone.now())
    Message.objects.create(thread=before, sender=asked_first, body="")
    with django_assert_num_queries(1):
        shown = _shown(services.recent_threads(client_user, 5))
    assert shown == _shown(_orm(client_user, 5))
    by_pk = {row[0]: row for row in shown}
    assert by_pk[before.pk][1] == "Before an order" and by_pk[before.pk][3][2] == ""
    assert by_pk[emptied.pk][3] is None
    assert by_pk[named.pk][3][1] == coach_user.email.split("@")[0]
