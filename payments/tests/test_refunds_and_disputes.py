"""Staff refunds (admin page → provider → webhook confirms) and dispute resolution."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditLog
from core.exceptions import DomainError, InvalidState, NotPermitted
from orders import services as order_services
from orders.models import Order, OrderStatus
from payments import services
from payments.ledger import reconcile
from payments.models import LedgerEntry, Payment, PaymentStatus, Refund, RefundStatus
from payments.providers.errors import PaymentProviderError
from payments.webhooks import deliver_test_event

from .conftest import post_stripe
from .fakes import stripe_event


def pay_with_test_provider(order):
    payment = services.start_test_checkout(order.pk, actor=order.client)
    deliver_test_event(
        "payment.succeeded", payment=payment.provider_payment_id, amount=payment.amount_minor, currency="GBP"
    )
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED
    return payment


def refund_page(payment):
    return f"/admin/payments/payment/{payment.pk}/refund/"


@pytest.mark.django_db
def test_staff_partial_then_full_refund_from_the_admin_page(staff_login, staff_user, order):
    payment = pay_with_test_provider(order)
    page = staff_login.get(refund_page(payment))
    assert page.status_code == 200 and "Still refundable: £120.00" in page.content.decode()

    response = staff_login.post(refund_page(payment), {"amount": "20.00", "reason": "Late delivery"})

    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.refunded_minor == 2000 and payment.status == PaymentStatus.PARTIALLY_REFUNDED
    staff_login.post(refund_page(payment), {"amount": "100.00", "reason": "Rest of it"})
    payment.refresh_from_db()
    assert payment.refunded_minor == 12000 and payment.status == PaymentStatus.REFUNDED
    assert list(payment.refunds.values_list("status", flat=True)) == [RefundStatus.SUCCEEDED] * 2
    rows = LedgerEntry.objects.filter(payment=payment).order_by("pk")
    assert [r.gross_minor for r in rows] == [12000, -2000, -10000]
    assert sum(r.fee_minor for r in rows) == 0 and sum(r.payout_minor for r in rows) == 0
    assert AuditLog.objects.filter(action="payment.refund_requested", actor=staff_user).count() == 2
    assert AuditLog.objects.filter(action="payment.refunded").count() == 2
    assert reconcile() == []


@pytest.mark.django_db
def test_refund_form_enforces_csrf(staff_user, order):
    payment = pay_with_test_provider(order)
    c = Client(enforce_csrf_checks=True)
    c.force_login(staff_user)
    assert c.post(refund_page(payment), {"amount": "1.00", "reason": "x"}).status_code == 403
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_refund_over_what_is_left_is_refused_and_nothing_is_sent(staff_login, order):
    payment = pay_with_test_provider(order)
    response = staff_login.post(refund_page(payment), {"amount": "120.01", "reason": "too much"})
    assert response.status_code == 400
    assert "At most £120.00" in response.content.decode()
    assert not Refund.objects.exists()
    payment.refresh_from_db()
    assert payment.refunded_minor == 0


@pytest.mark.django_db
def test_refund_of_an_unpaid_payment_is_refused(staff_user, order):
    payment = services.start_test_checkout(order.pk, actor=order.client)
    with pytest.raises(InvalidState):
        services.refund(payment.pk, amount_minor=100, actor=staff_user, reason="x")
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_only_staff_refund(client_user, order):
    payment = pay_with_test_provider(order)
    with pytest.raises(NotPermitted):
        services.refund(payment.pk, amount_minor=100, actor=client_user, reason="x")
    c = Client()
    c.force_login(client_user)
    assert c.get(refund_page(payment)).status_code in (302, 403)  # admin login page or refused
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_stripe_refund_calls_the_api_and_is_recorded_only_when_the_webhook_confirms(
    fake_stripe, stripe_paid, staff_user
):
    payment = stripe_paid

    refund = services.refund(payment.pk, amount_minor=5000, actor=staff_user, reason="Partial")

    (call,) = fake_stripe.calls("POST", "/v1/refunds")
    assert call.body["payment_intent"] == payment.provider_capture_id and call.body["amount"] == "5000"
    assert call.headers["Idempotency-Key"] == refund.idempotency_key
    assert refund.idempotency_key.startswith("ews-refund-")
    assert refund.status == RefundStatus.REQUESTED and refund.provider_refund_id.startswith("re_test_")
    payment.refresh_from_db()
    assert payment.refunded_minor == 0
    assert services.refundable_minor(payment) == 7000  # the in-flight refund counts
    with pytest.raises(DomainError):
        services.refund(payment.pk, amount_minor=7001, actor=staff_user, reason="too much")

    post_stripe(Client(), stripe_event("charge.refunded", fake_stripe.charge(payment.provider_payment_id)))

    payment.refresh_from_db()
    refund.refresh_from_db()
    assert payment.refunded_minor == 5000 and refund.status == RefundStatus.SUCCEEDED
    assert reconcile() == []


@pytest.mark.django_db
def test_a_provider_refusal_marks_the_refund_failed_and_audits_it(fake_stripe, stripe_paid, staff_user):
    payment = stripe_paid
    fake_stripe.fail_next(400, {"error": {"type": "invalid_request_error", "message": "Charge already refunded"}})

    with pytest.raises(PaymentProviderError, match="Charge already refunded"):
        services.refund(payment.pk, amount_minor=100, actor=staff_user, reason="x")

    assert Refund.objects.get().status == RefundStatus.FAILED
    assert AuditLog.objects.filter(action="payment.refund_failed").exists()
    assert services.refundable_minor(payment) == 12000


# --- Disputes --------------------------------------------------------------------------------------


@pytest.fixture
def disputed(order):
    payment = pay_with_test_provider(order)
    order_services.open_dispute(order.pk, actor=order.client, reason="Not what I asked for")
    order.refresh_from_db()
    return order, payment


@pytest.fixture
def stripe_disputed(stripe_paid, order):
    """A disputed order paid through (the loopback) Stripe, so refunds go over HTTP."""
    order_services.open_dispute(order.pk, actor=order.client, reason="Meh")
    order.refresh_from_db()
    return order, stripe_paid


@pytest.mark.django_db
def test_release_to_coach_completes_and_pays_out_the_coach_share(disputed, staff_user):
    order, payment = disputed
    result = services.resolve_dispute(order.pk, actor=staff_user, refund_minor=0, note="Work was fine")
    assert result.status == OrderStatus.COMPLETED
    payout = LedgerEntry.objects.get(order=order, entry_type="payout")
    assert payout.gross_minor == 9600 and payout.fee_minor == 0
    assert AuditLog.objects.filter(action="payment.dispute_resolved", actor=staff_user).exists()
    assert reconcile() == []


@pytest.mark.django_db
def test_full_refund_cancels(disputed, staff_user):
    order, payment = disputed
    result = services.resolve_dispute(order.pk, actor=staff_user, refund_minor=12000, note="Never delivered")
    payment.refresh_from_db()
    assert result.status == OrderStatus.CANCELLED and payment.status == PaymentStatus.REFUNDED
    assert not LedgerEntry.objects.filter(order=order, entry_type="payout").exists()
    assert reconcile() == []


@pytest.mark.django_db
def test_partial_refund_completes_and_releases_the_rest(disputed, staff_user):
    order, payment = disputed
    result = services.resolve_dispute(order.pk, actor=staff_user, refund_minor=3000, note="Half done")
    assert result.status == OrderStatus.COMPLETED
    payout = LedgerEntry.objects.get(order=order, entry_type="payout")
    assert payout.gross_minor == 9600 - 2400  # coach share of 120 minus coach share of 30
    assert reconcile() == []


@pytest.mark.django_db
def test_a_refund_confirmed_after_release_takes_the_coach_share_back(fake_stripe, stripe_disputed, staff_user):
    order, payment = stripe_disputed

    services.resolve_dispute(order.pk, actor=staff_user, refund_minor=3000, note="Partial")
    # Released before Stripe confirmed the refund:
    assert LedgerEntry.objects.get(order=order, entry_type="payout").gross_minor == 9600
    post_stripe(Client(), stripe_event("charge.refunded", fake_stripe.charge(payment.provider_payment_id)))

    payouts = list(LedgerEntry.objects.filter(order=order, entry_type="payout").values_list("gross_minor", flat=True))
    assert sorted(payouts) == [-2400, 9600]
    assert reconcile() == []


@pytest.mark.django_db
def test_dispute_rules(disputed, staff_user, client_user, order):
    order_, payment = disputed
    with pytest.raises(NotPermitted):
        services.resolve_dispute(order_.pk, actor=client_user, refund_minor=0, note="x")
    with pytest.raises(DomainError):
        services.resolve_dispute(order_.pk, actor=staff_user, refund_minor=12001, note="x")
    with pytest.raises(DomainError):
        services.resolve_dispute(order_.pk, actor=staff_user, refund_minor=-1, note="x")
    order_.refresh_from_db()
    assert order_.status == OrderStatus.DISPUTED and not Refund.objects.exists()


@pytest.mark.django_db
def test_resolving_an_order_that_is_not_disputed_is_409(staff_user, order):
    pay_with_test_provider(order)
    with pytest.raises(InvalidState):
        services.resolve_dispute(order.pk, actor=staff_user, refund_minor=0, note="x")


@pytest.mark.django_db
def test_completion_by_the_client_releases_the_payout(order, coach_user):
    payment = pay_with_test_provider(order)
    order_services.deliver(order.pk, actor=coach_user, note="Here it is")
    order_services.accept_delivery(order.pk, actor=order.client)
    payout = LedgerEntry.objects.get(order=order, entry_type="payout")
    assert payout.gross_minor == 9600 and payout.payment is None
    assert LedgerEntry.objects.filter(payment=payment).count() == 1
    assert reconcile() == []


@pytest.mark.django_db
def test_a_stripe_refund_that_fails_later_is_refundable_again_and_staff_are_told(fake_stripe, stripe_paid, staff_user):
    payment = stripe_paid
    refund = services.refund(payment.pk, amount_minor=4000, actor=staff_user, reason="Partial")
    assert services.refundable_minor(payment) == 8000

    failed = {
        "id": refund.provider_refund_id,
        "object": "refund",
        "status": "failed",
        "failure_reason": "expired_or_canceled_card",
        "payment_intent": payment.provider_capture_id,
        "amount": 4000,
    }
    assert post_stripe(Client(), stripe_event("charge.refund.updated", failed)).status_code == 200

    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == RefundStatus.FAILED and "expired_or_canceled_card" in refund.error
    assert services.refundable_minor(payment) == 12000 and payment.refunded_minor == 0
    assert AuditLog.objects.filter(action="payment.refund_failed").exists()
    from notifications.models import Notification

    assert Notification.objects.filter(user=staff_user, kind="refund_failed").exists()
    assert reconcile() == []


@pytest.mark.django_db
def test_paypal_refund_calls_the_api_and_the_webhook_records_it(fake_paypal, client_login, order, staff_user):
    from .conftest import post_paypal
    from .fakes import paypal_event

    client_login.post(f"/payments/paypal/{order.pk}/create/")
    payment = Payment.objects.get(order=order)
    fake_paypal.approve(payment.provider_payment_id)
    client_login.post(f"/payments/paypal/{order.pk}/capture/", {"token": payment.provider_payment_id})
    payment.refresh_from_db()

    refund = services.refund(payment.pk, amount_minor=2550, actor=staff_user, reason="Partial")

    (call,) = fake_paypal.calls("POST", f"/v2/payments/captures/{payment.provider_capture_id}/refund")
    assert call.body["amount"] == {"currency_code": "GBP", "value": "25.50"}
    assert call.headers["PayPal-Request-Id"] == refund.idempotency_key
    assert refund.status == RefundStatus.REQUESTED and refund.provider_refund_id.startswith("REF")
    capture = fake_paypal.find_capture(payment.provider_capture_id)
    event = paypal_event("PAYMENT.CAPTURE.REFUNDED", capture["refunds"][0])

    assert post_paypal(Client(), fake_paypal, event).status_code == 200
    assert post_paypal(Client(), fake_paypal, event).status_code == 200  # a redelivery changes nothing

    payment.refresh_from_db()
    refund.refresh_from_db()
    assert payment.refunded_minor == 2550 and refund.status == RefundStatus.SUCCEEDED
    assert LedgerEntry.objects.filter(payment=payment, entry_type="refund").count() == 1
    assert reconcile() == []


@pytest.mark.django_db
def test_a_dispute_being_resolved_refuses_a_second_resolution(disputed, staff_user):
    order, payment = disputed
    Order.objects.filter(pk=order.pk).update(resolution_claimed_at=timezone.now())

    with pytest.raises(InvalidState, match="Another staff member is resolving"):
        services.resolve_dispute(order.pk, actor=staff_user, refund_minor=12000, note="Refund")

    order.refresh_from_db()
    assert order.status == OrderStatus.DISPUTED and not Refund.objects.exists()


@pytest.mark.django_db
def test_a_refused_refund_frees_the_dispute_for_another_try(fake_stripe, stripe_disputed, staff_user):
    order, _payment = stripe_disputed
    fake_stripe.fail_next(402, {"error": {"type": "card_error", "message": "Insufficient balance"}})

    with pytest.raises(PaymentProviderError):
        services.resolve_dispute(order.pk, actor=staff_user, refund_minor=12000, note="Refund")
    order.refresh_from_db()
    assert order.status == OrderStatus.DISPUTED and order.resolution_claimed_at is None

    result = services.resolve_dispute(order.pk, actor=staff_user, refund_minor=12000, note="Refund, again")
    assert result.status == OrderStatus.CANCELLED


@pytest.mark.django_db
def test_an_abandoned_claim_is_taken_over_unless_it_sent_a_refund(disputed, staff_user):
    order, payment = disputed
    stale = timezone.now() - services.RESOLUTION_CLAIM_TIMEOUT - timedelta(seconds=1)
    Order.objects.filter(pk=order.pk).update(resolution_claimed_at=stale)
    Refund.objects.create(payment=payment, amount_minor=1000, currency="GBP", reason="x", requested_by=staff_user)

    with pytest.raises(InvalidState, match="sent a refund and did not finish"):
        services.resolve_dispute(order.pk, actor=staff_user, refund_minor=0, note="Release")

    Refund.objects.all().delete()
    result = services.resolve_dispute(order.pk, actor=staff_user, refund_minor=0, note="Release")
    assert result.status == OrderStatus.COMPLETED
