import pytest
from django.core.management import call_command

from accounts.models import User
from coaches.models import CoachProfile, CoachService
from orders.models import Order, OrderStatus, Review
from payments.ledger import reconcile
from payments.models import LedgerEntry, Payment
from requests_app.models import RequestStatus, ServiceRequest

pytestmark = pytest.mark.django_db


def snapshot():
    return {
        "users": User.objects.count(),
        "services": CoachService.objects.count(),
        "orders": Order.objects.count(),
        "reviews": Review.objects.count(),
        "requests": ServiceRequest.objects.count(),
    }


def test_seed_builds_a_living_marketplace_and_is_idempotent(capsys):
    call_command("seed_demo")
    first = snapshot()
    output = capsys.readouterr().out

    assert CoachProfile.objects.listed().count() == 31
    assert set(Order.objects.values_list("status", flat=True)) == set(OrderStatus.values)
    assert {RequestStatus.PENDING, RequestStatus.REJECTED, RequestStatus.WITHDRAWN} <= set(
        ServiceRequest.objects.values_list("status", flat=True)
    )
    assert first["reviews"] >= 30
    assert CoachProfile.objects.filter(ratings_count__gt=0, rating_avg__gt=0).count() >= 20
    assert CoachProfile.objects.filter(response_time_hours__isnull=False).count() >= 20
    assert CoachProfile.objects.filter(is_verified=True).exists()
    assert CoachProfile.objects.filter(is_verified=False).exists()
    assert len(set(CoachService.objects.values_list("price_minor", flat=True))) > 20
    for review in Review.objects.select_related("order"):
        assert review.order.status == OrderStatus.COMPLETED
        assert review.created_at >= review.order.created_at
    # Paid orders went through the test provider: real charges, fees and coach payouts that balance.
    paid = Order.objects.exclude(status__in=[OrderStatus.PENDING, OrderStatus.CANCELLED])
    assert Payment.objects.filter(order__in=paid, status="captured").count() == paid.count()
    assert LedgerEntry.objects.filter(entry_type="payout", coach__email="coach@elite.example").exists()
    assert reconcile() == []
    for email in ("staff@elite.example", "client@elite.example", "client2@elite.example", "coach@elite.example"):
        assert email in output
        assert User.objects.get(email=email).check_password("demo-pass-2026")

    call_command("seed_demo")

    assert snapshot() == first
    assert "already present" in capsys.readouterr().out
