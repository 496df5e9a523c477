"""Thread creation, the thread list and the conversation page: access, counts, paging, read state."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging import services
from messaging.models import Message, MessageThread, ThreadReadState
from orders.tests.factories import make_order


def test_each_new_order_gets_its_thread(order):
    assert MessageThread.objects.filter(order=order).count() == 1


def test_an_order_without_thread_gets_one_lazily(client, order, client_user):
    MessageThread.objects.filter(order=order).delete()
    client.force_login(client_user)
    response = client.get(reverse("messaging:order", args=[order.pk]))
    thread = MessageThread.objects.get(order=order)
    assert response.status_code == 302
    assert response["Location"] == reverse("messaging:detail", args=[thread.pk])
    assert services.get_or_create_thread(order) == thread


def test_order_link_of_someone_elses_order_is_404(client, order, other_client):
    client.force_login(other_client)
    assert client.get(reverse("messaging:order", args=[order.pk])).status_code == 404


def test_anonymous_is_sent_to_login(client, thread):
    response = client.get(reverse("messaging:detail", args=[thread.pk]))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("who", ["other_client", "other_coach"])
def test_someone_elses_thread_is_404(client, thread, who, request):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("messaging:detail", args=[thread.pk])).status_code == 404
    assert client.get(reverse("messaging:messages", args=[thread.pk])).status_code == 404
    response = client.post(reverse("messaging:messages", args=[thread.pk]), {"body": "hi"})
    assert response.status_code == 404
    assert Message.objects.count() == 0


def test_list_shows_last_message_unread_count_and_status_newest_first(client, client_user, coach_user, other_coach):
    first = make_order(client=client_user, coach=coach_user, title="CV rewrite")
    second = make_order(client=client_user, coach=other_coach, title="Cover letter")
    t1, t2 = first.thread, second.thread
    services.send_message(t2, actor=other_coach, body="Old news")
    services.send_message(t1, actor=coach_user, body="Can you send your current CV?")
    services.send_message(t1, actor=coach_user, body="And the job ad?")
    client.force_login(client_user)
    response = client.get(reverse("messaging:list"))
    assert response.status_code == 200
    threads = response.context["threads"]
    assert [t.pk for t in threads] == [t1.pk, t2.pk]
    assert [t.unread for t in threads] == [2, 1]
    assert threads[0].last_message.body == "And the job ad?"
    html = response.content.decode()
    assert "Awaiting payment" in html
    assert "And the job ad?" in html


def test_list_query_count_does_not_grow_with_threads(client, client_user, django_assert_max_num_queries):
    from coaches.tests.factories import CoachProfileFactory

    client.force_login(client_user)

    def make_threads(n):
        for _ in range(n):
            coach = CoachProfileFactory().user
            order = make_order(client=client_user, coach=coach)
            services.send_message(order.thread, actor=coach, body="Hello")

    make_threads(2)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("messaging:list"))
    make_threads(8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("messaging:list"))
    assert len(response.context["threads"]) == 10


def test_list_paginates(client, client_user, settings):
    from coaches.tests.factories import CoachProfileFactory
    from messaging import views

    for _ in range(views.THREADS_PER_PAGE + 2):
        make_order(client=client_user, coach=CoachProfileFactory().user)
    client.force_login(client_user)
    assert len(client.get(reverse("messaging:list")).context["threads"]) == views.THREADS_PER_PAGE
    assert len(client.get(reverse("messaging:list") + "?page=2").context["threads"]) == 2


def test_strangers_threads_are_not_listed(client, thread, other_client):
    client.force_login(other_client)
    assert list(client.get(reverse("messaging:list")).context["threads"]) == []


def test_opening_the_thread_marks_it_read(client, thread, client_user, coach_user):
    last = services.send_message(thread, actor=coach_user, body="Welcome!")
    client.force_login(client_user)
    response = client.get(reverse("messaging:detail", args=[thread.pk]))
    assert response.status_code == 200
    state = ThreadReadState.objects.get(thread=thread, user=client_user)
    assert state.last_read_message_id == last.pk
    assert services.unread_total(client_user) == 0


def test_read_mark_is_shown_to_the_sender(client, thread, client_user, coach_user):
    mine = services.send_message(thread, actor=client_user, body="Here is my CV")
    client.force_login(client_user)
    assert "Sent" in client.get(reverse("messaging:detail", args=[thread.pk])).content.decode()
    services.mark_read(thread, actor=coach_user)
    response = client.get(reverse("messaging:detail", args=[thread.pk]))
    assert response.context["other_read_up_to"] == mine.pk
    assert "Read" in response.content.decode()


def test_staff_can_read_without_leaving_a_read_mark(client, thread, staff_user, coach_user):
    services.send_message(thread, actor=coach_user, body="Hi")
    client.force_login(staff_user)
    response = client.get(reverse("messaging:detail", args=[thread.pk]))
    assert response.status_code == 200
    assert "viewing this conversation as staff" in response.content.decode()
    assert not ThreadReadState.objects.filter(user=staff_user).exists()


def test_conversation_pages_backwards(client, thread, client_user, coach_user, settings, django_assert_max_num_queries):
    from messaging import views

    settings.CHAT_RATE_LIMIT_COUNT = 1000
    sent = [services.send_message(thread, actor=coach_user, body=f"message {n}") for n in range(views.PAGE_SIZE + 5)]
    client.force_login(client_user)
    with django_assert_max_num_queries(25):
        latest = client.get(reverse("messaging:detail", args=[thread.pk]))
    shown = [m.pk for m in latest.context["chat_messages"]]
    assert shown == [m.pk for m in sent[5:]]
    assert latest.context["has_older"] is True
    older = client.get(reverse("messaging:detail", args=[thread.pk]) + f"?before={shown[0]}")
    assert [m.pk for m in older.context["chat_messages"]] == [m.pk for m in sent[:5]]
    assert older.context["has_older"] is False
    as_json = client.get(reverse("messaging:messages", args=[thread.pk]) + f"?before={shown[0]}")
    assert [m["id"] for m in as_json.json()["messages"]] == [m.pk for m in sent[:5]]


def test_catch_up_returns_messages_after_an_id(client, thread, client_user, coach_user):
    first = services.send_message(thread, actor=coach_user, body="one")
    second = services.send_message(thread, actor=coach_user, body="two <b>bold</b>")
    client.force_login(client_user)
    data = client.get(reverse("messaging:messages", args=[thread.pk]) + f"?after={first.pk}").json()
    assert [m["id"] for m in data["messages"]] == [second.pk]
    html = data["messages"][0]["html"]
    assert '<div class="chat-text">two &lt;b&gt;bold&lt;/b&gt;</div>' in html
    assert "chat-theirs" in html and coach_user.display_name in html  # as the client sees it
    assert data["has_more"] is False
    bad = client.get(reverse("messaging:messages", args=[thread.pk]) + "?after=abc")
    assert bad.status_code == 400


def test_closed_order_thread_becomes_read_only_after_the_configured_days(client, thread, client_user, settings):
    from orders import services as order_services

    settings.THREAD_READ_ONLY_AFTER_DAYS = 3
    order_services.cancel_order(thread.order.pk, actor=client_user, reason="Changed my mind")
    thread.refresh_from_db()
    assert not services.is_read_only(thread)  # still open during the grace period
    type(thread.order).objects.filter(pk=thread.order.pk).update(
        cancelled_at=timezone.now() - datetime.timedelta(days=4)
    )
    thread = services.thread_for(client_user, thread.pk)
    assert services.is_read_only(thread)
    client.force_login(client_user)
    page = client.get(reverse("messaging:detail", args=[thread.pk]))
    assert "read-only" in page.content.decode()
    assert 'id="chat-form"' not in page.content.decode()
    response = client.post(reverse("messaging:messages", args=[thread.pk]), {"body": "One more thing"})
    assert response.status_code == 409
    assert Message.objects.count() == 0


def test_staff_see_every_thread_without_unread_counts(client, thread, staff_user, coach_user):
    services.send_message(thread, actor=coach_user, body="Hello")
    client.force_login(staff_user)
    threads = client.get(reverse("messaging:list")).context["threads"]
    assert [(t.pk, t.unread) for t in threads] == [(thread.pk, 0)]


def test_an_empty_conversation_of_a_finished_order_does_not_invite_a_greeting(client, thread, client_user):
    from orders import services as order_services

    client.force_login(client_user)
    open_order = client.get("/threads/").content.decode()
    order_services.cancel_order(thread.order_id, actor=client_user, reason="Found a job")
    listing = client.get("/threads/").content.decode()
    conversation = client.get(f"/threads/{thread.pk}/").content.decode()

    assert "Say hello" in open_order
    assert "Say hello" not in listing and "No messages." in listing
    assert "Introduce yourself" not in conversation and "No messages were exchanged" in conversation


def test_thread_page_and_json_insert_the_same_markup_for_each_viewer(client, thread, client_user, coach_user):
    """The page and chat.js show a message from one template, so the two can never drift apart."""
    sent = services.send_message(thread, actor=coach_user, body="Markup from one place https://example.com")
    for viewer, mine in ((coach_user, True), (client_user, False)):
        client.force_login(viewer)
        page = client.get(reverse("messaging:detail", args=[thread.pk])).content.decode()
        data = client.get(reverse("messaging:messages", args=[thread.pk]) + "?after=0").json()
        [html] = [m["html"] for m in data["messages"] if m["id"] == sent.pk]
        assert html in page
        assert ("chat-mine" in html and ">You<" in html and "Sent" in html) is mine
        assert ("chat-theirs" in html and coach_user.display_name in html) is not mine


def test_a_revisit_with_nothing_new_writes_nothing_and_a_new_message_is_marked_read(
    client, thread, client_user, coach_user, django_assert_max_num_queries
):
    """Issue 13: the thread page read its marks twice and re-marked a read thread on every visit."""
    services.send_message(thread, actor=coach_user, body="Here is the draft")
    client.force_login(client_user)
    with django_assert_max_num_queries(25) as first:
        assert client.get(reverse("messaging:detail", args=[thread.pk])).status_code == 200
    assert ThreadReadState.objects.get(thread=thread, user=client_user).last_read_message_id == thread.messages.get().pk

    with django_assert_max_num_queries(len(first.captured_queries) - 3) as again:
        assert client.get(reverse("messaging:detail", args=[thread.pk])).status_code == 200
    statements = [query["sql"] for query in again.captured_queries]
    assert not [sql for sql in statements if sql.startswith("UPDATE") or "SAVEPOINT" in sql], statements
    assert sum('FROM "messaging_threadreadstate"' in sql for sql in statements) == 1

    newer = services.send_message(thread, actor=coach_user, body="And a second one")
    response = client.get(reverse("messaging:detail", args=[thread.pk]))
    assert response.status_code == 200
    assert ThreadReadState.objects.get(thread=thread, user=client_user).last_read_message_id == newer.pk
