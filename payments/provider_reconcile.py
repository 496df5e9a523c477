"""Reconciliation against the providers: what Stripe and PayPal say happened in a period, compared
with what we recorded (ledger.reconcile checks the ledger only against itself).

Stripe: the Checkout Sessions, charges and refunds created in the period; PayPal: the captures and
refunds of its Transaction Search. Every difference is one readable line; an empty list means the
provider and we agree. Read-only: it never changes a row (a webhook that never arrived is for staff,
or for settle_with_providers, to apply).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from core.money import format_money

from .ledger import CAPTURED_STATES
from .models import Payment, Provider, Refund, RefundStatus
from .providers import paypal_client, stripe_client
from .providers.errors import PaymentProviderError

# The nightly run looks back two days (so a night missed is still covered) and stops a quarter of an
# hour ago (webhooks of the last minutes may still be on their way).
LOOK_BACK = timedelta(days=2)
SETTLING_TIME = timedelta(minutes=15)


def recent_window(until: datetime | None = None, *, look_back: timedelta = LOOK_BACK) -> tuple[datetime, datetime]:
    """[until − look_back, until); `until` defaults to now less the settling time."""
    end = until or timezone.now() - SETTLING_TIME
    return end - look_back, end


def compare_with_providers(start: datetime, end: datetime) -> list[str]:
    """Differences between each configured provider and us for [start, end)."""
    problems: list[str] = []
    for configured, compare, name in (
        (stripe_client.is_configured, _compare_stripe, "Stripe"),
        (paypal_client.is_configured, _compare_paypal, "PayPal"),
    ):
        if not configured():
            continue
        try:
            problems += compare(start, end)
        except PaymentProviderError as error:
            problems.append(f"Could not compare with {name}: {error.message}")
    return problems


def _money(amount_minor: int, currency: str) -> str:
    return format_money(amount_minor, currency.upper())


def _compare_stripe(start: datetime, end: datetime) -> list[str]:
    window = int(start.timestamp()), int(end.timestamp())
    return (
        _stripe_sessions(stripe_client.list_created_between("sessions", *window), start, end)
        + _stripe_charges(stripe_client.list_created_between("charges", *window))
        + _refunds_against(
            Provider.STRIPE,
            {
                r["id"]: (int(r["amount"]), str(r["currency"]))
                for r in stripe_client.list_created_between("refunds", *window)
                if r.get("status") == "succeeded"
            },
            start,
            end,
        )
    )


def _stripe_sessions(sessions: list[dict], start: datetime, end: datetime) -> list[str]:
    problems = []
    ours = Payment.objects.filter(provider=Provider.STRIPE, provider_payment_id__in=[s["id"] for s in sessions])
    by_session = {p.provider_payment_id: p for p in ours}
    for session in sessions:
        payment = by_session.get(session["id"])
        paid = session.get("payment_status") == "paid"
        amount, currency = int(session.get("amount_total") or 0), str(session.get("currency") or "")
        if payment is None:
            if paid:
                problems.append(
                    f"Stripe session {session['id']} took {_money(amount, currency)}; no payment of ours has it."
                )
        elif paid and payment.status not in CAPTURED_STATES:
            problems.append(
                f"Stripe session {session['id']} is paid ({_money(amount, currency)}) but payment {payment.pk} is "
                f"{payment.status}."
            )
        elif not paid and payment.status in CAPTURED_STATES:
            problems.append(
                f"Payment {payment.pk} is {payment.status} but Stripe says session {session['id']} is unpaid."
            )
        elif paid and (amount != payment.amount_minor or currency.upper() != payment.currency):
            problems.append(
                f"Payment {payment.pk}: Stripe took {_money(amount, currency)}, we recorded "
                f"{_money(payment.amount_minor, payment.currency)}."
            )
    listed = {s["id"] for s in sessions}
    unlisted = Payment.objects.filter(
        provider=Provider.STRIPE, status__in=CAPTURED_STATES, created_at__gte=start, created_at__lt=end
    ).exclude(provider_payment_id__in=listed)
    for payment in unlisted:
        problems.append(
            f"Payment {payment.pk} is {payment.status}, but Stripe has no session {payment.provider_payment_id}."
        )
    return problems


def _stripe_charges(charges: list[dict]) -> list[str]:
    problems = []
    intents = [c.get("payment_intent") for c in charges if c.get("payment_intent")]
    by_intent = {
        p.provider_capture_id: p
        for p in Payment.objects.filter(provider=Provider.STRIPE, provider_capture_id__in=intents)
    }
    for charge in charges:
        if charge.get("status") != "succeeded":
            continue
        payment = by_intent.get(charge.get("payment_intent") or "")
        refunded, currency = int(charge.get("amount_refunded") or 0), str(charge.get("currency") or "")
        if payment is None:
            problems.append(
                f"Stripe charge {charge['id']} ({_money(int(charge['amount']), currency)}) is on no payment of ours."
            )
        elif refunded != payment.refunded_minor:
            problems.append(
                f"Payment {payment.pk}: Stripe has refunded {_money(refunded, currency)}, we recorded "
                f"{_money(payment.refunded_minor, payment.currency)}."
            )
    return problems


def _refunds_against(
    provider: str, at_provider: dict[str, tuple[int, str]], start: datetime, end: datetime
) -> list[str]:
    """Succeeded refunds at the provider ({id: (amount, currency)}) against our confirmed Refund rows."""
    name = Provider(provider).label
    problems = []
    ours = {
        r.provider_refund_id: r
        for r in Refund.objects.filter(payment__provider=provider, provider_refund_id__in=list(at_provider))
    }
    for refund_id, (amount, currency) in at_provider.items():
        refund = ours.get(refund_id)
        if refund is None or refund.status != RefundStatus.SUCCEEDED:
            state = "is not recorded here" if refund is None else f"is {refund.status} here"
            problems.append(f"{name} refund {refund_id} of {_money(amount, currency)} {state}.")
        elif refund.amount_minor != amount:
            problems.append(
                f"{name} refund {refund_id} is {_money(amount, currency)}, we recorded "
                f"{_money(refund.amount_minor, refund.currency)}."
            )
    confirmed = Refund.objects.filter(
        payment__provider=provider, status=RefundStatus.SUCCEEDED, confirmed_at__gte=start, confirmed_at__lt=end
    ).exclude(provider_refund_id="")
    for refund in confirmed.exclude(provider_refund_id__in=list(at_provider)):
        problems.append(
            f"Refund {refund.pk} ({_money(refund.amount_minor, refund.currency)}) is recorded as succeeded, but "
            f"{name} has no refund {refund.provider_refund_id} in the period."
        )
    return problems


def _compare_paypal(start: datetime, end: datetime) -> list[str]:
    transactions = paypal_client.transactions_between(start, end)
    captures = [t for t in transactions if t["kind"] == "capture"]
    problems = []
    by_capture = {
        p.provider_capture_id: p
        for p in Payment.objects.filter(provider=Provider.PAYPAL, provider_capture_id__in=[c["id"] for c in captures])
    }
    for capture in captures:
        payment = by_capture.get(capture["id"])
        money = _money(capture["amount_minor"], capture["currency"])
        if payment is None or payment.status not in CAPTURED_STATES:
            state = "no payment of ours has it" if payment is None else f"payment {payment.pk} is {payment.status}"
            problems.append(f"PayPal capture {capture['id']} took {money}; {state}.")
        elif capture["amount_minor"] != payment.amount_minor or capture["currency"] != payment.currency:
            problems.append(
                f"Payment {payment.pk}: PayPal captured {money}, we recorded {_money(payment.amount_minor, payment.currency)}."
            )
    unlisted = Payment.objects.filter(
        provider=Provider.PAYPAL, status__in=CAPTURED_STATES, captured_at__gte=start, captured_at__lt=end
    ).exclude(provider_capture_id__in=[c["id"] for c in captures])
    for payment in unlisted:
        problems.append(
            f"Payment {payment.pk} is {payment.status}, but PayPal lists no capture {payment.provider_capture_id}."
        )
    refunds = {t["id"]: (t["amount_minor"], t["currency"]) for t in transactions if t["kind"] == "refund"}
    return problems + _refunds_against(Provider.PAYPAL, refunds, start, end)
