"""Profile the marketplace bench's pages in one process, on its database and settings.

    BENCH_DATABASE_URL=postgres://…/bench_perf .venv/bin/python bench/profile_pages.py dashboard order

Each argument picks the pages whose label holds that word (as BENCH_ONLY does). The two pages
whose wrk script asks a new URL per request (never-seen directory filters, a random coach) get a
Python twin of that script: every request a URL not asked before in this run, after a bump of the
directory version, so each one is a cache miss. Per page: the statements of one warm request, ms per request (and this process's CPU ms, which
the load of other processes changes less) over PROFILE_REQUESTS (200) unprofiled requests
through the real middleware, view and templates (Django's test Client: no network), and
cProfile's top functions over as many profiled ones. Run bench/marketplace.py once first: it
creates and seeds the database.

PROFILE_COLD measures the signed-in pages on a miss, which wrk's rows (all hits: nothing writes while
they run) do not show; the invalidation runs outside the timed and profiled part of each request:
  PROFILE_COLD=page  the user's pages are stale before every request (core.pages.users_changed: what
                     a write to anything the page shows does); the caches below the page stay warm
  PROFILE_COLD=all   this prefix's whole cache is emptied before every request (a first visit after a
                     deploy or an eviction; the session is re-read from the database)
  PROFILE_COLD=user  every request is another user of the page's kind (the seeded users of its role with
                     the most orders, as bench/marketplace.py's cold rows: PROFILE_COLD_USERS, 3000), none
                     asked twice in the run, each made stale first (users_changed): the page and what it
                     reads below it (bell count, verified email, threads, notifications, order-row fragments)
                     are cold, the process's memories (templates, compiled statements, static URLs) warm from
                     the warm-up, and the session cached (made as login() makes it, deleted at the end). Its
                     cache namespace is new per run unless PROFILE_CACHE_PREFIX names one, so no user was
                     served in it before. A page on the user's own object (the order page) asks each user's
                     newest order.

Each page's figures end with where its profiled time went ("inclusive"): templates rendering (with what
they query), SQL (the driver and PostgreSQL, from the cursor), the ORM's compiling, Redis round trips,
and core.pages' CSRF slot scan; cProfile's overhead inflates them alike, so read them as shares.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.marketplace import SERVER_ENV  # noqa: E402

REQUESTS = int(os.environ.get("PROFILE_REQUESTS", "200"))
TOP = int(os.environ.get("PROFILE_TOP", "30"))
QUIET = os.environ.get("PROFILE_QUIET") == "1"  # figures, statements and call counts; no function tables
COLD = os.environ.get("PROFILE_COLD", "")
COLD_USERS = int(os.environ.get("PROFILE_COLD_USERS", "3000"))
# PROFILE_CACHE_PREFIX=…: a cache namespace of its own, when other processes write to the bench database


def varied_paths(page):
    """Fresh URLs like the page's wrk script asks (bench.marketplace VARIED_FILTERS, VARIED_COACHES)."""
    rng = random.Random(os.getpid())
    if "never-seen" in page.label:
        prices = iter(rng.sample(range(4000, 40001), 36001))
        return lambda: f"/coaches/?service=cv&language=en&sort=price&max_price={next(prices) / 100}"
    if "random coach" in page.label:
        found = re.search(r"ids = \{([^}]*)\}", page.lua_request or "")
        if found is None:
            return None
        ids = iter(rng.sample(found.group(1).split(", "), len(found.group(1).split(", "))))
        return lambda: f"/coaches/{next(ids)}/"
    return None


def count_redis_round_trips() -> list[int]:
    """Count what reaches Redis: each command outside a pipeline, and each pipeline, is one round trip."""
    import redis.client

    counter = [0]
    command, pipeline = redis.client.Redis.execute_command, redis.client.Pipeline.execute

    def counted_command(self, *args, **kwargs):
        counter[0] += 1
        return command(self, *args, **kwargs)

    def counted_pipeline(self, *args, **kwargs):
        counter[0] += 1
        return pipeline(self, *args, **kwargs)

    redis.client.Redis.execute_command = counted_command  # type: ignore[method-assign]
    redis.client.Pipeline.execute = counted_pipeline  # type: ignore[method-assign]
    return counter


def backend_cpu_seconds(connection) -> float | None:
    """CPU seconds this connection's PostgreSQL backend has used (it runs on this machine: /proc), or None."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


spent = [0.0, 0.0]  # wall and CPU seconds of the invalidations, not counted as the page's
made_sessions: list[str] = []  # PROFILE_COLD=user's sessions, deleted at the end


def user_pool(client, page, wanted: int):
    """PROFILE_COLD=user: `wanted` (path, session key, user id) of users like the page's, never the same twice,
    from a place in the pool that differs per run."""
    from django.contrib.auth import get_user
    from django.db.models import Max

    from bench.marketplace import most_orders, pool_sessions
    from orders.models import Order

    request = type("Request", (), {"session": client.session})()
    role = get_user(request).role  # type: ignore[union-attr]  # the page's signed-in user
    pool = most_orders(role, COLD_USERS)
    if wanted > len(pool):
        raise SystemExit(f"PROFILE_COLD=user: {wanted} requests, {len(pool)} {role}s in the pool")
    start = random.Random(os.getpid()).randrange(len(pool))
    users = [pool[(start + n) % len(pool)] for n in range(wanted)]
    if page.path in ("/dashboard/", "/notifications/", "/payments/receipts/"):  # the user's own page
        paths = [page.path] * wanted
    elif page.path.startswith("/orders/"):
        field = "client_id" if role == "client" else "coach_id"
        newest = dict(
            Order.objects.filter(**{f"{field}__in": users})
            .values(field)
            .annotate(last=Max("id"))
            .values_list(field, "last")
        )
        paths = [f"/orders/{newest[user.pk]}/" for user in users]
    else:
        raise SystemExit(f"PROFILE_COLD=user: no pool for {page.label}")
    keys = pool_sessions(users)
    made_sessions.extend(keys)
    return iter(list(zip(paths, keys, [user.pk for user in users], strict=True)))


def cold_maker(client, page):
    """What makes the next request of this signed-in client a miss (PROFILE_COLD): called before it, it
    returns the path to ask instead of the page's, or None."""
    from django.conf import settings
    from django.contrib.auth import get_user

    from conftest import clear_cache
    from core.pages import users_changed

    if COLD == "page":
        request = type("Request", (), {"session": client.session})()
        user_id = get_user(request).pk
        return lambda: users_changed(user_id)
    if COLD == "all":
        if not settings.REDIS_URL:
            raise SystemExit("PROFILE_COLD=all needs the Redis cache")
        return clear_cache
    if COLD == "user":
        pool = user_pool(client, page, 2 * REQUESTS + 4)

        def next_user() -> str:
            path, session_key, user_id = next(pool)
            client.cookies["sessionid"] = session_key
            users_changed(user_id)
            return path

        return next_user
    raise SystemExit(f"PROFILE_COLD={COLD!r}: page, all or user")


def inclusive_ms(stats: dict, requests: int) -> str:
    """Where the profiled time went, per request: the cumulative time of a few functions (recursion counted once)."""
    import django.db.backends.utils as db_utils
    import django.db.models.sql.compiler as compiler
    import django.template.base as template_base
    import redis.client

    from core import pages

    def code(function) -> tuple:
        function = getattr(function, "__wrapped__", function)
        return (function.__code__.co_filename, function.__code__.co_firstlineno, function.__code__.co_name)

    parts: dict[str, list] = {
        "templates": [template_base.Template.render],
        "SQL": [db_utils.CursorWrapper.execute, db_utils.CursorWrapper.executemany],
        "ORM compiling": [compiler.SQLCompiler.as_sql],
        "Redis": [redis.client.Redis.execute_command, redis.client.Pipeline.execute],
        "CSRF slot scan": [pages._with_slots],
    }
    shown = []
    for name, functions in parts.items():
        seconds = sum(stats.get(code(f), (0, 0, 0, 0))[3] for f in functions)
        shown.append(f"{name} {seconds * 1000 / requests:.2f}")
    return "inclusive ms (profiled): " + ", ".join(shown)


def main(words: list[str]) -> None:
    os.environ.update({**SERVER_ENV, "ALLOWED_HOSTS": "testserver"})
    if os.environ.get("PROFILE_CACHE_PREFIX"):  # a namespace of its own: others' bench writes bump no version here
        os.environ["CACHE_KEY_PREFIX"] = os.environ["PROFILE_CACHE_PREFIX"]
    elif COLD == "user":  # no user of the pool served in this namespace before
        os.environ["CACHE_KEY_PREFIX"] = f"profile-user-{os.getpid()}-{time.time_ns()}"
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.marketplace import BASELINE, targets

    pages = [
        BASELINE,
        *(p for p in targets() if (not p.lua_request or varied_paths(p)) and any(w in p.label for w in words)),
    ]
    round_trips = count_redis_round_trips()
    print(f"load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    for page in pages:
        client = Client()
        if page.cookie:
            name, value = page.cookie.split("=", 1)
            client.cookies[name] = value

        paths = varied_paths(page) if page.lua_request else None
        if paths is not None:
            from coaches.directory import directory_changed

            directory_changed()  # nothing cached before this run is believed: every URL is a miss

        chill = cold_maker(client, page) if COLD and page.cookie else None

        def get(page=page, client=client, paths=paths, chill=chill, profiler=None) -> None:
            path = paths() if paths is not None else page.path
            if chill is not None:
                if profiler is not None:
                    profiler.disable()
                paused, trips = (time.perf_counter(), time.process_time()), round_trips[0]
                path = chill() or path
                spent[0] += time.perf_counter() - paused[0]
                spent[1] += time.process_time() - paused[1]
                round_trips[0] = trips  # the invalidation's round trips are not the page's
                if profiler is not None:
                    profiler.enable()
            response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"{path}: {response.status_code}")

        for _ in range(3):
            get()  # templates, caches, the connection
        trips_before = round_trips[0]
        with CaptureQueriesContext(connection) as captured:
            get()
        trips = round_trips[0] - trips_before
        statements = list(captured.captured_queries)  # the next request clears the log
        spent[:] = [0.0, 0.0]  # the invalidation's own time, taken out of the figures
        backend_started = backend_cpu_seconds(connection)
        started, cpu_started = time.perf_counter(), time.process_time()
        for _ in range(REQUESTS):
            get()
        ms = (time.perf_counter() - started - spent[0]) * 1000 / REQUESTS
        # this process only: not PostgreSQL's or Redis's
        cpu_ms = (time.process_time() - cpu_started - spent[1]) * 1000 / REQUESTS
        backend_ended = backend_cpu_seconds(connection)
        backend = (
            f", PostgreSQL {(backend_ended - backend_started) * 1000 / REQUESTS:.2f} ms CPU"
            if backend_started is not None and backend_ended is not None
            else ""
        )
        print(
            f"\n=== {page.label}{' (cold: ' + COLD + ')' if chill else ''}: {ms:.2f} ms/request ({cpu_ms:.2f} ms CPU{backend}), "
            f"{len(statements)} statements, {trips} Redis round trips"
        )
        for number, query in enumerate(statements, 1):
            print(f"  {number:2d}. [{query['time']}s] {query['sql'][:160]}")
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(REQUESTS):
            get(profiler=profiler)
        profiler.disable()
        calls = pstats.Stats(profiler).total_calls  # type: ignore[attr-defined]
        print(f"cProfile: {calls / REQUESTS:,.0f} function calls per request")
        print(inclusive_ms(pstats.Stats(profiler).stats, REQUESTS))  # type: ignore[attr-defined]
        if QUIET:
            continue
        for order in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(TOP)
            print(out.getvalue())


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    finally:
        if made_sessions:
            from bench.marketplace import forget_sessions

            forget_sessions(made_sessions)
