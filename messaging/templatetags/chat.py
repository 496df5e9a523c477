from types import SimpleNamespace

from django import template
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from core.fragments import STAND_IN_PK, printed, slotted
from messaging import realtime, services

register = template.Library()

THREAD_ROW = "messaging/partials/_dashboard_thread_row.html"
# Each row of the threads box is filled in from its per-process form (core.fragments.slotted), as the
# dashboards' order rows are: the thread's id cannot pass through {% url %} as a slot string, so the stand-in
# has an id no thread has and the digits it prints as are marked; the body is printed |truncatechars:90, which
# leaves the slot's text whole, so its value is truncated here as the filter truncates it (issue 13).
_MARKS = {"pk": str(STAND_IN_PK)}
_BODY_CHARS = 90  # the row's |truncatechars:90
_READER = {"pk": -1}
_SOMEONE_ELSE = -2


@register.filter
def chat_body(body: str):
    """Plain text message body as safe HTML: escaped, with clickable nofollow links."""
    return realtime.render_body(body or "")


@register.simple_tag
def recent_threads(user, limit: int = 5):
    """The user's most recent threads with unread counts and last message (cached per user); only threads someone has written in."""
    if not user.is_authenticated:
        return []
    return services.recent_threads(user, int(limit))


@register.simple_tag
def dashboard_thread_rows(user, limit: int = 5) -> list[SafeString]:
    """recent_threads(user, limit), each as messaging/partials/_dashboard_thread_row.html renders it."""
    if not user.is_authenticated:
        return []
    return [_thread_row(thread, user.pk) for thread in services.recent_threads(user, int(limit))]


def _thread_row(thread: services.ThreadPreview, reader_id: int) -> SafeString:
    last = thread.last_message
    mine = last is not None and last.sender_id == reader_id
    values = {
        "pk": str(thread.pk),  # what the path's <int:pk> prints; data-thread-row's {{ t.pk }} too, ungrouped
        "title": printed(thread.title),
        "unread": printed(thread.unread),
        "name": printed(last.sender.display_name) if last is not None and not mine else "",
        "body": printed(Truncator(last.body).chars(_BODY_CHARS)) if last is not None else "",
    }
    shape = (bool(thread.unread), last is not None, mine, bool(last is not None and last.body))
    return slotted(
        THREAD_ROW,
        shape,
        values,
        stand_in=lambda slots: {"t": _stand_in(slots, thread, mine=mine), "user": _READER},
        real=lambda: {"t": thread, "user": {"pk": reader_id}},
        marks=_MARKS,
    )


def _stand_in(slots: dict[str, str], thread: services.ThreadPreview, *, mine: bool) -> SimpleNamespace:
    """A thread as the row may see it: the shape's values, slots and the id sentinel for the rest."""
    last = thread.last_message
    stand_in_last = None
    if last is not None:
        stand_in_last = SimpleNamespace(
            sender_id=_READER["pk"] if mine else _SOMEONE_ELSE,
            sender=SimpleNamespace(display_name=slots["name"]),
            body=slots["body"] if last.body else "",
        )
    unread = slots["unread"] if thread.unread else 0
    return SimpleNamespace(pk=STAND_IN_PK, title=slots["title"], unread=unread, last_message=stand_in_last)


@register.simple_tag
def order_thread_summary(order, user):
    """The order's thread's card (or None before its first use) with the user's unread count."""
    return services.order_thread_card(order, user)
