"""The ledger: the fee rounding rule, proportional refunds, payouts, and reconcile_ledger."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from orders import services as order_services
from orders.models import OrderStatus
from orders.tests.factories import make_order
from payments import ledger, services
from payments.models import LedgerEntry, Payment

# --- The rounding rule (module docstring of payments/ledger.py) ------------------------------------


@pytest.mark.parametrize(
    ("gross", "bps", "fee"),
    [
        (12000, 2000, 2400),
        (1234, 2000, 247),  # 246.8 → 247
        (1, 2000, 0),  # 0.2 → 0
        (4, 1250, 1),  # 0.5 exactly → up, to the platform
        (12, 1250, 2),  # 1.5 → 2
        (999, 0, 0),
        (999, 10000, 999),
        (0, 2000, 0),
    ],
)
def test_fee_is_rounded_half_up_and_payout_is_the_rest(gross, bps, fee):
    assert ledger.split_fee(gross, bps) == (fee, gross - fee)


def test_fee_rule_refuses_nonsense():
    with pytest.raises(ValueError):
        ledger.split_fee(100, 10001)
    with pytest.raises(ValueError):
        ledger.split_fee(-1, 2000)


def test_refunds_reverse_the_split_and_the_last_takes_the_remainder():
    # Charge 1001 with 20 %: fee 200, payout 801. Three refunds of 333, 333, 335.
    gross, fee = 1001, 200
    done_gross = done_fee = 0
    parts = []
    for amount in (333, 333, 335):
        fee_part, payout_part = ledger.refund_split(
            charge_gross=gross, charge_fee=fee, refunded_before=done_gross, fee_refunded_before=done_fee, amount=amount
        )
        parts.append((fee_part, payout_part))
        done_gross += amount
        done_fee += fee_part
    assert parts == [(67, 266), (66, 267), (67, 268)]
    assert done_fee == fee and sum(p for _, p in parts) == gross - fee


@given(
    gross=st.integers(min_value=1, max_value=10_000_000),
    bps=st.integers(min_value=0, max_value=10_000),
    cuts=st.lists(st.integers(min_value=1, max_value=10_000_000), max_size=8),
)
def test_any_sequence_of_refunds_never_overshoots_and_ends_exact(gross, bps, cuts):
    fee, payout = ledger.split_fee(gross, bps)
    assert 0 <= fee <= gross and fee + payout == gross
    done_gross = done_fee = 0
    amounts = []
    for cut in cuts:
        left = gross - done_gross
        if left == 0:
            break
        amounts.append(min(cut, left))
        done_gross += amounts[-1]
    if done_gross < gross:
        amounts.append(gross - done_gross)
    done_gross = done_fee = done_payout = 0
    for amount in amounts:
        fee_part, payout_part = ledger.refund_split(
            charge_gross=gross, charge_fee=fee, refunded_before=done_gross, fee_refunded_before=done_fee, amount=amount
        )
        assert fee_part >= 0 and payout_part >= 0 and fee_part + payout_part == amount
        done_gross, done_fee, done_payout = done_gross + amount, done_fee + fee_part, done_payout + payout_part
        assert done_fee <= fee and done_payout <= payout
    assert (done_gross, done_fee, done_payout) == (gross, fee, payout)


# --- Database invariants --------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unbalanced_row_is_refused_by_the_database(order):
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            entry_type="charge",
            order=order,
            coach=order.coach,
            gross_minor=100,
            fee_minor=20,
            payout_minor=79,
            currency="GBP",
            idempotency_key="bad",
        )


def _pay(order):
    payment = services.start_test_checkout(order.pk, actor=order.client)
    services.fulfil_payment(payment.pk, amount_minor=payment.amount_minor, currency=payment.currency, source="test")
    payment.refresh_from_db()
    return payment


@pytest.mark.django_db
def test_reconcile_command_passes_on_clean_books(order, capsys):
    _pay(order)
    call_command("reconcile_ledger")
    assert "Ledger reconciles" in capsys.readouterr().out


@pytest.mark.django_db
def test_reconcile_command_fails_when_a_payment_disagrees_with_its_rows(order):
    payment = _pay(order)
    Payment.objects.filter(pk=payment.pk).update(refunded_minor=500)
    with pytest.raises(CommandError, match="ledger problem"):
        call_command("reconcile_ledger")
    assert any("refund rows total 0" in p for p in ledger.reconcile())


@pytest.mark.django_db
def test_reconcile_finds_a_payout_without_a_completed_order(order):
    _pay(order)
    LedgerEntry.objects.create(
        entry_type="payout",
        order=order,
        coach=order.coach,
        gross_minor=9600,
        fee_minor=0,
        payout_minor=9600,
        currency="GBP",
        idempotency_key="sneaky",
    )
    assert any("not completed" in p for p in ledger.reconcile())


@pytest.mark.django_db
def test_reconcile_finds_a_missing_charge_row(order):
    payment = _pay(order)
    LedgerEntry.objects.filter(payment=payment).delete()
    problems = ledger.reconcile()
    assert any("0 charge row" in p for p in problems)


@pytest.mark.django_db
def test_reconcile_runs_a_fixed_number_of_queries(order, client_user, coach_user, django_assert_max_num_queries):
    for _ in range(3):
        _pay(make_order(client=client_user, coach=coach_user))
    with django_assert_max_num_queries(8):
        assert ledger.reconcile() == []


# --- Property: any sequence of payments, refunds and completions reconciles ------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(0, 2)),
        st.tuples(st.just("refund"), st.integers(0, 2), st.integers(1, 15000)),
        st.tuples(st.just("complete"), st.integers(0, 2)),
        st.tuples(st.just("dispute"), st.integers(0, 2), st.integers(0, 15000)),
    ),
    min_size=1,
    max_size=14,
)


@pytest.mark.django_db
@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, bps=st.sampled_from([0, 1, 1250, 2000, 3333, 10000]), price=st.integers(1, 50000))
# Histories that must always be among those tried: refunds after release, partial dispute refunds.
@example(ops=[("pay", 0), ("refund", 0, 333), ("complete", 0), ("refund", 0, 5000)], bps=2000, price=12001)
@example(ops=[("pay", 1), ("dispute", 1, 4321), ("refund", 1, 99999)], bps=1250, price=9999)
@example(ops=[("pay", 2), ("refund", 2, 7), ("refund", 2, 99999), ("complete", 2)], bps=3333, price=101)
def test_random_histories_always_reconcile(ops, bps, price, client_user, coach_user, staff_user, settings):
    settings.PLATFORM_FEE_BASIS_POINTS = bps
    with transaction.atomic():
        orders = [make_order(client=client_user, coach=coach_user, price_minor=price + i) for i in range(3)]
        payments: dict[int, Payment] = {}
        for op in ops:
            order = orders[op[1]]
            order.refresh_from_db()
            if op[0] == "pay" and order.status == OrderStatus.PENDING:
                payments[op[1]] = _pay(order)
            elif op[0] == "refund" and op[1] in payments:
                payment = payments[op[1]]
                payment.refresh_from_db()
                amount = min(op[2], services.refundable_minor(payment))
                if amount > 0:
                    services.refund(payment.pk, amount_minor=amount, actor=staff_user, reason="property test")
            elif op[0] == "complete" and order.status == OrderStatus.IN_PROGRESS:
                order_services.deliver(order.pk, actor=coach_user)
                order_services.accept_delivery(order.pk, actor=client_user)
            elif op[0] == "dispute" and order.status == OrderStatus.IN_PROGRESS:
                order_services.open_dispute(order.pk, actor=client_user, reason="property test")
                payment = payments[op[1]]
                payment.refresh_from_db()
                refund = min(op[2], services.refundable_minor(payment))
                services.resolve_dispute(order.pk, actor=staff_user, refund_minor=refund, note="property test")
            assert ledger.reconcile() == []
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_nightly_task_alerts_staff_only_on_a_mismatch(order, staff_user):
    from notifications.models import Notification
    from payments.tasks import reconcile_ledger

    payment = _pay(order)
    assert reconcile_ledger() == 0
    assert not Notification.objects.filter(kind="ledger_mismatch").exists()
    Payment.objects.filter(pk=payment.pk).update(refunded_minor=1)
    assert reconcile_ledger() > 0
    assert Notification.objects.filter(user=staff_user, kind="ledger_mismatch").exists()
