"""Webhook benchmark: signed provider events processed per second on PostgreSQL, through the real view.

    .venv/bin/python bench/webhooks.py            (BENCH_EVENTS=300 by default)

Runs in one process with Django's test Client (the full middleware stack and URL routing, no
network), on production settings (DEBUG off) against its own PostgreSQL database
(BENCH_WEBHOOKS_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/ews_bench_webhooks),
created and migrated if missing. Each scenario posts BENCH_EVENTS events and reports events/s:

- baseline: an unsigned no-op POST view (the request path alone);
- forged: a Stripe-signed body with a wrong signature (refused with 400 before any database work);
- unknown type: a correctly signed event of a type we do not handle (verified, stored, ignored);
- fulfil: checkout.session.completed for a different unpaid order each time (verify, store,
  lock, capture, ledger row, order → in progress, timeline, audit, notifications);
- replay: the same fulfilment events delivered again (verify, found processed, acknowledged);
- fulfil ×4 threads: fulfilment with four concurrent senders (row locks under contention).

Emails the fulfilment triggers are queued (Celery, in-memory broker), not sent in the request,
as in production. PostgreSQL commits with fsync on; on a shared 2-core machine each commit costs
a few milliseconds, and a webhook commits twice (receipt, then processing), by design.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import cast
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get("BENCH_WEBHOOKS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ews_bench_webhooks")
EVENTS = int(os.environ.get("BENCH_EVENTS", "300"))
THREADS = 4
SECRET = "whsec_bench_" + "s" * 24

os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "elite.settings",
        "DATABASE_URL": DATABASE_URL,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-" + "k" * 60,
        "ALLOWED_HOSTS": "testserver,127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_MANIFEST": "false",
        "CLAMD_URL": "tcp://127.0.0.1:3310",  # required with DEBUG off; nothing here scans files
        "EMAIL_URL": "dummymail://",
        "REDIS_URL": "",
        # As in production, emails and notifications are queued for Celery workers rather than
        # sent inside the request (here to an in-memory broker nobody consumes).
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "LOG_LEVEL": "ERROR",
        "STRIPE_SECRET_KEY": "sk_test_bench_never_called",
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "CONN_MAX_AGE": "60",
    }
)


def ensure_database() -> None:
    import psycopg

    url = urlparse(DATABASE_URL)
    name = url.path.lstrip("/")
    admin = f"host={url.hostname} port={url.port or 5432} user={url.username or 'postgres'} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django():
    ensure_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ROOT_URLCONF = "bench.webhook_urls"
    call_command("migrate", verbosity=0, interactive=False)


def make_payments(n: int):
    """n unpaid orders (one coach, one client), each with a Stripe payment whose session is 'paid'."""
    from accounts.models import User
    from accounts.tests.factories import ClientFactory
    from coaches.tests.factories import CoachProfileFactory
    from orders.tests.factories import make_order
    from payments import services

    run = uuid.uuid4().hex[:8]  # the database persists between runs; factory sequences do not
    coach = CoachProfileFactory(user__email=f"bench-coach-{run}@example.com").user
    client = cast(User, ClientFactory(email=f"bench-client-{run}@example.com"))  # factory_boy returns the model
    payments = []
    for _ in range(n):
        order = make_order(client=client, coach=coach)
        payment = services.begin_payment(order.pk, actor=client, provider="stripe")
        payment.provider_payment_id = f"cs_bench_{uuid.uuid4().hex}"
        payment.save(update_fields=["provider_payment_id"])
        payments.append(payment)
    return payments


def session_event(payment) -> bytes:
    return json.dumps(
        {
            "id": f"evt_bench_{uuid.uuid4().hex}",
            "object": "event",
            "type": "checkout.session.completed",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": payment.provider_payment_id,
                    "object": "checkout.session",
                    "status": "complete",
                    "payment_status": "paid",
                    "amount_total": payment.amount_minor,
                    "currency": payment.currency.lower(),
                    "payment_intent": f"pi_bench_{payment.pk}",
                    "metadata": {"payment_id": str(payment.pk), "order_id": str(payment.order_id)},
                }
            },
        }
    ).encode()


def sign(body: bytes, secret: str = SECRET) -> str:
    import hashlib
    import hmac

    t = int(time.time())
    return f"t={t},v1={hmac.new(secret.encode(), f'{t}.'.encode() + body, hashlib.sha256).hexdigest()}"


def post(client, path, body, signature=None, expect=200):
    headers = {"Stripe-Signature": signature} if signature else {}
    response = client.post(path, data=body, content_type="application/json", headers=headers)
    if response.status_code != expect:
        raise SystemExit(f"{path}: expected {expect}, got {response.status_code}: {response.content[:200]!r}")


def timed(name, bodies, send, threads=1):
    chunks = [bodies[i::threads] for i in range(threads)]
    start = time.perf_counter()
    if threads == 1:
        send(chunks[0])
    else:
        from django.db import connections

        def run(chunk):
            try:
                send(chunk)
            finally:
                connections.close_all()

        workers = [threading.Thread(target=run, args=(c,)) for c in chunks]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    seconds = time.perf_counter() - start
    return name, len(bodies), seconds


def main():
    setup_django()
    logging.disable(logging.WARNING)  # the forged-signature run would log one line per request
    from django.test import Client

    from payments.ledger import reconcile
    from payments.models import LedgerEntry, WebhookEvent

    WebhookEvent.objects.filter(event_id__startswith="evt_bench_").delete()
    print(f"Preparing {EVENTS * 2} unpaid orders with Stripe payments on {urlparse(DATABASE_URL).path[1:]}...")
    payments = make_payments(EVENTS * 2)
    serial, threaded = payments[:EVENTS], payments[EVENTS:]
    client = Client()
    hook = "/payments/webhooks/stripe/"
    # Warm up imports, URL resolution and the connection.
    post(client, "/bench/noop/", b"{}")

    rows = []
    noop_bodies = [session_event(p) for p in serial]
    rows.append(
        timed("baseline: unsigned no-op POST view", noop_bodies, lambda c: [post(client, "/bench/noop/", b) for b in c])
    )
    rows.append(
        timed(
            "forged signature (400)",
            noop_bodies,
            lambda c: [post(client, hook, b, sign(b, "whsec_wrong"), expect=400) for b in c],
        )
    )
    unknown = [
        json.dumps({"id": f"evt_bench_{uuid.uuid4().hex}", "type": "customer.created", "data": {"object": {}}}).encode()
        for _ in range(EVENTS)
    ]
    rows.append(
        timed("signed, unknown type (stored, ignored)", unknown, lambda c: [post(client, hook, b, sign(b)) for b in c])
    )
    fulfil = [session_event(p) for p in serial]
    rows.append(
        timed(
            "signed checkout.session.completed (fulfil)", fulfil, lambda c: [post(client, hook, b, sign(b)) for b in c]
        )
    )
    rows.append(
        timed(
            "same events replayed (acknowledged, no-op)", fulfil, lambda c: [post(client, hook, b, sign(b)) for b in c]
        )
    )
    threaded_bodies = [session_event(p) for p in threaded]
    rows.append(
        timed(
            f"fulfil, {THREADS} threads",
            threaded_bodies,
            lambda c: [post(Client(), hook, b, sign(b)) for b in c],
            threads=THREADS,
        )
    )

    charges = LedgerEntry.objects.filter(payment__in=payments, entry_type="charge").count()
    problems = reconcile()
    base = rows[0][1] / rows[0][2]
    width = max(len(r[0]) for r in rows)
    print()
    print(f"{'scenario'.ljust(width)} | events | seconds | events/s | vs baseline")
    print(f"{'-' * width}-|--------|---------|----------|------------")
    for name, n, seconds in rows:
        rate = n / seconds
        print(f"{name.ljust(width)} | {n:6d} | {seconds:7.2f} | {rate:8.1f} | {rate / base:10.2f}x")
    print()
    print(f"charge rows written: {charges} of {len(payments)} payments (each exactly once: {charges == len(payments)})")
    print(f"reconcile_ledger: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    if charges != len(payments) or problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
