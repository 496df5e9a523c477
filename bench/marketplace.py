"""Marketplace benchmark: one command, `.venv/bin/python bench/marketplace.py` (or `make bench`).

1. Creates the benchmark's own PostgreSQL database if missing (BENCH_DATABASE_URL, default
   postgres://postgres@127.0.0.1:5432/ews_bench), migrates it, and seeds it once with bulk_create:
   10,000 coaches (services, languages, ratings), 5,000 clients, 100,000 requests and orders
   (every status) with their reviews, and the baseline's 10,000-row indexed table.
2. Starts gunicorn with 2 sync workers, as in the Procfile, on production settings (DEBUG off)
   via bench.settings, which only adds the baseline view.
3. Runs Debian's `wrk` (16 connections, short runs) against the directory without and with
   filters, a coach page, a coach's dashboard (logged-in session cookie) and the baseline, and
   prints requests/s, p50/p99 latency and the throughput ratio to the baseline.

Target (issue 3): directory ≥ 0.5 × baseline throughput, p99 < 150 ms at 16 concurrent clients.
Environment: BENCH_DATABASE_URL, BENCH_PORT (8765), BENCH_DURATION (10 s per run),
BENCH_CONNECTIONS (16), BENCH_THREADS (2), REDIS_URL (cache; default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ews_bench")
PORT = int(os.environ.get("BENCH_PORT", "8765"))
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
N_COACHES, N_CLIENTS, N_ORDERS, N_BASELINE = 10_000, 5_000, 100_000, 10_000
TARGET_RATIO, TARGET_P99_MS = 0.5, 150.0

SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "DATABASE_URL": DATABASE_URL,
    "DEBUG": "false",
    "SECRET_KEY": "bench-only-" + "k" * 60,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "false",
    "STATIC_MANIFEST": "false",
    "CLAMD_URL": "tcp://127.0.0.1:3310",  # required with DEBUG off; no page here scans files
    "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    "CACHE_KEY_PREFIX": "bench",
    "LOG_LEVEL": "WARNING",
    "CONN_MAX_AGE": "60",
}


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# --- database ------------------------------------------------------------------------------


def ensure_database() -> None:
    import psycopg

    url = urlparse(DATABASE_URL)
    if url.scheme not in ("postgres", "postgresql"):
        sys.exit("BENCH_DATABASE_URL must be a PostgreSQL URL: the target is measured on PostgreSQL.")
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            log(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    os.environ.update(SERVER_ENV)
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    log("migrating")
    call_command("migrate", verbosity=0, interactive=False)


FIRST = ["Olivia", "James", "Priya", "Mateo", "Aisha", "William", "Chen", "Fatima", "Liam", "Elena", "Noah", "Zara"]
LAST = ["Bennett", "Carter", "Sharma", "García", "Bello", "Hughes", "Wei", "Khan", "Novak", "Petrova", "Fischer"]
FIELDS = ["tech", "finance", "healthcare", "marketing", "graduate", "executive", "law", "engineering", "education"]
PRICES = {"cv": (60, 260), "cover_letter": (30, 120), "linkedin": (50, 200), "bundle": (150, 480)}
STATUSES = ["completed"] * 50 + ["in_progress"] * 15 + ["delivered"] * 10 + ["pending"] * 10 + ["cancelled"] * 10
STATUSES += ["disputed"] * 5


def seed() -> None:
    """Bulk-insert the benchmark data once; a second run finds it and skips."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import User
    from coaches.models import CoachProfile, CoachService, Language
    from coaches.services import refresh_all_listings
    from orders.models import Order, Review
    from requests_app.models import ServiceRequest

    create_baseline_table()
    if CoachProfile.objects.count() >= N_COACHES and Order.objects.count() >= N_ORDERS:
        log("data already seeded")
        return
    if CoachProfile.objects.exists() or Order.objects.exists():
        sys.exit("The benchmark database holds partial data; drop it (DROP DATABASE ews_bench) and run again.")

    rng = random.Random(42)
    started = time.monotonic()
    password = make_password("bench-password-1234")
    now = timezone.now()
    batch = 5000
    with transaction.atomic():
        log("seeding users")
        User.objects.bulk_create(
            [
                User(
                    email=f"coach{i}@bench.example",
                    role="coach",
                    first_name=rng.choice(FIRST),
                    last_name=f"{rng.choice(LAST)}{i}",
                    password=password,
                )
                for i in range(N_COACHES)
            ]
            + [
                User(
                    email=f"client{i}@bench.example",
                    role="client",
                    first_name="Client",
                    last_name=str(i),
                    password=password,
                )
                for i in range(N_CLIENTS)
            ],
            batch_size=batch,
        )
        coach_users = list(
            User.objects.filter(role="coach").order_by("id").values_list("id", "first_name", "last_name")
        )
        client_ids = list(User.objects.filter(role="client").order_by("id").values_list("id", flat=True))

        log("seeding coach profiles, services and languages")
        profiles = []
        for user_id, first_name, last_name in coach_users:
            headline = f"{rng.randint(2, 25)} years in {rng.choice(FIELDS)}: CVs that get interviews"
            bio = "Former recruiter. I rewrite CVs around achievements, with numbers and plain language. " * 3
            profiles.append(
                CoachProfile(
                    user_id=user_id,
                    headline=headline,
                    bio=bio,
                    # save() derives this; bulk_create does not call save()
                    search_text=CoachProfile.build_search_text(first_name, last_name, headline, bio),
                    years_experience=rng.randint(1, 30),
                    is_available=rng.random() < 0.9,
                    is_verified=rng.random() < 0.4,
                    response_time_hours=round(rng.uniform(0.5, 72), 2) if rng.random() < 0.85 else None,
                    portfolio_links=[],
                )
            )
        CoachProfile.objects.bulk_create(profiles, batch_size=batch)
        profiles = list(CoachProfile.objects.order_by("id").values_list("id", "user_id"))
        services = []
        for profile_id, _user_id in profiles:
            types = ["cv", *rng.sample(["cover_letter", "linkedin", "bundle"], k=rng.randint(0, 3))]
            currency = "GBP" if rng.random() < 0.85 else rng.choice(["EUR", "USD"])
            for service_type in types:
                low, high = PRICES[service_type]
                services.append(
                    CoachService(
                        coach_id=profile_id,
                        service_type=service_type,
                        price_minor=rng.randrange(low, high) * 100,
                        currency=currency,
                        delivery_days=rng.choice([2, 3, 5, 7, 10]),
                        revisions_included=rng.choice([1, 2, 3]),
                        is_active=rng.random() < 0.97,
                    )
                )
        CoachService.objects.bulk_create(services, batch_size=batch)
        language_ids = dict(Language.objects.values_list("code", "id"))
        through = CoachProfile.languages.through
        extra = ["fr", "de", "es", "it", "pt", "pl", "ar", "hi", "zh", "nl"]
        through.objects.bulk_create(
            [
                through(coachprofile_id=profile_id, language_id=language_ids[code])
                for profile_id, _ in profiles
                for code in ["en", *rng.sample(extra, k=rng.randint(0, 2))]
            ],
            batch_size=batch,
        )

        log(f"seeding {N_ORDERS:,} requests and orders")
        service_of = {}
        for service in services:
            service_of.setdefault(service.coach_id, []).append(service)
        plan = []
        for _ in range(N_ORDERS):
            profile_id, coach_user_id = profiles[rng.randrange(len(profiles))]
            service = rng.choice(service_of[profile_id])
            plan.append((profile_id, coach_user_id, service, rng.choice(client_ids), rng.choice(STATUSES)))
        ServiceRequest.objects.bulk_create(
            [
                ServiceRequest(
                    client_id=client_id,
                    coach_id=profile_id,
                    service_type=service.service_type,
                    title=f"{service.get_service_type_display()} for my next role",
                    requirements="Please focus on achievements.",
                    deadline=(now + timedelta(days=rng.randint(-60, 30))).date(),
                    price_minor=service.price_minor,
                    currency=service.currency,
                    status="accepted",
                    expires_at=now,
                    decided_at=now,
                )
                for profile_id, _coach, service, client_id, _status in plan
            ],
            batch_size=batch,
        )
        request_ids = list(ServiceRequest.objects.order_by("id").values_list("id", flat=True))
        Order.objects.bulk_create(
            [
                Order(
                    request_id=request_id,
                    client_id=client_id,
                    coach_id=coach_user_id,
                    service_type=service.service_type,
                    title=f"{service.get_service_type_display()} for my next role",
                    amount_minor=service.price_minor,
                    currency=service.currency,
                    status=status,
                    deadline=(now + timedelta(days=rng.randint(-60, 30))).date(),
                    revisions_included=service.revisions_included,
                    paid_at=None if status in ("pending", "cancelled") else now,
                    delivered_at=now if status in ("delivered", "completed") else None,
                    completed_at=now if status == "completed" else None,
                    cancelled_at=now if status == "cancelled" else None,
                )
                for request_id, (_p, coach_user_id, service, client_id, status) in zip(request_ids, plan, strict=True)
            ],
            batch_size=batch,
        )
        log("seeding reviews")
        completed = Order.objects.filter(status="completed").values_list("id", "client_id", "request__coach_id")
        Review.objects.bulk_create(
            [
                Review(
                    order_id=order_id,
                    client_id=client_id,
                    coach_id=profile_id,
                    rating=rng.choices([5, 4, 3, 2, 1], weights=[55, 28, 10, 4, 3])[0],
                    comment="Clear, quick and helpful. I had interviews within weeks.",
                    reply="Thank you!" if rng.random() < 0.3 else "",
                )
                for order_id, client_id, profile_id in completed.iterator(chunk_size=batch)
                if rng.random() < 0.8
            ],
            batch_size=batch,
        )
        with connection.cursor() as cursor:
            # Aggregates the review service keeps up to date, computed once for the bulk rows.
            cursor.execute(
                """
                UPDATE coaches_coachprofile p SET rating_avg = s.avg, ratings_count = s.n
                FROM (SELECT coach_id, ROUND(AVG(rating)::numeric, 2) AS avg, COUNT(*) AS n
                      FROM orders_review WHERE NOT is_hidden GROUP BY coach_id) s
                WHERE p.id = s.coach_id
                """
            )
            # Derived "price from" the services' signal handler keeps (bulk_create sends no signals).
            cursor.execute(
                """
                UPDATE coaches_coachprofile p SET price_from_minor = s.low
                FROM (SELECT coach_id, MIN(price_minor) AS low FROM coaches_coachservice
                      WHERE is_active GROUP BY coach_id) s
                WHERE p.id = s.coach_id
                """
            )
            # Spread sign-up times so "newest" sorts something real.
            cursor.execute("UPDATE coaches_coachprofile SET created_at = NOW() - (id % 5000) * INTERVAL '37 minutes'")
        refresh_all_listings()
    log(f"seeded in {time.monotonic() - started:.0f} s")


def settle_database() -> None:
    """VACUUM ANALYZE before measuring: the seed's bulk UPDATEs leave dead rows and stale
    statistics that autovacuum clears within minutes on a live server, not within this run."""
    from django.db import connection

    log("vacuum analyze")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def create_baseline_table() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE TABLE IF NOT EXISTS bench_baseline_row (
                id bigserial PRIMARY KEY, title varchar(120) NOT NULL,
                category smallint NOT NULL, score integer NOT NULL)
            """
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS bench_baseline_cat_score ON bench_baseline_row (category, score DESC, id)"
        )
        cursor.execute("SELECT COUNT(*) FROM bench_baseline_row")
        if cursor.fetchone()[0] < N_BASELINE:
            cursor.execute("TRUNCATE bench_baseline_row")
            cursor.execute(
                """
                INSERT INTO bench_baseline_row (title, category, score)
                SELECT 'Row number ' || g, g %% 50, (g * 7919) %% 100000 FROM generate_series(1, %s) AS g
                """,
                [N_BASELINE],
            )
            cursor.execute("ANALYZE bench_baseline_row")


# --- what to measure --------------------------------------------------------------------------


# Every request a different price bound: defeats the directory's caches (result page and ids).
VARIED_FILTERS_LUA = """
math.randomseed(os.time())
request = function()
  local price = math.random(4000, 40000) / 100
  return wrk.format("GET", "/coaches/?service=cv&language=en&sort=price&max_price=" .. price)
end
"""

# Every request a random listed coach (of ~9,900): mostly coach pages not cached yet.
VARIED_COACHES_LUA = """
math.randomseed(os.time())
ids = {%s}
request = function()
  return wrk.format("GET", "/coaches/" .. ids[math.random(1, #ids)] .. "/")
end
"""


def targets() -> list[tuple[str, str, str, str | None]]:
    """(label, path, cookie, wrk Lua script or None) for each measured page; with a script, the
    path is only what the pre-flight check requests."""
    from django.db.models import Count
    from django.test import Client

    from accounts.models import User
    from coaches.models import CoachProfile

    coach = (
        CoachProfile.objects.listed().filter(ratings_count__gte=5).order_by("-ratings_count", "id").first()
        or CoachProfile.objects.listed().first()
    )
    dashboard_user = User.objects.filter(role="coach").annotate(n=Count("coach_orders")).order_by("-n", "id").first()
    session = Client()
    session.force_login(dashboard_user)
    cookie = f"sessionid={session.cookies['sessionid'].value}"
    filtered = "/coaches/?service=cv&max_price=150&language=fr&min_rating=4&available=1&sort=price"
    coach_ids = list(CoachProfile.objects.listed().order_by("id").values_list("id", flat=True))
    return [
        ("baseline (20 of 10k rows)", "/bench/baseline/?category=7", "", None),
        ("directory, no filter", "/coaches/", "", None),
        ("directory, 5 filters + price sort", filtered, "", None),
        ("directory, text search q=tech", "/coaches/?q=tech&sort=rating", "", None),
        ("directory, varied filters (uncached)", "/coaches/?service=cv&max_price=123.45", "", VARIED_FILTERS_LUA),
        ("coach page", f"/coaches/{coach.pk}/", "", None),
        (
            "coach page, random coach (mostly uncached)",
            f"/coaches/{coach_ids[-1]}/",
            "",
            VARIED_COACHES_LUA % ", ".join(map(str, coach_ids)),
        ),
        ("coach dashboard (logged in)", "/dashboard/", cookie, None),
        ("baseline (again)", "/bench/baseline/?category=7", "", None),
    ]


# --- server and load generator ---------------------------------------------------------------


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        # Like gunicorn: connections of an earlier run in TIME_WAIT do not block the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_server(logfile) -> subprocess.Popen:
    if not port_is_free(PORT):
        sys.exit(f"Port {PORT} is in use by another program; set BENCH_PORT to a free port.")
    gunicorn = shutil.which("gunicorn", path=str(ROOT / ".venv" / "bin")) or "gunicorn"
    command = [
        gunicorn,
        "elite.wsgi:application",
        "--bind",
        f"127.0.0.1:{PORT}",
        "--workers",
        "2",
        "--access-logfile",
        "-",
        # The Procfile recycles workers every ~2,000 requests; here a restart (cold templates and
        # connections) would land in whichever page is being measured, so workers are not recycled.
        "--chdir",
        str(ROOT),
    ]
    env = {**os.environ, **SERVER_ENV}
    server = subprocess.Popen(command, env=env, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=2) as response:
                if response.status == 200 and server.poll() is None:
                    return server
        except OSError:
            time.sleep(0.3)
    stop_server(server)
    sys.exit("gunicorn did not start; see the log above.")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def check_page(path: str, cookie: str) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
        if response.status != 200 or "/accounts/login/" in response.url:
            sys.exit(f"{path} answered {response.status} ({response.url}); not benchmarking an error page.")
    if b"Log in" in body and cookie and b"Log out" not in body:
        sys.exit(f"{path}: the session cookie did not log in.")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def run_wrk(path: str, cookie: str, duration: int, script: Path | None) -> dict:
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(f"http://127.0.0.1:{PORT}{path}")
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _ms(re.search(r"\s50%\s+([\d.]+\w+)", output).group(1))
    p99 = _ms(re.search(r"\s99%\s+([\d.]+\w+)", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": rps,
        "p50": p50,
        "p99": p99,
        "errors": int(errors.group(1)) if errors else 0,
        "socket": socket_errors.group(1) if socket_errors else "",
    }


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk).")
    started = time.monotonic()
    ensure_database()
    setup_django()
    migrate()
    seed()
    settle_database()
    pages = targets()
    from django.db import connections

    connections.close_all()

    with tempfile.NamedTemporaryFile("w+", prefix="bench-gunicorn-", suffix=".log", delete=False) as logfile:
        scripts = {}
        for number, (label, _path, _cookie, lua) in enumerate(pages):
            if lua is not None:
                scripts[label] = Path(logfile.name).with_suffix(f".{number}.lua")
                scripts[label].write_text(lua)
        server = start_server(logfile)
        try:
            for _label, path, cookie, _lua in pages:
                check_page(path, cookie)
            results = []
            for label, path, cookie, _lua in pages:
                script = scripts.get(label)
                run_wrk(path, cookie, 2, script)  # warm up: connections, caches, template loading
                result = run_wrk(path, cookie, DURATION, script)
                log(f"{label}: {result['rps']:.0f} req/s, p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms")
                results.append((label, path, result))
        finally:
            stop_server(server)
    print_table(results)
    log(f"total {time.monotonic() - started:.0f} s; gunicorn log: {logfile.name}")


def print_table(results) -> None:
    baselines = [r["rps"] for label, _path, r in results if label.startswith("baseline")]
    baseline = sum(baselines) / len(baselines)
    print()
    print(
        f"gunicorn 2 workers, wrk {THREADS} threads × {CONNECTIONS} connections, {DURATION} s per page, PostgreSQL; "
        f"baseline = mean of {len(baselines)} runs = {baseline:.0f} req/s; "
        f"machine load average (1/5/15 min) at the end: {'/'.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs"
    )
    header = f"| {'page':<42} | {'req/s':>7} | {'p50 ms':>7} | {'p99 ms':>7} | {'× baseline':>10} | {'target':<22} |"
    print(header)
    print("|" + "|".join("-" * (len(part)) for part in header.split("|")[1:-1]) + "|")
    for label, _path, r in results:
        ratio = r["rps"] / baseline
        verdict = ""
        if label.startswith("directory"):
            ok = ratio >= TARGET_RATIO and r["p99"] < TARGET_P99_MS
            verdict = ("met" if ok else "MISSED") + f" (≥{TARGET_RATIO}, p99<{TARGET_P99_MS:.0f})"
        if r["errors"] or r["socket"]:
            verdict += f" errors: {r['errors']} {r['socket']}".rstrip()
        print(
            f"| {label:<42} | {r['rps']:>7.0f} | {r['p50']:>7.1f} | {r['p99']:>7.1f} | {ratio:>10.2f} | {verdict:<22} |"
        )
    print()


if __name__ == "__main__":
    main()
