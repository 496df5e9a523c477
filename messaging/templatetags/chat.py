from django import template

from messaging import realtime, services

register = template.Library()


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
def order_thread_summary(order, user):
    """The order's thread's card (or None before its first use) with the user's unread count."""
    return services.order_thread_card(order, user)
