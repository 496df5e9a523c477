"""Profile webhook fulfilment in one process, on the marketplace bench's database and settings.

    BENCH_DATABASE_URL=postgres://…/bench_perf .venv/bin/python bench/profile_webhooks.py

Posts PROFILE_EVENTS (200) signed `checkout.session.completed` events, each for its own unpaid
order, through the real URL, middleware and view (Django's test Client: no network, one
process), under cProfile. Prints the statements of one delivery, the events/s of the profiled
run and of an unprofiled one, and the top functions by cumulative and own time. Run
bench/marketplace.py once first: it creates and seeds the database.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.marketplace import SERVER_ENV  # noqa: E402

EVENTS = int(os.environ.get("PROFILE_EVENTS", "200"))
TOP = int(os.environ.get("PROFILE_TOP", "40"))
HOOK = "/payments/webhooks/stripe/"


def main() -> None:
    os.environ.update({**SERVER_ENV, "ALLOWED_HOSTS": "testserver"})
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.webhooks import make_payments, session_event, sign

    payments = make_payments(2 * EVENTS + 2)
    client = Client()

    def post(payment) -> None:
        body = session_event(payment)
        response = client.post(
            HOOK, data=body, content_type="application/json", headers={"Stripe-Signature": sign(body)}
        )
        if response.status_code != 200:
            raise SystemExit(f"{response.status_code}: {response.content[:300]!r}")

    post(payments[0])  # imports, URL resolution, the connection
    with CaptureQueriesContext(connection) as captured:
        post(payments[1])
    print(f"statements for one delivery: {len(captured.captured_queries)}")
    for number, query in enumerate(captured.captured_queries, 1):
        print(f"  {number:2d}. [{query['time']}s] {query['sql'][:150]}")

    plain, profiled = payments[2 : EVENTS + 2], payments[EVENTS + 2 :]
    started = time.perf_counter()
    for payment in plain:
        post(payment)
    rate = len(plain) / (time.perf_counter() - started)

    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for payment in profiled:
        post(payment)
    profiler.disable()
    profiled_rate = len(profiled) / (time.perf_counter() - started)
    print(f"\n{rate:.0f} events/s unprofiled, {profiled_rate:.0f} events/s profiled (one process, no network)")
    print(f"load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    if os.environ.get("PROFILE_OUT"):
        profiler.dump_stats(os.environ["PROFILE_OUT"])  # for pstats / snakeviz
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(TOP)
        print(out.getvalue())


if __name__ == "__main__":
    main()
