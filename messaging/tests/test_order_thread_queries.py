"""The order page's Conversation card on a first visit (issue 13): order_thread_card's statement compiled once
per process (core.sqlmemo, prepared), and still the thread, unread count and last message time the ORM reads,
for the order's two parties, strangers, staff and a staff party."""

import random

import pytest

from accounts.tests.factories import ClientFactory, StaffFactory
from coaches.tests.factories import CoachProfileFactory
from messaging import services
from messaging.models import Message, MessageThread, ThreadReadState
from orders.tests.factories import make_order

pytestmark = pytest.mark.django_db


def _orm(order, user):
    """What the card showed of the thread the ORM read before core.sqlmemo."""
    thread = services.threads_for_list(user).filter(order=order).first()
    return None if thread is None else (thread.pk, thread.unread, thread.last_message_at)


def _shown(card):
    return None if card is None else (card.pk, card.unread, card.last_message_at)


@pytest.fixture
def conversations(settings):
    """Orders between a few clients and coaches (one with a staff member as its coach), their threads with
    messages by either party and by staff in random turns, read marks at random points (a staff one too),
    one thread nobody wrote in, one order whose thread is gone."""
    settings.CHAT_RATE_LIMIT_COUNT = 10_000
    rng = random.Random(13)
    clients = [ClientFactory() for _ in range(3)]
    coaches = [CoachProfileFactory().user for _ in range(3)]
    staff = StaffFactory()
    staff_coach = CoachProfileFactory().user
    orders = []
    for number in range(10):
        order = make_order(client=clients[number % 3], coach=coaches[number % 2])
        orders.append(order)
        thread = order.thread
        if number == 0:
            continue  # opened, nobody wrote in it
        if number == 1:
            thread.delete()  # no thread: the card offers to start one
            continue
        people = [order.client, order.coach, staff]
        for count in range(rng.randint(1, 6)):
            services.send_message(thread, actor=rng.choice(people), body=f"{number}.{count}")
        ids = list(Message.objects.filter(thread=thread).order_by("id").values_list("pk", flat=True))
        for reader in (order.client, order.coach):
            if rng.random() < 0.6:
                services.mark_read(thread, actor=reader, up_to_message_id=rng.choice(ids))
        if rng.random() < 0.5:  # staff leave no mark by reading; one made here all the same
            ThreadReadState.objects.create(thread=thread, user=staff, last_read_message_id=rng.choice(ids))
    staffs = make_order(client=clients[0], coach=staff_coach)
    services.send_message(staffs.thread, actor=clients[0], body="to a coach who becomes staff")
    staff_coach.is_staff = True
    staff_coach.save(update_fields=["is_staff"])
    orders.append(staffs)
    for order in orders:
        order.refresh_from_db()
    return {"orders": orders, "users": [*clients, *coaches, staff, staff_coach], "staff": staff}


def test_the_conversation_card_is_what_the_orm_reads(conversations):
    orders, users = conversations["orders"], conversations["users"]
    seen = {"none": 0, "unread": 0, "read": 0, "shown": 0}
    for order in orders:
        for user in users:
            user.refresh_from_db()
            expected = _orm(order, user)
            assert _shown(services.order_thread_card(order, user)) == expected, (order.pk, user.email)
            assert _shown(services.order_thread_card(order, user)) == expected  # the cached value for the parties
            if expected is None:
                seen["none"] += 1
            else:
                seen["shown"] += 1
                seen["unread" if expected[1] else "read"] += 1
    assert all(seen.values()), seen


def test_a_stranger_sees_no_thread_and_staff_see_every_one(conversations):
    orders, staff = conversations["orders"], conversations["staff"]
    stranger = ClientFactory()
    with_thread = [order for order in orders if MessageThread.objects.filter(order=order).exists()]
    assert all(services.order_thread_card(order, stranger) is None for order in with_thread)
    shown = [services.order_thread_card(order, staff).pk for order in with_thread]
    assert shown == [MessageThread.objects.get(order=order).pk for order in with_thread]


def test_a_first_conversation_card_compiles_no_thread_query(conversations, compilations):
    orders, staff = conversations["orders"], conversations["staff"]
    first, second = orders[2], orders[3]
    services.order_thread_card(first, first.client)
    services.order_thread_card(first, staff)
    compilations.clear()
    assert services.order_thread_card(second, second.coach) is not None
    assert services.order_thread_card(second, staff) is not None
    assert MessageThread not in compilations and ThreadReadState not in compilations and Message not in compilations


def test_the_card_read_with_the_order_page_is_what_the_orm_reads(conversations):
    """The order page reads the card with the order (orders.pages.read_with_order_page): the same card for the
    parties, staff and a staff party, with no statement of its own."""
    from django.db import connection
    from django.http import Http404
    from django.test.utils import CaptureQueriesContext

    from orders.models import Order
    from orders.views import get_order_for

    orders, users = conversations["orders"], conversations["users"]
    seen = {"none": 0, "unread": 0, "read": 0, "staff": 0}
    for order in orders:
        for user in users:
            user.refresh_from_db()
            try:
                read = get_order_for(user, order.pk, page=True)
            except Http404:
                assert not user.is_staff and user.pk not in (order.client_id, order.coach_id)
                continue
            assert Order.thread.is_cached(read)
            with CaptureQueriesContext(connection) as queries:
                card = services.order_thread_card(read, user)
            assert queries.captured_queries == []
            expected = _orm(order, user)
            assert _shown(card) == expected, (order.pk, user.email)
            seen["none" if expected is None else "unread" if expected[1] else "read"] += 1
            seen["staff"] += user.is_staff
    assert all(seen.values()), seen
