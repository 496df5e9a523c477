from orders.models import OrderEvent
from orders.templatetags.order_timeline import event_label


def test_timeline_rows_read_as_what_happened():
    assert event_label(OrderEvent(kind="created")) == {
        "label": "Request accepted, order created",
        "icon": "bi-check2-square",
    }
    assert event_label(OrderEvent(from_status="delivered", to_status="in_progress"))["label"] == "Revision requested"
    assert event_label(OrderEvent(from_status="delivered", to_status="completed"))["label"] == "Completed automatically"
    assert event_label(OrderEvent(from_status="x", to_status="on_hold")) == {"label": "On hold", "icon": "bi-dot"}
