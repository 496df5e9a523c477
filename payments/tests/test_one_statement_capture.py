"""The one-statement capture (payments.services.fulfilment._capture_in_one_statement) ends every delivery
exactly as the ORM path does: the gate for it (issue 13).

Each case is built twice on fresh rows (the ids of each run start at their own sequence offsets) and
delivered once with the one-statement capture on and once with it off. Compared: every row of the
tables a delivery writes (payments, orders, ledger, timeline, audit, notifications, webhook events,
refunds, the email outbox), all columns but the row's own id and timestamps, ids normalised to their
place in the run (the row's rank among its table's rows, so a sequence value a rolled-back write drew
does not count); the emails sent after commit; the Celery tasks published; the cache versions bumped
(pages, listings, figures, notifications); the ops counters; the signals sent (post_save, ledger_written,
order_status_changed), in their order. (The one statement sends no pre_save, and no model it writes
has a pre_save receiver: the last test checks.) PostgreSQL only: elsewhere there is only
the ORM path.
"""

from __future__ import annotations

import datetime
import re
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from unittest.mock import patch

import factory.random
import pytest
from celery.app.task import Task
from django.apps import apps
from django.core import mail
from django.db import connection, connections
from django.db.models.signals import post_save, pre_save
from django.test import Client

from accounts.tests.factories import ClientFactory
from audit.models import AuditLog
from coaches.tests.factories import CoachProfileFactory
from conftest import require_service
from core import cache as core_cache
from core import metrics, writes
from notifications.models import Notification, SentEmail
from orders import services as order_services
from orders.models import Order, OrderEvent
from orders.signals import order_status_changed
from orders.tests.factories import make_order
from payments import services
from payments.models import LedgerEntry, Payment, PaymentStatus, Refund, WebhookEvent
from payments.signals import ledger_written

from .conftest import post_stripe
from .fakes import stripe_event

RUN_SPACING = 100_000_000  # run k's ids start at k × this (+ 1,000,000 per table)
TABLE_SPACING = 1_000_000
COMPARED = (Payment, Order, LedgerEntry, OrderEvent, AuditLog, Notification, WebhookEvent, Refund, SentEmail)
METRICS = (metrics.PAYMENTS, metrics.PAYMENT_AMOUNT, metrics.ORDER_TRANSITIONS, metrics.WEBHOOK_EVENTS)
_STRINGS = (
    (re.compile(r"cs_test_[A-Za-z0-9_]+"), "<session>"),
    (re.compile(r"pi_test_\d+"), "<intent>"),
    (re.compile(r"evt_[0-9a-f]+"), "<event>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<random hex>"),  # a checkout attempt's key
    (re.compile(r"\b(user|coach|client|staff)\d+@"), r"\1@"),  # the factories' sequences
    (re.compile(r"/unsubscribe/[^/]+/"), "/unsubscribe/<signed user id>/"),
)


def _need_postgres():
    if connection.vendor != "postgresql":
        require_service("PostgreSQL", False, "the one-statement capture exists only there")


def _sequenced() -> list[tuple[int, Any]]:
    return [
        (index, model)
        for index, model in enumerate(apps.get_models())
        if model._meta.managed
        and not model._meta.proxy
        and model._meta.pk.get_internal_type() in ("AutoField", "BigAutoField")
    ]


def _start_sequences(run: int) -> None:
    with connection.cursor() as cursor:
        for index, model in _sequenced():
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, %s), %s)",
                [model._meta.db_table, model._meta.pk.column, run * RUN_SPACING + index * TABLE_SPACING],
            )


_PLACES: dict[int, int] = {}  # a stored row's id → its place among its table's rows of the run


def _number_places(run: int) -> None:
    """Ids become the row's place in its table's rows of the run (the first is 1), so a sequence value
    drawn by a write that rolled back (a replayed delivery draws its own) leaves no mark."""
    _PLACES.clear()
    for index, model in _sequenced():
        ids = model.objects.filter(pk__gte=run * RUN_SPACING, pk__lt=(run + 1) * RUN_SPACING).order_by("pk")
        for place, pk in enumerate(ids.values_list("pk", flat=True), 1):
            _PLACES[pk] = index * TABLE_SPACING + place


def _norm(value: Any) -> Any:
    """Ids become their place in the run, timestamps a marker, provider ids a name."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if 1_600_000_000 <= value <= 2_100_000_000:
            return "<unix time>"
        return f"id:{_PLACES.get(value, value % RUN_SPACING)}" if value >= RUN_SPACING else value
    if isinstance(value, datetime.datetime):
        return "<time>"
    if isinstance(value, str):
        for pattern, name in _STRINGS:
            value = pattern.sub(name, value)
        return re.sub(r"\d{9,}", lambda m: _norm(int(m.group())), value)
    if isinstance(value, dict):
        return {key: _norm(item) for key, item in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_norm(item) for item in value]
    return value


def _rows(run: int) -> dict[str, list]:
    out = {}
    for model in COMPARED:
        pk = model._meta.pk.attname
        fields = [f.attname for f in model._meta.concrete_fields if f.attname != pk]
        rows = model.objects.filter(pk__gte=run * RUN_SPACING, pk__lt=(run + 1) * RUN_SPACING).values_list(*fields)
        out[model._meta.label] = sorted(repr(_norm(dict(zip(fields, row, strict=True)))) for row in rows)
    return out


def _metric_values() -> dict[tuple, float]:
    values: dict[tuple, float] = defaultdict(float)
    for metric in METRICS:
        for family in metric.collect():
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue  # when the series was first seen
                values[(sample.name, tuple(sorted(sample.labels.items())))] += sample.value
    return values


@dataclass
class Run:
    rows: dict[str, list]
    statuses: list
    emails: list
    tasks: list
    bumps: list
    metrics: dict
    captured_in_one_statement: int
    signals: list  # (signal, sender, created, update_fields, transition, pk), in the order sent


# --- the cases: each sets up its rows (always through the ORM path) and returns its deliveries --------


def _checkout(fake_stripe, order=None):
    if order is None:
        order = make_order(client=ClientFactory(), coach=CoachProfileFactory().user)
    payment = services.start_stripe_checkout(
        order.pk, actor=order.client, urls=lambda p: ("http://x/ok", "http://x/no")
    )[0]
    return order, payment


def _completed(fake_stripe, payment, **overrides):
    session = fake_stripe.pay(payment.provider_payment_id)
    session.update(overrides)
    return stripe_event("checkout.session.completed", session)


def _one(event):
    return lambda: [post_stripe(Client(), event).status_code]


def _at_once(*events):
    def deliver():
        barrier = threading.Barrier(len(events))
        statuses: list = []

        def post(event):
            try:
                barrier.wait(timeout=30)
                statuses.append(post_stripe(Client(), event).status_code)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=post, args=(event,)) for event in events]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        return sorted(statuses)

    return deliver


def common(fake_stripe):
    _, payment = _checkout(fake_stripe)
    return _one(_completed(fake_stripe, payment))


def amount_mismatch(fake_stripe):
    _, payment = _checkout(fake_stripe)
    return _one(_completed(fake_stripe, payment, amount_total=payment.amount_minor - 100))


def currency_mismatch(fake_stripe):
    _, payment = _checkout(fake_stripe)
    return _one(_completed(fake_stripe, payment, currency="usd"))


def already_captured(fake_stripe):
    _, payment = _checkout(fake_stripe)
    post_stripe(Client(), _completed(fake_stripe, payment))
    return _one(stripe_event("checkout.session.async_payment_succeeded", fake_stripe.pay(payment.provider_payment_id)))


def order_cancelled(fake_stripe):
    order, payment = _checkout(fake_stripe)
    order_services.cancel_order(order.pk, actor=order.client, reason="changed my mind")
    return _one(_completed(fake_stripe, payment))


def second_captured_payment(fake_stripe):
    order, first = _checkout(fake_stripe)
    _, second = _checkout(fake_stripe, order)
    post_stripe(Client(), _completed(fake_stripe, first))
    return _one(_completed(fake_stripe, second))


def other_payment_captured_order_still_pending(fake_stripe):
    """The statement's own check: another captured payment while the order is pending (a state only a
    repair leaves) sends the delivery down the ORM path, which holds the money unallocated."""
    order, first = _checkout(fake_stripe)
    _, second = _checkout(fake_stripe, order)
    Payment.objects.filter(pk=first.pk).update(status=PaymentStatus.CAPTURED)
    return _one(_completed(fake_stripe, second))


def deferred_refund_waiting(fake_stripe):
    """The statement's other check: an event deferred until this capture is replayed (ORM path)."""
    _, payment = _checkout(fake_stripe)
    completed = _completed(fake_stripe, payment)
    session = fake_stripe.sessions[payment.provider_payment_id]
    fake_stripe.plant_refund("re_early", amount=2000, payment_intent=session["payment_intent"])
    assert (
        post_stripe(Client(), stripe_event("charge.refunded", fake_stripe.charge(payment.provider_payment_id))).json()[
            "status"
        ]
        == "deferred"
    )
    return _one(completed)


def unknown_session(fake_stripe):
    _checkout(fake_stripe)
    session = {"id": "cs_test_nobody", "object": "checkout.session", "payment_status": "paid", "status": "complete"}
    return _one(stripe_event("checkout.session.completed", {**session, "amount_total": 100, "currency": "gbp"}))


def redelivery(fake_stripe):
    _, payment = _checkout(fake_stripe)
    event = _completed(fake_stripe, payment)
    return lambda: [post_stripe(Client(), event).status_code, post_stripe(Client(), event).status_code]


def two_threads_one_event(fake_stripe):
    _, payment = _checkout(fake_stripe)
    event = _completed(fake_stripe, payment)
    return _at_once(event, event)


def two_threads_two_events(fake_stripe):
    _, payment = _checkout(fake_stripe)
    session = fake_stripe.pay(payment.provider_payment_id)
    return _at_once(
        stripe_event("checkout.session.completed", session), stripe_event("checkout.session.completed", session)
    )


def notification_insert_fails(fake_stripe):
    """A fault in the database: the parties' notification is refused. Both paths roll the handler back,
    mark the event failed and alert staff once."""
    _, payment = _checkout(fake_stripe)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE OR REPLACE FUNCTION wh8_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN IF NEW.kind = 'order_mark_paid' THEN RAISE EXCEPTION 'notifications refused'; END IF; "
            "RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER wh8_refuse BEFORE INSERT ON notifications_notification "
            "FOR EACH ROW EXECUTE FUNCTION wh8_refuse()"
        )
    deliver = _one(_completed(fake_stripe, payment))

    def deliver_then_drop():
        try:
            return deliver()
        finally:
            with connection.cursor() as cursor:
                cursor.execute("DROP TRIGGER wh8_refuse ON notifications_notification")

    return deliver_then_drop


CASES: dict[str, tuple[Callable, bool]] = {  # name: (setup, whether the one statement writes it)
    "common": (common, True),
    "amount mismatch": (amount_mismatch, False),
    "currency mismatch": (currency_mismatch, False),
    "already captured": (already_captured, False),
    "order cancelled": (order_cancelled, False),
    "second captured payment": (second_captured_payment, False),
    "other payment captured, order pending": (other_payment_captured_order_still_pending, False),
    "deferred refund waiting": (deferred_refund_waiting, False),
    "unknown session": (unknown_session, False),
    "redelivery": (redelivery, True),
    "two threads, one event": (two_threads_one_event, True),
    "two threads, two events": (two_threads_two_events, True),
    "notification insert fails": (notification_insert_fails, False),
}


def _deliver(case: str, run: int, one_statement: bool, fake_stripe, settings) -> Run:
    _start_sequences(run)
    factory.random.reseed_random(case)  # the same names and titles in both runs
    settings.PAYMENTS_ONE_STATEMENT_CAPTURE = False
    deliver = CASES[case][0](fake_stripe)
    settings.PAYMENTS_ONE_STATEMENT_CAPTURE = one_statement
    mail.outbox.clear()
    tasks: list = []
    bumps: list = []
    used: list = []
    apply_async, bump_keys, run_writes = Task.apply_async, core_cache._bump_keys, writes.run

    def publish(self, args=None, kwargs=None, **options):
        tasks.append((self.name, list(args or ()), dict(kwargs or {})))
        return apply_async(self, args, kwargs, **options)

    def bump(keys):
        bumps.append(list(keys))
        return bump_keys(keys)

    def counted_run(guard, parts, using="default", **options):
        results = run_writes(guard, parts, using, **options)
        used.append(results is not None)
        return results

    signals: list = []

    def heard(signal_name):
        def receiver(sender, **kwargs):
            instance = kwargs.get("instance") or kwargs.get("entry") or kwargs.get("order")
            fields = kwargs.get("update_fields")
            signals.append(
                (
                    signal_name,
                    sender._meta.label,
                    kwargs.get("created"),
                    sorted(fields) if fields is not None else None,
                    kwargs.get("transition"),
                    instance.pk if instance is not None and sender is not WebhookEvent else None,
                )
            )

        return receiver

    listeners = [
        (post_save, heard("post_save")),
        (ledger_written, heard("ledger_written")),
        (order_status_changed, heard("order_status_changed")),
    ]
    for signal, receiver in listeners:
        signal.connect(receiver, weak=False, dispatch_uid=f"gate-{id(receiver)}")
    before = _metric_values()
    try:
        with (
            patch.object(Task, "apply_async", publish),
            patch.object(core_cache, "_bump_keys", bump),
            patch.object(writes, "run", counted_run),
        ):
            statuses = deliver()
    finally:
        for signal, receiver in listeners:
            signal.disconnect(dispatch_uid=f"gate-{id(receiver)}")
    after = _metric_values()
    _number_places(run)
    emails = sorted(
        repr(_norm([m.subject, m.to, m.body, [a[0] for a in getattr(m, "alternatives", [])]])) for m in mail.outbox
    )
    heard_signals = [(*signal[:5], _norm(signal[5])) for signal in signals]
    return Run(
        rows=_rows(run),
        statuses=statuses,
        emails=emails,
        tasks=sorted(repr((name, _norm(args), _norm(kwargs))) for name, args, kwargs in tasks),
        bumps=sorted(repr(sorted(_norm(keys))) for keys in bumps),
        metrics={key: value - before.get(key, 0) for key, value in after.items() if value != before.get(key, 0)},
        captured_in_one_statement=sum(used),
        signals=sorted(map(repr, heard_signals)) if len(statuses) > 1 else list(map(repr, heard_signals)),
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", list(CASES))
def test_the_one_statement_capture_ends_each_delivery_as_the_orm_path(case, fake_stripe, staff_user, settings):
    _need_postgres()
    orm = _deliver(case, 1, False, fake_stripe, settings)
    fast = _deliver(case, 2, True, fake_stripe, settings)

    assert orm.captured_in_one_statement == 0
    assert fast.captured_in_one_statement == (1 if CASES[case][1] else 0), "the case did not take the path it tests"
    for table in orm.rows:
        assert fast.rows[table] == orm.rows[table], table
    assert fast.statuses == orm.statuses
    assert fast.emails == orm.emails
    assert fast.tasks == orm.tasks
    assert fast.metrics == orm.metrics
    if case == "notification insert fails":
        # The ORM path's writes before the failing one sent their signals and bumped versions that wait
        # for the commit; the handler's savepoint rolls those writes back, their on_commit work with them,
        # and the waiting bumps go out anyway (core.cache.deferred_bumps: needless). The one statement
        # fails before it sends anything. Apart from those, both send and bump the same.
        # The fast delivery runs without a savepoint: the failure rolls it back whole, its receipt with it,
        # and it is replayed in a savepoint (payments.webhooks._Replay), which stores the receipt again:
        # one post_save more, for a row that ends exactly as the ORM path's.
        rolled_back = ("'payments.Payment'", "'payments.LedgerEntry'", "'audit.AuditLog'", "'orders.Order")
        receipt = "('post_save', 'payments.WebhookEvent', True, None, None, None)"
        assert fast.signals[0] == receipt, "the fast delivery was not rolled back and replayed"
        assert fast.signals[1:] == [s for s in orm.signals if not any(model in s for model in rolled_back)]
        assert set(fast.bumps) <= set(orm.bumps)
    else:
        assert fast.signals == orm.signals
        assert fast.bumps == orm.bumps


# --- the receivers the one statement must stand in for --------------------------------------------

# What receives the signals of the rows the one statement writes. The one statement sends post_save for
# the payment, the order, its timeline row and the audit row (core.writes.saved: the instance and
# update_fields the ORM's save would send), ledger_written for the charge and order_status_changed for
# the move, and it calls notify_many's own after-insert step; it sends no pre_save.
KNOWN_RECEIVERS = {
    (post_save, Payment): {"core.pages._saved"},
    (post_save, Order): {"core.pages._saved", "orders.listing.order_changed", "adminpanel.signals._changed"},
    (post_save, OrderEvent): {"core.pages._saved"},
    (post_save, AuditLog): {"ops.receivers.on_audit_row"},
    (post_save, LedgerEntry): {"core.pages._saved", "adminpanel.signals._changed"},
    (post_save, Notification): {"core.pages._saved"},
    (post_save, WebhookEvent): {"ops.receivers.on_webhook_saved"},  # the receipt's INSERT and final UPDATE
    (ledger_written, LedgerEntry): {"adminpanel.signals._changed", "payments.pages._ledger_written"},
    (order_status_changed, Order): {
        "ops.receivers.on_order_status_changed",
        "payments.services.fulfilment.on_order_status_changed",
    },
}


def _receivers(signal, sender) -> set[str]:
    sync, async_ = signal._live_receivers(sender)
    return {f"{r.__module__}.{r.__qualname__}" for r in [*sync, *async_]}


def test_every_receiver_of_what_the_one_statement_writes_is_known():
    for (signal, sender), known in KNOWN_RECEIVERS.items():
        found = _receivers(signal, sender)
        assert found == known, (
            f"The receivers of {sender.__name__}'s {'post_save' if signal is post_save else signal} changed "
            f"({sorted(found ^ known)}). payments.services.fulfilment._capture_in_one_statement writes these "
            "rows in one statement and must give a new receiver its effect too: check it sends what the "
            "receiver reads, extend the equivalence cases above to show it, then list the receiver here."
        )
    for model in (Payment, Order, OrderEvent, AuditLog, LedgerEntry, Notification):
        assert not _receivers(pre_save, model), (
            f"{model.__name__} has a pre_save receiver: the one-statement capture sends no pre_save; "
            "it must handle it (payments.services.fulfilment._capture_in_one_statement)."
        )
