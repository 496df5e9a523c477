"""The partials other pages include: the order page's conversation card and the dashboard panel."""

from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from coaches.tests.factories import CoachProfileFactory
from messaging import services
from orders.tests.factories import make_order


def render(name, user, **context):
    request = RequestFactory().get("/")
    request.user = user
    return render_to_string(name, {"user": user, **context}, request=request)


def test_order_card_links_to_the_thread_with_unread_count(thread, client_user, coach_user):
    services.send_message(thread, actor=coach_user, body="Hello")
    services.send_message(thread, actor=coach_user, body="Are you there?")
    html = render("messaging/partials/order_thread_link.html", client_user, order=thread.order)
    assert reverse("messaging:detail", args=[thread.pk]) in html
    assert "2 unread" in html


def test_order_card_of_an_order_without_thread_links_to_lazy_creation(order, client_user):
    order.thread.delete()
    order.refresh_from_db()
    html = render("messaging/partials/order_thread_link.html", client_user, order=order)
    assert reverse("messaging:order", args=[order.pk]) in html


def test_dashboard_panel_lists_recent_threads_with_unread_counts(client_user, django_assert_max_num_queries):
    coaches = [CoachProfileFactory().user for _ in range(7)]
    for coach in coaches:
        order = make_order(client=client_user, coach=coach, title=f"Order with {coach.display_name}")
        services.send_message(order.thread, actor=coach, body=f"Hi from {coach.display_name}")
    with django_assert_max_num_queries(4):
        html = render("messaging/partials/dashboard_threads.html", client_user)
    assert html.count("data-thread-row=") == 5  # the five most recent
    assert f"Hi from {coaches[-1].display_name}" in html
    assert f"Hi from {coaches[0].display_name}" not in html
    assert "data-thread-unread>1<" in html


def test_dashboard_panel_shows_only_own_threads_even_for_staff(thread, staff_user, other_client):
    assert "data-thread-row=" not in render("messaging/partials/dashboard_threads.html", other_client)
    assert "data-thread-row=" not in render("messaging/partials/dashboard_threads.html", staff_user)


def test_dashboard_panel_leaves_out_threads_nobody_has_written_in(client_user):
    quiet, chatty = CoachProfileFactory().user, CoachProfileFactory().user
    make_order(client=client_user, coach=quiet, title="Silent order")
    order = make_order(client=client_user, coach=chatty, title="Chatty order")
    services.send_message(order.thread, actor=chatty, body="Hello there")
    html = render("messaging/partials/dashboard_threads.html", chatty)
    assert html.count("data-thread-row=") == 1
    html = render("messaging/partials/dashboard_threads.html", client_user)
    assert html.count("data-thread-row=") == 1 and "Silent order" not in html


def test_order_card_is_cached_for_a_party_and_a_new_message_or_read_mark_shows_at_once(
    thread, client_user, coach_user, django_assert_num_queries, django_capture_on_commit_callbacks
):
    render("messaging/partials/order_thread_link.html", client_user, order=thread.order)
    with django_assert_num_queries(0):
        render("messaging/partials/order_thread_link.html", client_user, order=thread.order)
    with django_capture_on_commit_callbacks(execute=True):
        services.send_message(thread, actor=coach_user, body="New draft")
    assert "1 unread" in render("messaging/partials/order_thread_link.html", client_user, order=thread.order)
    assert "unread" not in render("messaging/partials/order_thread_link.html", coach_user, order=thread.order)
    with django_capture_on_commit_callbacks(execute=True):
        services.mark_read(thread, actor=client_user)
    assert "unread" not in render("messaging/partials/order_thread_link.html", client_user, order=thread.order)


def test_order_card_for_staff_is_never_cached(thread, staff_user, coach_user):
    render("messaging/partials/order_thread_link.html", staff_user, order=thread.order)
    services.send_message(thread, actor=coach_user, body="Seen by staff too")
    assert "1 unread" in render("messaging/partials/order_thread_link.html", staff_user, order=thread.order)


def test_a_coach_with_orders_but_no_messages_is_told_where_the_conversations_are(coach_user, client_user):
    make_order(client=client_user, coach=coach_user, title="Quiet order")
    html = render("messaging/partials/dashboard_threads.html", coach_user)
    assert "data-thread-row=" not in html
    assert "No messages yet. Each order has its own conversation with your client" in html
    assert "No conversations yet" not in html
