"""Small display helpers shared by the request, order and dashboard pages (status badges, stars)."""

from django import template
from django.utils.html import format_html, format_html_join

register = template.Library()

_BADGES = {
    # requests
    "pending": "text-bg-warning",
    "accepted": "text-bg-success",
    "rejected": "text-bg-secondary",
    "expired": "text-bg-secondary",
    "withdrawn": "text-bg-light border",
    # orders
    "in_progress": "text-bg-primary",
    "delivered": "text-bg-info",
    "completed": "text-bg-success",
    "cancelled": "text-bg-secondary",
    "disputed": "text-bg-danger",
}


@register.simple_tag
def status_badge(value: str, label: str = ""):
    """<span class="badge …">Label</span> coloured by status value."""
    return format_html(
        '<span class="badge {}" data-status="{}">{}</span>',
        _BADGES.get(value, "text-bg-light"),
        value,
        label or value.replace("_", " ").capitalize(),
    )


@register.simple_tag
def stars(rating):
    """Five star icons (filled up to the rating) with a text equivalent for screen readers."""
    try:
        value = float(rating or 0)
    except (TypeError, ValueError):
        value = 0.0
    icons = []
    for i in range(1, 6):
        if value >= i:
            icons.append(("bi-star-fill",))
        elif value >= i - 0.5:
            icons.append(("bi-star-half",))
        else:
            icons.append(("bi-star",))
    return format_html(
        '<span class="rating-stars" role="img" aria-label="{} out of 5 stars">{}</span>',
        f"{value:g}",
        format_html_join("", '<i class="bi {}" aria-hidden="true"></i>', icons),
    )
