"""How a row of an order's timeline reads on the order page: a label and an icon per move."""

from django import template

from orders.models import OrderEvent

register = template.Library()

_EVENT_LABELS: dict[tuple[str, str], tuple[str, str]] = {
    ("pending", "in_progress"): ("Payment received, work started", "bi-credit-card"),
    ("delivered", "in_progress"): ("Revision requested", "bi-arrow-repeat"),
    ("in_progress", "delivered"): ("Delivered", "bi-box-seam"),
    ("delivered", "completed"): ("Delivery accepted, order complete", "bi-check2-circle"),
    ("disputed", "completed"): ("Dispute resolved: payment released to the coach", "bi-shield-check"),
    ("disputed", "cancelled"): ("Dispute resolved: full refund to the client", "bi-shield-check"),
    ("pending", "cancelled"): ("Cancelled", "bi-x-circle"),
    ("in_progress", "disputed"): ("Dispute opened", "bi-exclamation-octagon"),
    ("delivered", "disputed"): ("Dispute opened", "bi-exclamation-octagon"),
}
_KIND_LABELS: dict[str, tuple[str, str]] = {
    "created": ("Request accepted, order created", "bi-check2-square"),
    "escalated": ("Past its deadline: escalated to our team", "bi-alarm"),
    "review": ("Review left", "bi-star"),
    "dispute_statement": ("Dispute statement given", "bi-chat-square-quote"),
    "dispute_answer": ("Answer to the statement given", "bi-reply"),
    "dispute_statement_reminder": ("Reminder: statement due soon", "bi-bell"),
    "dispute_answer_reminder": ("Reminder: answer due soon", "bi-bell"),
    "dispute_statement_missed": ("No statement by the deadline", "bi-hourglass-bottom"),
    "dispute_answer_missed": ("No answer by the deadline", "bi-hourglass-bottom"),
    "dispute_partial_refund": ("Dispute resolved: partial refund, the rest to the coach", "bi-shield-check"),
}


@register.simple_tag
def event_label(event: OrderEvent) -> dict[str, str]:
    """(label, icon) of a timeline row, as a small dict for the template."""
    label, icon = _KIND_LABELS.get(event.kind) or _EVENT_LABELS.get(
        (event.from_status, event.to_status), (event.to_status.replace("_", " ").capitalize(), "bi-dot")
    )
    if event.kind == "status" and event.actor_id is None and event.to_status == "completed":
        label = "Completed automatically"
    return {"label": label, "icon": icon}
