"""Ask before you order: a client's one conversation with a coach from the coach page, which becomes
the order's conversation when that client orders from that coach."""

import pytest
from django.db import IntegrityError, transaction

from coaches.tests.factories import CoachProfileFactory
from messaging.models import Message, MessageThread
from messaging.services import open_preorder_thread, send_message
from orders.tests.factories import make_order

pytestmark = pytest.mark.django_db


def start_url(coach) -> str:
    return f"/threads/coach/{coach.coach_profile.pk}/"


def test_a_client_opens_one_conversation_with_a_coach_and_both_can_write(client, client_user, coach_user, other_client):
    client.force_login(client_user)
    page = client.get(start_url(coach_user))
    assert page.status_code == 200 and b"Open the conversation" in page.content
    assert not MessageThread.objects.exists()  # a GET changes nothing

    response = client.post(start_url(coach_user))
    thread = MessageThread.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/threads/{thread.pk}/"
    assert (thread.order, thread.client, thread.coach) == (None, client_user, coach_user)
    assert client.post(start_url(coach_user))["Location"] == f"/threads/{thread.pk}/"  # the same one again
    assert MessageThread.objects.count() == 1

    detail = client.get(f"/threads/{thread.pk}/")
    assert detail.status_code == 200 and b"Questions for" in detail.content
    sent = client.post(f"/threads/{thread.pk}/messages/", {"body": "Do you write academic CVs?"})
    assert sent.status_code == 302
    client.force_login(coach_user)
    assert b"Do you write academic CVs?" in client.get(f"/threads/{thread.pk}/").content
    assert client.post(f"/threads/{thread.pk}/messages/", {"body": "Yes, many."}).status_code == 302
    assert b"Before an order" in client.get("/threads/").content

    client.force_login(other_client)  # someone else's conversation does not exist for them
    assert client.get(f"/threads/{thread.pk}/").status_code == 404
    assert client.post(f"/threads/{thread.pk}/messages/", {"body": "hi"}).status_code == 404
    assert Message.objects.count() == 2


def test_the_order_that_follows_carries_the_conversation_on(client_user, coach_user, other_coach):
    thread = open_preorder_thread(coach_user, actor=client_user)
    send_message(thread, actor=client_user, body="Can you start on Monday?")
    elsewhere = open_preorder_thread(other_coach, actor=client_user)

    order = make_order(client=client_user, coach=coach_user)

    thread.refresh_from_db()
    assert thread.order == order and order.thread == thread
    assert list(thread.messages.values_list("body", flat=True)) == ["Can you start on Monday?"]
    elsewhere.refresh_from_db()
    assert elsewhere.order is None  # another coach's conversation stays where it was
    # Asking again leads to the order's conversation; a second order gets a thread of its own.
    assert open_preorder_thread(coach_user, actor=client_user) == thread
    second = make_order(client=client_user, coach=coach_user)
    assert second.thread != thread and second.thread.client == client_user
    assert MessageThread.objects.filter(client=client_user, coach=coach_user).count() == 2


def test_one_preorder_thread_per_pair_is_a_database_rule(client_user, coach_user):
    open_preorder_thread(coach_user, actor=client_user)
    with pytest.raises(IntegrityError), transaction.atomic():
        MessageThread.objects.create(client=client_user, coach=coach_user)
    with pytest.raises(IntegrityError), transaction.atomic():
        MessageThread.objects.create(client=coach_user, coach=coach_user)


def test_who_cannot_start_one(client, client_user, coach_user, staff_user):
    client.force_login(coach_user)  # a coach cannot message themselves
    assert client.post(start_url(coach_user)).status_code == 403
    client.force_login(staff_user)  # staff moderate conversations, they do not open them
    assert client.post(start_url(coach_user)).status_code == 403
    hidden = CoachProfileFactory(services=[])  # not in the directory: no such coach
    client.force_login(client_user)
    assert client.post(f"/threads/coach/{hidden.pk}/").status_code == 404
    client.logout()
    response = client.post(start_url(coach_user))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not MessageThread.objects.exists()


def test_the_coach_page_button_is_the_same_for_every_client(client, client_user, other_client, coach_user):
    url = f"/coaches/{coach_user.coach_profile.pk}/"
    link = f'href="{start_url(coach_user)}"'.encode()
    assert link in client.get(url).content  # anonymous: the link leads through login
    client.force_login(client_user)
    first = client.get(url).content
    client.force_login(other_client)
    second = client.get(url).content
    assert link in first and link in second
    # Nothing of the first client in the second's page. (Not their pk followed by "/": on SQLite the ids
    # start at 1 in every test, and "/coaches/1/" then matched.)
    assert client_user.get_full_name().encode() in first  # the navbar names who is signed in
    assert client_user.email.encode() not in second and client_user.get_full_name().encode() not in second
