"""What each role's dashboard shows. Lives at project level because it reads every app."""

from django.db.models import Count

from orders.models import Order, OrderStatus


def dashboard_context(user) -> tuple[str, dict]:
    if user.is_staff:
        by_status = dict(Order.objects.values_list("status").annotate(n=Count("id")).order_by())
        return "dashboards/staff.html", {
            "orders_by_status": [(label, by_status.get(value, 0)) for value, label in OrderStatus.choices],
        }
    if user.role == "coach":
        return "dashboards/coach.html", {}
    return "dashboards/client.html", {}
