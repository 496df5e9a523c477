"""The append-only ledger: what the platform holds for each order, what it earned, what it owes
each coach (DESIGN.md §4). Rows are only ever added; every row balances (gross = fee + payout).

Rounding rule (one rule, integer arithmetic, no floats):
    platform fee = gross × PLATFORM_FEE_BASIS_POINTS / 10 000, rounded half up to the minor unit
    (an exact half goes to the platform); coach payout = gross − fee.
    e.g. 20 % of 1 234 = 246.8 → fee 247, payout 987; 20 % of 1 = 0.2 → fee 0, payout 1;
    12.5 % (1 250 bp) of 4 = 0.5 → fee 1, payout 3.

Refunds reverse the charge's own split proportionally, computed on the running total so the
rounding never drifts: after refunds totalling R of a charge (G, F, P), the fee refunded so far is
round_half_up(R × F / G). Each refund row takes the difference from the previous total, so the
refund that brings R to G (the last one) takes exactly the remainder of F and P and a fully refunded
charge nets to zero in every column.

Payouts: when an order completes, the coach's share net of refunds is released in one payout row
(gross = payout, fee 0). A refund confirmed after that release writes a negative payout row of the
refund's coach share, so "released" always equals the coach's share net of refunds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from core import writes
from orders.models import Order, OrderStatus

from .models import LedgerEntry, LedgerEntryType, Payment, PaymentStatus, Refund, RefundStatus
from .signals import ledger_written

CAPTURED_STATES = (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)


def _round_half_up_div(numerator: int, denominator: int) -> int:
    """round(numerator / denominator) with halves rounded up, for non-negative integers."""
    return (2 * numerator + denominator) // (2 * denominator)


def split_fee(gross_minor: int, basis_points: int | None = None) -> tuple[int, int]:
    """(platform fee, coach payout) of a charge; see the module docstring for the rounding rule."""
    bps = settings.PLATFORM_FEE_BASIS_POINTS if basis_points is None else basis_points
    if not 0 <= bps <= 10_000:
        raise ValueError("PLATFORM_FEE_BASIS_POINTS must be between 0 and 10000.")
    if gross_minor < 0:
        raise ValueError("A charge is never negative.")
    fee = _round_half_up_div(gross_minor * bps, 10_000)
    return fee, gross_minor - fee


def refund_split(
    *, charge_gross: int, charge_fee: int, refunded_before: int, fee_refunded_before: int, amount: int
) -> tuple[int, int]:
    """(fee part, payout part) — both positive — of a refund of `amount`, given what was refunded before."""
    if amount <= 0 or refunded_before + amount > charge_gross:
        raise ValueError("A refund must be positive and no more than what is left of the charge.")
    fee_refunded_after = _round_half_up_div((refunded_before + amount) * charge_fee, charge_gross)
    fee_part = fee_refunded_after - fee_refunded_before
    return fee_part, amount - fee_part


def record_charge(payment: Payment, *, unallocated: bool = False) -> None:
    """The charge row of a captured payment, written once (caller holds the payment lock).

    `unallocated`: money taken for an order that can no longer use it (already paid by another
    payment, or cancelled). The platform holds all of it (fee = gross) and nothing is owed to the
    coach; staff refund it. One INSERT … ON CONFLICT DO NOTHING on the idempotency key: a second
    call for the same payment adds nothing (get_or_create took a SELECT and a savepoint more).
    """
    entry = _charge_entry(payment, unallocated=unallocated)
    LedgerEntry.objects.bulk_create([entry], ignore_conflicts=True)
    ledger_written.send(sender=LedgerEntry, entry=entry)  # bulk_create sends no post_save


def _charge_entry(payment: Payment, *, unallocated: bool) -> LedgerEntry:
    gross = payment.amount_minor
    fee, payout = (gross, 0) if unallocated else split_fee(gross)
    return LedgerEntry(
        idempotency_key=f"charge:{payment.pk}",
        entry_type=LedgerEntryType.CHARGE,
        payment=payment,
        order_id=payment.order_id,
        coach_id=payment.order.coach_id,
        gross_minor=gross,
        fee_minor=fee,
        payout_minor=payout,
        currency=payment.currency,
        note="Payment captured; held for an order that cannot use it." if unallocated else "Payment captured.",
    )


def charge_write(name: str, payment: Payment, *, after: str) -> writes.Write:
    """`record_charge(payment)` (an order that can use it) as one CTE of a caller's statement
    (core.writes): the same row, ON CONFLICT DO NOTHING, and the same ledger_written once it ran."""
    entry = _charge_entry(payment, unallocated=False)
    entry.created_at = timezone.now()
    values = {
        field.name: getattr(entry, field.attname) for field in LedgerEntry._meta.concrete_fields if field.name != "id"
    }

    def done(results: writes.Results) -> None:
        ledger_written.send(sender=LedgerEntry, entry=entry)  # as record_charge: the entry unsaved

    return writes.insert(name, LedgerEntry, values, after=after, conflict="idempotency_key", expect=None, done=done)


def record_refund(payment: Payment, *, amount_minor: int, key: str) -> LedgerEntry:
    """A negative refund row reversing the charge's split (caller holds the payment lock).

    If the order's funds were already released to the coach, a negative payout row takes the
    refund's coach share back from the released amount.
    """
    existing = LedgerEntry.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    charge = LedgerEntry.objects.get(payment=payment, entry_type=LedgerEntryType.CHARGE)
    before = LedgerEntry.objects.filter(payment=payment, entry_type=LedgerEntryType.REFUND).aggregate(
        gross=Sum("gross_minor", default=0), fee=Sum("fee_minor", default=0)
    )
    fee_part, payout_part = refund_split(
        charge_gross=charge.gross_minor,
        charge_fee=charge.fee_minor,
        refunded_before=-before["gross"],
        fee_refunded_before=-before["fee"],
        amount=amount_minor,
    )
    entry = LedgerEntry.objects.create(
        idempotency_key=key,
        entry_type=LedgerEntryType.REFUND,
        payment=payment,
        order_id=payment.order_id,
        coach_id=charge.coach_id,
        gross_minor=-amount_minor,
        fee_minor=-fee_part,
        payout_minor=-payout_part,
        currency=payment.currency,
        note="Refund confirmed by the provider.",
    )
    released = LedgerEntry.objects.filter(order_id=payment.order_id, entry_type=LedgerEntryType.PAYOUT).exists()
    if released and payout_part:
        LedgerEntry.objects.create(
            idempotency_key=f"payout-reversal:{key}",
            entry_type=LedgerEntryType.PAYOUT,
            order_id=payment.order_id,
            coach_id=charge.coach_id,
            gross_minor=-payout_part,
            fee_minor=0,
            payout_minor=-payout_part,
            currency=payment.currency,
            note="Coach share of a refund confirmed after release.",
        )
    return entry


def coach_share(order_id: int) -> int:
    """The coach's share of an order's money net of refunds (charge and refund rows)."""
    return LedgerEntry.objects.filter(
        order_id=order_id, entry_type__in=(LedgerEntryType.CHARGE, LedgerEntryType.REFUND)
    ).aggregate(total=Sum("payout_minor", default=0))["total"]


def release_payout(order: Order) -> LedgerEntry | None:
    """Release the coach's share of a completed order (once; the key makes it idempotent)."""
    if order.status != OrderStatus.COMPLETED:
        raise ValueError("Only a completed order's funds are released.")
    key = f"payout:{order.pk}"
    existing = LedgerEntry.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    amount = coach_share(order.pk)
    if amount <= 0:
        return None
    return LedgerEntry.objects.create(
        idempotency_key=key,
        entry_type=LedgerEntryType.PAYOUT,
        order_id=order.pk,
        coach_id=order.coach_id,
        gross_minor=amount,
        fee_minor=0,
        payout_minor=amount,
        currency=order.currency,
        note="Order completed: coach's share released.",
    )


# --- Reconciliation -----------------------------------------------------------------------------


def totals(entries: QuerySet[LedgerEntry]) -> list[dict[str, Any]]:
    """Per currency, what a set of ledger rows adds up to, each kind of movement on its own: summing the three
    kinds into one gross would count a coach's share twice (once as the charge's split, once as its payout).

    charged / refunded (negative) / net (what clients paid, less refunds), the platform's fees and the coaches'
    share of that net, paid_out (payouts released) and held (the coaches' share not paid out yet)."""
    sales = Q(entry_type__in=(LedgerEntryType.CHARGE, LedgerEntryType.REFUND))
    rows = list(
        entries.order_by("currency")
        .values("currency")
        .annotate(
            entries=Count("id"),
            charged=Sum("gross_minor", filter=Q(entry_type=LedgerEntryType.CHARGE), default=0),
            refunded=Sum("gross_minor", filter=Q(entry_type=LedgerEntryType.REFUND), default=0),
            net=Sum("gross_minor", filter=sales, default=0),
            fees=Sum("fee_minor", filter=sales, default=0),
            coach_share=Sum("payout_minor", filter=sales, default=0),
            paid_out=Sum("payout_minor", filter=Q(entry_type=LedgerEntryType.PAYOUT), default=0),
        )
    )
    for row in rows:
        row["held"] = row["coach_share"] - row["paid_out"]
    return rows


@dataclass
class _Sums:
    gross: int = 0
    fee: int = 0
    payout: int = 0
    count: int = 0


@dataclass
class _PaymentRows:
    """The ledger rows of each payment, summed: charges, refunds, and the currencies and orders they name."""

    charges: dict[int, _Sums] = field(default_factory=lambda: defaultdict(_Sums))
    refunds: dict[int, _Sums] = field(default_factory=lambda: defaultdict(_Sums))
    currencies: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    orders: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))


def reconcile() -> list[str]:
    """Check every invariant of the ledger against payments, refunds and orders.

    Returns a list of human-readable problems; empty means the books balance. Runs a fixed number
    of aggregate queries whatever the number of rows.
    """
    problems = _row_problems()
    rows = _rows_by_payment()
    payment_problems, held_by_order = _payment_problems(rows)
    return problems + payment_problems + _order_problems(held_by_order)


def _row_problems() -> list[str]:
    """Each row on its own: it balances, its amounts have the sign of its type, payouts carry no fee
    and belong to an order, not a payment."""
    problems = []
    unbalanced = LedgerEntry.objects.exclude(gross_minor=F("fee_minor") + F("payout_minor"))
    for entry in unbalanced.only("pk", "gross_minor", "fee_minor", "payout_minor"):
        problems.append(
            f"Ledger row {entry.pk} does not balance: gross {entry.gross_minor} ≠ "
            f"fee {entry.fee_minor} + payout {entry.payout_minor}."
        )
    sign_errors = LedgerEntry.objects.filter(
        Q(entry_type=LedgerEntryType.CHARGE, gross_minor__lte=0)
        | Q(entry_type=LedgerEntryType.CHARGE, fee_minor__lt=0)
        | Q(entry_type=LedgerEntryType.CHARGE, payout_minor__lt=0)
        | Q(entry_type=LedgerEntryType.REFUND, gross_minor__gte=0)
        | Q(entry_type=LedgerEntryType.REFUND, fee_minor__gt=0)
        | Q(entry_type=LedgerEntryType.REFUND, payout_minor__gt=0)
    ).values_list("pk", "entry_type")
    for pk, entry_type in sign_errors:
        problems.append(f"Ledger row {pk} ({entry_type}) has an amount with the wrong sign.")
    payouts = LedgerEntry.objects.filter(entry_type=LedgerEntryType.PAYOUT)
    for pk in payouts.exclude(fee_minor=0).values_list("pk", flat=True):
        problems.append(f"Payout row {pk} carries a platform fee.")
    for pk in payouts.filter(payment__isnull=False).values_list("pk", flat=True):
        problems.append(f"Payout row {pk} is tied to a payment; payouts belong to orders.")
    return problems


def _rows_by_payment() -> _PaymentRows:
    summed = _PaymentRows()
    rows = (
        LedgerEntry.objects.filter(payment__isnull=False)
        .values("payment_id", "entry_type", "currency", "order_id")
        .annotate(gross=Sum("gross_minor"), fee=Sum("fee_minor"), payout=Sum("payout_minor"), n=Count("id"))
    )
    for row in rows:
        target = summed.charges if row["entry_type"] == LedgerEntryType.CHARGE else summed.refunds
        sums = target[row["payment_id"]]
        sums.gross += row["gross"]
        sums.fee += row["fee"]
        sums.payout += row["payout"]
        sums.count += row["n"]
        summed.currencies[row["payment_id"]].add(row["currency"])
        summed.orders[row["payment_id"]].add(row["order_id"])
    return summed


def _payment_problems(rows: _PaymentRows) -> tuple[list[str], dict[int, int]]:
    """Per payment: its charge and refund rows against what the payment says. Also returns what the
    provider holds for each order (captured minus refunded), which the order check needs."""
    problems: list[str] = []
    confirmed_refunds = dict(
        Refund.objects.filter(status=RefundStatus.SUCCEEDED)
        .values("payment_id")
        .annotate(total=Sum("amount_minor"))
        .values_list("payment_id", "total")
    )
    held_by_order: dict[int, int] = defaultdict(int)
    payments = Payment.objects.values(
        "pk", "order_id", "status", "amount_minor", "refunded_minor", "currency", "order__currency"
    )
    seen = set()
    for p in payments:
        pk = p["pk"]
        seen.add(pk)
        charge, refund = rows.charges.get(pk, _Sums()), rows.refunds.get(pk, _Sums())
        if p["status"] in CAPTURED_STATES:
            held_by_order[p["order_id"]] += p["amount_minor"] - p["refunded_minor"]
            problems += _captured_payment_problems(p, charge, refund, confirmed_refunds.get(pk, 0))
        elif charge.count or refund.count or p["refunded_minor"]:
            problems.append(f"Payment {pk} is {p['status']} (not captured) but has ledger rows or refunds.")
        if p["currency"] != p["order__currency"]:
            problems.append(f"Payment {pk} is in {p['currency']} but its order is in {p['order__currency']}.")
        if rows.currencies.get(pk, {p["currency"]}) != {p["currency"]}:
            problems.append(f"Payment {pk} has ledger rows in another currency.")
        if rows.orders.get(pk, {p["order_id"]}) != {p["order_id"]}:
            problems.append(f"Payment {pk} has ledger rows filed under another order.")
    for pk in set(rows.charges) | set(rows.refunds):
        if pk not in seen:
            problems.append(f"Ledger rows point at payment {pk}, which does not exist.")
    return problems, held_by_order


def _captured_payment_problems(p: Mapping[str, Any], charge: _Sums, refund: _Sums, confirmed: int) -> list[str]:
    """A captured payment has one charge row for its amount, refund rows for what it says was refunded
    (and confirmed by the provider), and the status that amount implies."""
    problems = []
    pk, amount, refunded = p["pk"], p["amount_minor"], p["refunded_minor"]
    if charge.count != 1 or charge.gross != amount:
        problems.append(
            f"Payment {pk} is {p['status']} for {amount} but has {charge.count} charge row(s) totalling {charge.gross}."
        )
    if -refund.gross != refunded:
        problems.append(f"Payment {pk} says {refunded} refunded but its refund rows total {-refund.gross}.")
    if -refund.fee > charge.fee or -refund.payout > charge.payout:
        problems.append(f"Payment {pk}: refunds reversed more fee or payout than the charge held.")
    if refunded == 0:
        expected_status = PaymentStatus.CAPTURED
    elif refunded == amount:
        expected_status = PaymentStatus.REFUNDED
    else:
        expected_status = PaymentStatus.PARTIALLY_REFUNDED
    if p["status"] != expected_status:
        problems.append(
            f"Payment {pk} is {p['status']} but {refunded} of {amount} is refunded (expected {expected_status})."
        )
    if confirmed != refunded:
        problems.append(f"Payment {pk}: confirmed refunds total {confirmed}, but {refunded} is recorded as refunded.")
    return problems


def _order_problems(held_by_order: dict[int, int]) -> list[str]:
    """Per order: the sum of its money rows equals what the provider holds for it, and payouts exist
    only for completed orders, releasing exactly the coach's share net of refunds."""
    problems = []
    not_payout = ~Q(entry_type=LedgerEntryType.PAYOUT)
    order_rows = (
        LedgerEntry.objects.values("order_id", "order__status", "order__currency")
        .annotate(
            held=Sum("gross_minor", filter=not_payout, default=0),
            share=Sum("payout_minor", filter=not_payout, default=0),
            fee=Sum("fee_minor", filter=not_payout, default=0),
            released=Sum("gross_minor", filter=Q(entry_type=LedgerEntryType.PAYOUT), default=0),
            payouts=Count("id", filter=Q(entry_type=LedgerEntryType.PAYOUT)),
        )
        .order_by()
    )
    orders_with_rows = set()
    for row in order_rows:
        order_id = row["order_id"]
        orders_with_rows.add(order_id)
        if row["held"] != held_by_order.get(order_id, 0):
            problems.append(
                f"Order {order_id}: ledger holds {row['held']} but its payments hold "
                f"{held_by_order.get(order_id, 0)} (captured minus refunded)."
            )
        if row["share"] < 0 or row["fee"] < 0:
            problems.append(f"Order {order_id}: the coach share or platform fee is negative.")
        if row["payouts"] and row["order__status"] != OrderStatus.COMPLETED:
            problems.append(f"Order {order_id} has a payout but is {row['order__status']}, not completed.")
        if row["order__status"] == OrderStatus.COMPLETED and row["released"] != row["share"]:
            problems.append(
                f"Order {order_id} is completed: released {row['released']} but the coach's share net of "
                f"refunds is {row['share']}."
            )
        if row["released"] < 0:
            problems.append(f"Order {order_id}: more was taken back from the coach than was released.")
    for order_id, held in held_by_order.items():
        if held and order_id not in orders_with_rows:
            problems.append(f"Order {order_id}: payments hold {held} but the ledger has no rows for it.")
    return problems
