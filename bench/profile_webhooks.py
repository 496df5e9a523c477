"""Profile webhook fulfilment in one process, on the marketplace bench's database and settings.

    BENCH_DATABASE_URL=postgres://…/bench_perf .venv/bin/python bench/profile_webhooks.py

Posts PROFILE_EVENTS (200) signed `checkout.session.completed` events, each for its own unpaid
order, through the WSGI entry point gunicorn serves (elite.wsgi.application, so elite/handlers.py's
webhook middleware chain; no network, one process), under cProfile. Prints the statements, Redis round trips and Celery publishes of one
delivery, the events/s and CPU ms per event of an unprofiled run, the function calls per event and
events/s of the profiled run, and the top functions by cumulative and own time. PROFILE_CPU=1 profiles CPU
time instead of wall time; PROFILE_OUT=<file> keeps the stats. Run bench/marketplace.py once first: it creates and seeds the database.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest.mock import patch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.marketplace import SERVER_ENV  # noqa: E402

EVENTS = int(os.environ.get("PROFILE_EVENTS", "200"))
TOP = int(os.environ.get("PROFILE_TOP", "40"))
HOOK = "/payments/webhooks/stripe/"


@contextmanager
def _counting_round_trips() -> Iterator[dict[str, list[str]]]:
    """Count Redis round trips (a command, or a whole pipeline) and Celery publishes while inside."""
    from celery.app.task import Task
    from redis.client import Pipeline, Redis

    seen: dict[str, list[str]] = {"redis": [], "celery": []}
    command, pipeline, apply_async = Redis.execute_command, Pipeline.execute, Task.apply_async

    def counted_command(self, *args, **options):
        if not isinstance(self, Pipeline):  # a pipeline's commands are queued, sent by execute()
            seen["redis"].append(str(args[0]))
        return command(self, *args, **options)

    def counted_pipeline(self, *args, **options):
        seen["redis"].append("pipeline(" + "+".join(str(c[0][0]) for c in self.command_stack) + ")")
        return pipeline(self, *args, **options)

    def counted_publish(self, *args, **options):
        seen["celery"].append(self.name)
        return apply_async(self, *args, **options)

    with (
        patch.object(Redis, "execute_command", counted_command),
        patch.object(Pipeline, "execute", counted_pipeline),
        patch.object(Task, "apply_async", counted_publish),
    ):
        yield seen


def main() -> None:
    os.environ.update({**SERVER_ENV, "ALLOWED_HOSTS": "testserver"})
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.webhooks import make_payments, session_event, sign
    from elite.tests.wsgi_client import WsgiClient

    payments = make_payments(2 * EVENTS + 2)
    client = WsgiClient()  # the real entry point; Django's test Client would build its own full chain

    def post(payment) -> None:
        body = session_event(payment)
        response = client.post(
            HOOK, data=body, content_type="application/json", headers={"Stripe-Signature": sign(body)}
        )
        if response.status_code != 200:
            raise SystemExit(f"{response.status_code}: {response.content[:300]!r}")

    post(payments[0])  # imports, URL resolution, the connection
    with CaptureQueriesContext(connection) as captured, _counting_round_trips() as trips:
        post(payments[1])
    print(f"statements for one delivery: {len(captured.captured_queries)}")
    for number, query in enumerate(captured.captured_queries, 1):
        print(f"  {number:2d}. [{query['time']}s] {query['sql'][:150]}")
    print(f"Redis round trips for one delivery: {len(trips['redis'])}: {', '.join(trips['redis'])}")
    print(f"Celery publishes for one delivery: {len(trips['celery'])}: {', '.join(trips['celery'])}")

    from bench.profile_pages import backend_cpu_seconds

    plain, profiled = payments[2 : EVENTS + 2], payments[EVENTS + 2 :]
    backend_started = backend_cpu_seconds(connection)
    started, cpu = time.perf_counter(), time.process_time()
    for payment in plain:
        post(payment)
    rate = len(plain) / (time.perf_counter() - started)
    cpu_ms = (time.process_time() - cpu) * 1000 / len(plain)
    backend_ended = backend_cpu_seconds(connection)
    backend = (
        f", PostgreSQL backend {(backend_ended - backend_started) * 1000 / len(plain):.2f} ms CPU per event"
        if backend_started is not None and backend_ended is not None
        else ""
    )

    # PROFILE_CPU=1 times functions by this process's CPU (time.process_time): round-trip waits
    # then count only for the CPU they use, so the Python work per event stands out.
    profiler = cProfile.Profile(time.process_time) if os.environ.get("PROFILE_CPU") else cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for payment in profiled:
        post(payment)
    profiler.disable()
    profiled_rate = len(profiled) / (time.perf_counter() - started)
    calls = pstats.Stats(profiler).total_calls  # type: ignore[attr-defined]
    print(
        f"\n{rate:.0f} events/s unprofiled ({cpu_ms:.1f} ms CPU of this process per event{backend}), {profiled_rate:.0f} events/s profiled (one process, no network)"
    )
    print(f"function calls per event (profiled): {calls / len(profiled):,.0f}")
    print(f"load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    if os.environ.get("PROFILE_OUT"):
        profiler.dump_stats(os.environ["PROFILE_OUT"])  # for pstats / snakeviz
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(TOP)
        print(out.getvalue())


if __name__ == "__main__":
    main()
