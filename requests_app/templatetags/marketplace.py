"""Small display helpers shared by the request, order and dashboard pages."""

from django import template
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
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


@register.simple_tag(takes_context=True)
def include_optional(context, name: str):
    """Render a partial another app owns if it exists yet, else nothing (an include point that tolerates absence).

    Rendered in the page's own context, as {% include %} does: a fresh render would run every
    context processor (and their queries) again for each partial.
    """
    try:
        partial = get_template(name)
    except TemplateDoesNotExist:
        return ""
    with context.push():
        return partial.template.render(context)


_EVENT_LABELS = {
    ("pending", "in_progress"): ("Payment received, work started", "bi-credit-card"),
    ("delivered", "in_progress"): ("Revision requested", "bi-arrow-repeat"),
    ("in_progress", "delivered"): ("Delivered", "bi-box-seam"),
    ("delivered", "completed"): ("Delivery accepted, order complete", "bi-check2-circle"),
    ("disputed", "completed"): ("Dispute resolved: payment released", "bi-shield-check"),
    ("disputed", "cancelled"): ("Dispute resolved: refunded", "bi-shield-check"),
    ("pending", "cancelled"): ("Cancelled", "bi-x-circle"),
    ("in_progress", "disputed"): ("Dispute opened", "bi-exclamation-octagon"),
    ("delivered", "disputed"): ("Dispute opened", "bi-exclamation-octagon"),
}
_KIND_LABELS = {
    "created": ("Request accepted, order created", "bi-check2-square"),
    "escalated": ("Past its deadline: escalated to our team", "bi-alarm"),
    "review": ("Review left", "bi-star"),
}


@register.simple_tag
def event_label(event):
    """(label, icon) of a timeline row, as a small dict for the template."""
    label, icon = _KIND_LABELS.get(event.kind) or _EVENT_LABELS.get(
        (event.from_status, event.to_status), (event.to_status.replace("_", " ").capitalize(), "bi-dot")
    )
    if event.kind == "status" and event.actor_id is None and event.to_status == "completed":
        label = "Completed automatically"
    return {"label": label, "icon": icon}
