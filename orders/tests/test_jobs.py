"""Beat jobs on orders: auto-complete, escalation, unpaid cancellation; each safe to run twice."""

import datetime

import pytest
from django.utils import timezone

from notifications.models import Notification
from orders import services, tasks
from orders.models import Order, OrderStatus

pytestmark = pytest.mark.django_db


def _days_ago(n):
    return timezone.now() - datetime.timedelta(days=n)


def test_silent_delivery_completes_after_n_days_once(order, settings):
    settings.ORDER_AUTO_COMPLETE_DAYS = 7
    services.mark_paid(order.pk, actor=None)
    services.deliver(order.pk, actor=order.coach)
    Order.objects.filter(pk=order.pk).update(delivered_at=_days_ago(8))
    assert tasks.auto_complete_silent_deliveries.delay().get() == 1
    assert tasks.auto_complete_silent_deliveries.delay().get() == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    last = order.events.last()
    assert last.actor is None and "automatically" in last.note
    assert Notification.objects.filter(user=order.client, kind="order_accept_delivery").count() == 1


def test_recent_delivery_is_left_alone(order):
    services.mark_paid(order.pk, actor=None)
    services.deliver(order.pk, actor=order.coach)
    assert tasks.auto_complete_silent_deliveries.delay().get() == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED


def test_overdue_order_escalates_to_coach_and_staff_once(paid_order, staff_user):
    Order.objects.filter(pk=paid_order.pk).update(deadline=timezone.localdate() - datetime.timedelta(days=2))
    assert tasks.escalate_overdue_orders.delay().get() == 1
    assert tasks.escalate_overdue_orders.delay().get() == 0
    paid_order.refresh_from_db()
    assert paid_order.escalated_at is not None
    assert paid_order.status == OrderStatus.IN_PROGRESS
    assert paid_order.events.filter(kind="escalated").count() == 1
    assert Notification.objects.filter(user=paid_order.coach, kind="order_overdue").count() == 1
    assert Notification.objects.filter(user=staff_user, kind="order_escalated").count() == 1


def test_orders_on_time_or_delivered_are_not_escalated(order):
    services.mark_paid(order.pk, actor=None)
    assert tasks.escalate_overdue_orders.delay().get() == 0  # deadline in the future
    services.deliver(order.pk, actor=order.coach)
    Order.objects.filter(pk=order.pk).update(deadline=timezone.localdate() - datetime.timedelta(days=2))
    assert tasks.escalate_overdue_orders.delay().get() == 0  # delivered: nothing to chase


def test_unpaid_order_is_cancelled_after_the_limit_once(order, settings):
    settings.ORDER_UNPAID_EXPIRY_DAYS = 7
    Order.objects.filter(pk=order.pk).update(created_at=_days_ago(8))
    assert tasks.cancel_unpaid_orders.delay().get() == 1
    assert tasks.cancel_unpaid_orders.delay().get() == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert "not paid within 7 days" in order.events.last().note
    assert Notification.objects.filter(user=order.client, kind="order_cancel").count() == 1


def test_recent_unpaid_order_is_kept(order):
    assert tasks.cancel_unpaid_orders.delay().get() == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
