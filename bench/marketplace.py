"""Marketplace benchmark: one command, `.venv/bin/python bench/marketplace.py` (or `make bench`).

1. Creates the benchmark's own PostgreSQL database if missing (BENCH_DATABASE_URL), migrates it,
   and seeds it once with bulk_create: 10,000 coaches (services, languages, ratings), 5,000
   clients, 100,000 requests and orders (every status) with their reviews, the baseline's
   10,000-row table, and for the heaviest client a 300-message thread, notifications and receipts.
2. Starts gunicorn with 2 sync workers, as in the Procfile, on production settings (DEBUG off)
   via bench.settings, which only adds the baseline view and a no-op POST view.
3. Runs Debian's `wrk` against every main page of issue 13, REPETITIONS times. Each repetition
   measures the bare baseline view first, so a page's ratio is to the baseline of its own
   repetition (on a shared machine the baseline moves 3× within minutes). Pages with random URLs
   seed each wrk thread differently, and the gunicorn access log counts the distinct URLs each
   run asked for (the "distinct" column: distinct / requests). The signed-in rows are cache hits (nothing
   writes while they run); their "cold" rows are misses by construction: BENCH_COLD_USERS (5,000) users
   with the most orders, a session each, their pages made stale (core.pages.users_changed, what a write
   does) before the measured run, and a wrk script that sends each request with a session not sent
   before in that run. There the column counts the distinct sessions the access log saw: distinct =
   requests is the proof that no request could be a hit.
4. Posts signed Stripe `checkout.session.completed` events over HTTP (each for its own unpaid
   order) and reports fulfilments per second, and each worker's RSS growth per 10,000 requests.

The table shows medians of the repetitions and the load average at the start of each.
Targets (issue 13): every page ≥ 0.5 × baseline and p99 < 100 ms; webhooks ≥ 300 events/s;
< 1 MB RSS growth per 10,000 requests per worker.
Environment: BENCH_DATABASE_URL, BENCH_PORT (8765), BENCH_DURATION (5 s per page), BENCH_WARMUP
(1 s), BENCH_REPETITIONS (3), BENCH_CONNECTIONS (16), BENCH_THREADS (2), BENCH_TIMEOUT (5 s per request), BENCH_WEBHOOK_EVENTS
(300 per repetition; 0 skips), BENCH_COLD_USERS (5000), BENCH_ONLY (comma-separated words: only pages whose label has
one), REDIS_URL (default redis://127.0.0.1:6379/0), BENCH_CACHE_PREFIX (default bench-<database>).
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402
from bench.load import AccessLog, Page, Result  # noqa: E402

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ews_bench")
PORT = int(os.environ.get("BENCH_PORT", "8765"))
DURATION = int(os.environ.get("BENCH_DURATION", "5"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "1"))
TIMEOUT = int(os.environ.get("BENCH_TIMEOUT", "5"))  # wrk's per-request timeout, seconds
REPETITIONS = int(os.environ.get("BENCH_REPETITIONS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
WEBHOOK_EVENTS = int(os.environ.get("BENCH_WEBHOOK_EVENTS", "300"))
WEBHOOK_CONCURRENCY = 8
COLD_USERS = int(os.environ.get("BENCH_COLD_USERS", "5000"))
ONLY = [word for word in os.environ.get("BENCH_ONLY", "").split(",") if word]
N_COACHES, N_CLIENTS, N_ORDERS, N_BASELINE = 10_000, 5_000, 100_000, 10_000
TARGET_RATIO, TARGET_P99_MS = 0.5, 100.0
STAFF_EMAIL = "staff@bench.example"
WEBHOOK_SECRET = "whsec_bench_" + "s" * 24  # the same as bench/webhooks.py signs with

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
    # Its own cache namespace per bench database: two benches on one Redis do not share hits.
    # BENCH_CACHE_PREFIX: one of its own while other processes write to the same database (their version
    # bumps would turn this run's hits into misses).
    "CACHE_KEY_PREFIX": os.environ.get("BENCH_CACHE_PREFIX") or "bench-" + urlparse(DATABASE_URL).path.lstrip("/"),
    # As in production the fulfilment queues its emails; here to a broker nobody consumes, so
    # no Celery worker of another checkout on this Redis picks up the bench's tasks.
    "CELERY_BROKER_URL": "memory://",
    "CELERY_TASK_ALWAYS_EAGER": "false",
    "STRIPE_SECRET_KEY": "sk_test_bench_never_called",
    "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
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
    from coaches.models import CoachProfile, CoachService, ExchangeRate, Language
    from coaches.services import refresh_all_listings, refresh_all_rating_scores, refresh_base_prices
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
        profile_users = list(CoachProfile.objects.order_by("id").values_list("id", "user_id"))
        services = []
        for profile_id, _user_id in profile_users:
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
                for profile_id, _ in profile_users
                for code in ["en", *rng.sample(extra, k=rng.randint(0, 2))]
            ],
            batch_size=batch,
        )

        log(f"seeding {N_ORDERS:,} requests and orders")
        service_of: dict[int, list[CoachService]] = {}
        for service in services:
            service_of.setdefault(service.coach_id, []).append(service)
        plan = []
        for _ in range(N_ORDERS):
            profile_id, coach_user_id = profile_users[rng.randrange(len(profile_users))]
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
        # Derived prices in the base currency (at demo rates) and rating scores, which the services keep.
        for currency, units in (("EUR", "1.17"), ("USD", "1.27")):
            ExchangeRate.objects.update_or_create(
                currency=currency, defaults={"units_per_base": units, "as_of": timezone.localdate()}
            )
        refresh_base_prices()
        refresh_all_rating_scores()
    log(f"seeded in {time.monotonic() - started:.0f} s")


THREAD_STATEMENTS = [
    # Every order has its conversation, as accepting a request opens one.
    """INSERT INTO messaging_messagethread (order_id, client_id, coach_id, last_message_at, created_at, updated_at)
       SELECT o.id, o.client_id, o.coach_id, NULL, o.created_at, o.created_at FROM orders_order o
       WHERE o.client_id <> o.coach_id AND NOT EXISTS (SELECT 1 FROM messaging_messagethread t WHERE t.order_id = o.id)""",
    "ANALYZE messaging_messagethread",  # the planner would take the fresh tables for empty: nested loops over 100k
    # A third of them with 1-5 messages from both sides, an hour apart after the order.
    """INSERT INTO messaging_message (thread_id, sender_id, body, is_moderator, client_token, created_at)
       SELECT t.id, CASE WHEN n % 2 = 1 THEN t.client_id ELSE t.coach_id END,
              'Draft ' || n || ': can you look at the summary & the second section?', false, '',
              o.created_at + n * interval '1 hour'
       FROM messaging_messagethread t JOIN orders_order o ON o.id = t.order_id, generate_series(1, 1 + t.id % 5) n
       WHERE o.id % 3 = 0 AND NOT EXISTS (SELECT 1 FROM messaging_message m WHERE m.thread_id = t.id)""",
    "ANALYZE messaging_message",
    """UPDATE messaging_messagethread t SET last_message_at = m.last
       FROM (SELECT thread_id, max(created_at) AS last FROM messaging_message GROUP BY thread_id) m
       WHERE m.thread_id = t.id AND t.last_message_at IS NULL""",
    # The client has read half of them to the end, the coach a quarter: the rest show unread counts.
    """INSERT INTO messaging_threadreadstate (thread_id, user_id, last_read_message_id, last_read_at)
       SELECT t.id, CASE WHEN t.id % 4 = 0 THEN t.coach_id ELSE t.client_id END, max(m.id), max(m.created_at)
       FROM messaging_messagethread t JOIN messaging_message m ON m.thread_id = t.id
       WHERE t.id % 2 = 0 GROUP BY t.id ON CONFLICT DO NOTHING""",
]


def seed_threads() -> None:
    """A conversation per order and messages in a third of them (the order page's Conversation card, the
    dashboards' threads box and the inbox read real rows, not an empty table). Idempotent: each statement
    adds only what is missing."""
    from django.db import connection, transaction

    from messaging.models import MessageThread

    if MessageThread.objects.count() > 1000:
        return
    log("seeding a thread per order, messages in a third of them, read marks")
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in THREAD_STATEMENTS:
            cursor.execute(statement)


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


# --- the heavy users' own pages ----------------------------------------------------------------


def heaviest_users():
    """The client and the coach with the most orders: their dashboards show the most."""
    from django.db.models import Count

    from accounts.models import User

    # Only the seeded marketplace: the webhook rows' orders (bench/webhooks.make_payments) pile up
    # on users of their own, who would otherwise become the "heaviest" after a few runs.
    seeded = User.objects.filter(email__endswith="@bench.example")
    client = seeded.filter(role="client").annotate(n=Count("client_orders")).order_by("-n", "id").first()
    coach = seeded.filter(role="coach").annotate(n=Count("coach_orders")).order_by("-n", "id").first()
    return client, coach


def seed_extras() -> None:
    """What the order, thread, notification and receipt pages show, for the heaviest client:
    a 300-message thread, 300 notifications each for client and coach, a receipt per paid
    order, and a staff user. Idempotent: a second run finds the staff user and skips."""
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import User
    from messaging.models import Message, MessageThread
    from notifications.models import Notification
    from orders.models import Order
    from payments.models import Payment

    if User.objects.filter(email=STAFF_EMAIL).exists():
        return
    log("seeding a thread, notifications, receipts and a staff user")
    client, coach = heaviest_users()
    now = timezone.now()
    with transaction.atomic():
        User.objects.create(email=STAFF_EMAIL, role="admin", is_staff=True, password=make_password("bench-1234-pw"))
        order = Order.objects.filter(client=client, status="in_progress").order_by("-id").first()
        if order is None:
            sys.exit("The heaviest client has no order in progress: the seeding step did not run.")
        thread = MessageThread.objects.create(
            order=order, client_id=order.client_id, coach_id=order.coach_id, last_message_at=now
        )
        senders = [order.client_id, order.coach_id]
        Message.objects.bulk_create(
            Message(thread=thread, sender_id=senders[i % 2], body=f"Message {i}: here is my next draft.")
            for i in range(300)
        )
        Notification.objects.bulk_create(
            Notification(user=user, kind="order_update", text=f"Order #{order.pk} moved on ({i})", link="/orders/")
            for user in (client, coach)
            for i in range(300)
        )
        paid = Order.objects.filter(client=client, paid_at__isnull=False)
        Payment.objects.bulk_create(
            Payment(
                order_id=order_id,
                client=client,
                provider="stripe",
                provider_payment_id=f"cs_seed_{order_id}",
                provider_capture_id=f"pi_seed_{order_id}",
                amount_minor=amount,
                currency=currency,
                status="captured",
                captured_at=now,
            )
            for order_id, amount, currency in paid.values_list("id", "amount_minor", "currency")
        )


# --- what to measure --------------------------------------------------------------------------


# Every request a different price bound: defeats the directory's caches (result page and ids).
VARIED_FILTERS = """
request = function()
  local price = math.random(4000, 40000) / 100
  return wrk.format("GET", "/coaches/?service=cv&language=en&sort=price&max_price=" .. price)
end
"""

# Every request a random listed coach (of ~9,900): mostly coach pages not cached yet.
VARIED_COACHES = """
ids = {%s}
request = function()
  return wrk.format("GET", "/coaches/" .. ids[math.random(1, #ids)] .. "/")
end
"""

# A cold row: request n of wrk thread t sends entry offset + n × threads + t of the pool (a session and its
# path), so no entry comes twice in a run while the run asks fewer than the pool holds. Its warm-up (an even
# salt; the run's is the next, odd one: measure()) walks the pool backwards from just before the same offset,
# so a warm-up request still queued when the run starts is not one of the run's sessions unless warm-up and
# run together ask more than the pool holds. The offset comes from the salt, so each repetition starts
# elsewhere in the pool.
COLD_REQUESTS = """
sessions = {%(sessions)s}
paths = {%(paths)s}
local sent = 0
request = function()
  if offset == nil then offset = (math.floor(run_salt / 2) * 7919) %% #sessions end
  local n = sent * %(threads)d + thread_number - 1
  local i
  if run_salt %% 2 == 1 then i = (offset + n) %% #sessions + 1 else i = (offset - 1 - n) %% #sessions + 1 end
  sent = sent + 1
  return wrk.format("GET", paths[i], {Cookie = sessions[i]})
end
"""

BASELINE = Page("baseline: bare view (20 of 10k rows)", "/bench/baseline/?category=7")


def session_cookie(user) -> str:
    from django.test import Client

    session = Client()
    session.force_login(user)
    return f"sessionid={session.cookies['sessionid'].value}"


def targets() -> list[Page]:
    """Every main page of issue 13, each with what it needs to be a real (not error) page."""
    from django.db.models import Count

    from accounts.models import User
    from coaches.models import CoachProfile
    from messaging.models import MessageThread

    top = CoachProfile.objects.listed().order_by("-ratings_count", "id").first()
    client, coach = heaviest_users()
    client_cookie, coach_cookie = session_cookie(client), session_cookie(coach)
    staff_cookie = session_cookie(User.objects.get(email=STAFF_EMAIL))
    # seed_extras' 300-message thread (seed_threads gives every other order a short one)
    thread = (
        MessageThread.objects.filter(order__client=client)
        .annotate(length=Count("messages"))
        .order_by("-length")
        .first()
    )
    if thread is None:
        sys.exit("The heaviest client has no conversation: the seeding step did not run.")
    coach_ids = list(CoachProfile.objects.listed().order_by("id").values_list("id", flat=True))
    filtered = "/coaches/?service=cv&max_price=150&language=fr&min_rating=4&available=1&sort=price"
    year = "/staff/analytics/?start={}&end={}&granularity=month".format(*(day.isoformat() for day in year_span()))
    return [
        Page("landing /", "/"),
        Page("directory, no filter", "/coaches/"),
        Page("directory, 5 filters + price sort", filtered),
        Page("directory, text search q=tech", "/coaches/?q=tech&sort=rating"),
        Page("directory, never-seen filters", "/coaches/?service=cv&max_price=123.45", "", VARIED_FILTERS, True),
        Page("coach page, top coach", f"/coaches/{top.pk}/"),
        Page(
            "coach page, random coach",
            f"/coaches/{coach_ids[-1]}/",
            "",
            VARIED_COACHES % ", ".join(map(str, coach_ids)),
            True,
        ),
        Page("client dashboard, heaviest client", "/dashboard/", client_cookie),
        Page("coach dashboard, heaviest coach", "/dashboard/", coach_cookie),
        Page("order page (client)", f"/orders/{thread.order_id}/", client_cookie),
        Page("thread page, 300 messages", f"/threads/{thread.pk}/", client_cookie),
        Page("notifications (client)", "/notifications/", client_cookie),
        Page("receipts (client)", "/payments/receipts/", client_cookie),
        Page("staff analytics, 30 days", "/staff/analytics/", staff_cookie),
        Page("staff analytics, a year", year, staff_cookie),
        # The REST API (issue 14) beside the pages it mirrors: same services, JSON instead of templates.
        Page("API: GET /api/v1/coaches", "/api/v1/coaches"),
        Page("API: GET /api/v1/orders/me (coach)", "/api/v1/orders/me", coach_cookie),
    ]


COLD_LABELS = {
    "client": f"client dashboard, cold: {COLD_USERS:,} clients",
    "coach": f"coach dashboard, cold: {COLD_USERS:,} coaches",
    "order": f"order page, cold: {COLD_USERS:,} clients",
    "notifications": f"notifications, cold: {COLD_USERS:,} clients",
    "receipts": f"receipts, cold: {COLD_USERS:,} clients",
}


def cold_wanted() -> bool:
    return not ONLY or any(word in label for label in COLD_LABELS.values() for word in ONLY)


def most_orders(role: str, count: int) -> list:
    from django.db.models import Count

    from accounts.models import User

    orders = "client_orders" if role == "client" else "coach_orders"
    seeded = User.objects.filter(email__endswith="@bench.example", role=role)
    return list(seeded.annotate(n=Count(orders)).order_by("-n", "id")[:count])


def pool_sessions(users: list) -> list[str]:
    """A signed-in session per user, as login() stores it (without the last_login write): its key."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.cached_db import SessionStore

    keys = []
    for user in users:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        keys.append(str(store.session_key))  # create() gave it one
    return keys


def forget_sessions(keys: list[str]) -> None:
    """The cold rows' sessions, from the database and the cache: a run leaves none behind."""
    from django.conf import settings
    from django.contrib.sessions.backends.cached_db import SessionStore
    from django.contrib.sessions.models import Session
    from django.core.cache import caches
    from django.db import connections

    Session.objects.filter(session_key__in=keys).delete()
    caches[settings.SESSION_CACHE_ALIAS].delete_many([SessionStore(key).cache_key for key in keys])
    connections.close_all()


def cold_page(label: str, first_path: str, entries: list[tuple[int, str, str]]) -> Page:
    """entries: (user id, path, session key); the page's own path and cookie are the first entry's (check_page)."""
    quoted = ", ".join
    lua = COLD_REQUESTS % {
        "sessions": quoted(f'"sessionid={key}"' for _pk, _path, key in entries),
        "paths": quoted(f'"{path}"' for _pk, path, _key in entries),
        "threads": THREADS,
    }
    return Page(label, first_path, f"sessionid={entries[0][2]}", lua, cold_users=tuple(pk for pk, _p, _k in entries))


def cold_targets() -> tuple[list[Page], list[str]]:
    """The client and coach dashboards, the client's order page, notifications and receipts on a miss; and the
    sessions made for them."""
    from django.db.models import Max

    from orders.models import Order

    clients, coaches = most_orders("client", COLD_USERS), most_orders("coach", COLD_USERS)
    log(f"signing in {len(clients) + len(coaches):,} users for the cold rows")
    client_keys, coach_keys = pool_sessions(clients), pool_sessions(coaches)
    newest = dict(
        Order.objects.filter(client__in=clients)
        .values("client_id")
        .annotate(last=Max("id"))
        .values_list("client_id", "last")
    )
    client_entries = [(c.pk, "/dashboard/", key) for c, key in zip(clients, client_keys, strict=True)]
    coach_entries = [(c.pk, "/dashboard/", key) for c, key in zip(coaches, coach_keys, strict=True)]
    order_entries = [
        (c.pk, f"/orders/{newest[c.pk]}/", key) for c, key in zip(clients, client_keys, strict=True) if c.pk in newest
    ]
    pages = [
        cold_page(COLD_LABELS["client"], "/dashboard/", client_entries),
        cold_page(COLD_LABELS["coach"], "/dashboard/", coach_entries),
        cold_page(COLD_LABELS["order"], order_entries[0][1], order_entries),
        cold_page(
            COLD_LABELS["notifications"],
            "/notifications/",
            [(pk, "/notifications/", k) for pk, _p, k in client_entries],
        ),
        cold_page(
            COLD_LABELS["receipts"],
            "/payments/receipts/",
            [(pk, "/payments/receipts/", k) for pk, _p, k in client_entries],
        ),
    ]
    return pages, client_keys + coach_keys


def year_span():
    from datetime import date

    today = date.today()
    return today - timedelta(days=364), today


# --- webhooks -----------------------------------------------------------------------------------


def webhook_batches(repetitions: int) -> list[list[tuple[bytes, dict]]]:
    """Per repetition, WEBHOOK_EVENTS signed checkout.session.completed events, each for its own
    unpaid order with a Stripe payment (bench/webhooks.py makes them the way production does)."""
    from bench.webhooks import make_payments, session_event

    log(f"preparing {repetitions * WEBHOOK_EVENTS} unpaid orders for the webhook rows")
    payments = make_payments(repetitions * WEBHOOK_EVENTS)
    batches: list[list[tuple[bytes, dict]]] = []
    for rep in range(repetitions):
        bodies = [session_event(p) for p in payments[rep * WEBHOOK_EVENTS : (rep + 1) * WEBHOOK_EVENTS]]
        batches.append([(body, {}) for body in bodies])
    return batches


def measure_webhooks(batch: list[tuple[bytes, dict]]) -> tuple[Result, Result]:
    """The no-op POST view, then fulfilment, both over HTTP at WEBHOOK_CONCURRENCY senders."""
    from bench.webhooks import sign

    noop_rate, noop_failures = load.post_all(PORT, "/bench/noop/", batch, concurrency=WEBHOOK_CONCURRENCY)
    signed = [(body, {"Stripe-Signature": sign(body)}) for body, _headers in batch]  # signed now: 300 s tolerance
    rate, failures = load.post_all(PORT, "/payments/webhooks/stripe/", signed, concurrency=WEBHOOK_CONCURRENCY)
    return Result(noop_rate, 0, 0, errors=noop_failures), Result(rate, 0, 0, errors=failures)


# --- one repetition -----------------------------------------------------------------------------


def measure(page: Page, scripts: dict[str, Path], access: AccessLog, salt: int) -> Result:
    script = scripts.get(page.label)

    def run(duration: int, salt: int) -> Result:
        return load.run_wrk(
            PORT, page, duration=duration, salt=salt, threads=THREADS, connections=CONNECTIONS, script=script,
            timeout=TIMEOUT,
        )  # fmt: skip

    assert salt % 2 == 0, "a cold row's warm-up has an even salt, its run the next (COLD_REQUESTS)"
    run(WARMUP, salt)  # connections, templates, caches
    load.wait_until_idle(PORT)
    access.mark()  # before the bump: a warm-up request still queued is counted, its session with the run's
    if page.cold_users:
        from core.pages import users_changed

        users_changed(*page.cold_users)  # what a write to what they show does: every page of theirs is stale
    result = run(DURATION, salt + 1)
    load.wait_until_idle(PORT)
    asked = [line for line in access.since_mark() if line[2] != "/health"]
    seen = {cookie for *_, cookie in asked} if page.cold_users else {path for _s, _m, path, _c in asked}
    result.requests, result.distinct = len(asked), len(seen)
    result.not_ok = sum(status != "200" for status, *_ in asked)
    return result


def repetition(number: int, pages: list[Page], scripts: dict, access: AccessLog, server, webhooks) -> dict:
    """The baseline first, then every page against it: a ratio never spans a load change of minutes."""
    loadavg = os.getloadavg()
    log(f"repetition {number + 1}: load average {loadavg[0]:.2f} / {loadavg[1]:.2f} / {loadavg[2]:.2f}")
    salt = (int(time.time()) % 100_000) * 100 + number * 1000
    results = {}
    rss_before = {pid: load.rss_kb(pid) for pid in load.worker_pids(server)}
    for index, page in enumerate([BASELINE, *pages]):
        results[page.label] = result = measure(page, scripts, access, salt + index * 2)
        log(f"  {page.label}: {result.rps:.0f} req/s, p99 {result.p99:.1f} ms, {result.distinct} distinct URLs")
    requests_served = sum(r.requests for r in results.values())
    growth = [load.rss_kb(pid) - before for pid, before in rss_before.items() if Path(f"/proc/{pid}").exists()]
    if webhooks is not None:
        results["webhook no-op POST"], results["webhook fulfilment"] = measure_webhooks(webhooks[number])
        log(f"  webhooks: {results['webhook fulfilment'].rps:.0f} events/s")
    return {"results": results, "load": loadavg, "rss_growth_kb": growth, "requests": requests_served}


# --- main and the table -------------------------------------------------------------------------


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk).")
    started = time.monotonic()
    ensure_database()
    setup_django()
    migrate()
    seed()
    seed_extras()
    seed_threads()
    settle_database()
    every, cold_sessions = targets(), list[str]()
    if cold_wanted():
        cold, cold_sessions = cold_targets()
        every += cold
    pages = [page for page in every if not ONLY or any(word in page.label for word in ONLY)]
    webhooks = webhook_batches(REPETITIONS) if WEBHOOK_EVENTS else None
    from django.db import connections

    connections.close_all()
    with tempfile.NamedTemporaryFile("w+", prefix="bench-gunicorn-", suffix=".log", delete=False) as logfile:
        scripts: dict[str, Path] = {}
        for number, page in enumerate(pages):
            lua = page.lua()
            if lua is not None:
                scripts[page.label] = Path(logfile.name).with_suffix(f".{number}.lua")
                scripts[page.label].write_text(lua)
        server = load.start_server(PORT, SERVER_ENV, logfile)
        try:
            for page in [BASELINE, *pages]:
                load.check_page(PORT, page)
            access = AccessLog(logfile.name)
            reps = []
            for number in range(REPETITIONS):
                whole = AccessLog(logfile.name)
                whole.mark()
                reps.append(repetition(number, pages, scripts, access, server, webhooks))
                reps[-1]["requests"] = len(whole.since_mark())
        finally:
            load.stop_server(server)
            if cold_sessions:
                forget_sessions(cold_sessions)
    print_table([BASELINE, *pages], reps)
    log(f"total {time.monotonic() - started:.0f} s; gunicorn log: {logfile.name}")


def _verdict(page: Page, ratio: float, p99: float, rows: list[Result]) -> str:
    if page.label.startswith("baseline"):
        return ""
    verdict = "met" if ratio >= TARGET_RATIO and p99 < TARGET_P99_MS else "MISSED"
    repeated = [f"{row.distinct}/{row.requests}" for row in rows if page.cold_users and row.distinct < row.requests]
    if repeated:  # a session came twice (the run asked more than the pool holds, or the warm-up's leftovers)
        verdict = "NOT COLD " + " ".join(repeated)
    result = rows[-1]
    if result.errors or result.socket:
        verdict += f"; errors {result.errors} {result.socket}".rstrip()
    if any(row.not_ok for row in rows):
        verdict += f"; non-200 {sum(row.not_ok for row in rows)}"
    return verdict


def print_table(pages: list[Page], reps: list[dict]) -> None:
    median = statistics.median
    print()
    print(
        f"gunicorn 2 workers, wrk {THREADS} threads × {CONNECTIONS} connections, {DURATION} s per page after "
        f"{WARMUP} s warm-up, {len(reps)} repetitions (median shown), PostgreSQL {N_COACHES:,} coaches / "
        f"{N_ORDERS:,} orders, {os.cpu_count()} CPUs"
    )
    loads = ", ".join("/".join(f"{x:.2f}" for x in rep["load"]) for rep in reps)
    print(
        f"load average (1/5/15 min) at the start of each repetition: {loads}; at the end: "
        + "/".join(f"{x:.2f}" for x in os.getloadavg())
    )
    baselines = [rep["results"][BASELINE.label].rps for rep in reps]
    print("baseline per repetition: " + ", ".join(f"{b:.0f}" for b in baselines) + " req/s")
    header = f"| {'page':<38} | {'req/s':>6} | {'p50 ms':>7} | {'p99 ms':>7} | {'× baseline':>10} "
    header += f"| {'per repetition':<16} | {'distinct':>11} | target (≥{TARGET_RATIO}×, p99<{TARGET_P99_MS:.0f}) |"
    print(header)
    print("|" + "|".join("-" * len(part) for part in header.split("|")[1:-1]) + "|")
    for page in pages:
        rows = [rep["results"][page.label] for rep in reps]
        ratios = [row.rps / rep["results"][BASELINE.label].rps for row, rep in zip(rows, reps, strict=True)]
        rps, p50, p99, ratio = (
            median(x) for x in ([r.rps for r in rows], [r.p50 for r in rows], [r.p99 for r in rows], ratios)
        )
        urls = f"{median(r.distinct for r in rows):.0f}/{median(r.requests for r in rows):.0f}"
        print(
            f"| {page.label:<38} | {rps:>6.0f} | {p50:>7.1f} | {p99:>7.1f} | {ratio:>10.2f} "
            f"| {' '.join(f'{x:.2f}' for x in ratios):<16} | {urls:>11} | {_verdict(page, ratio, p99, rows):<23} |"
        )
    print(
        "distinct: URLs asked / requests; on a cold row, sessions / requests (each a user whose pages were made "
        "stale before the run: distinct = requests means every request was a miss)"
    )
    if "webhook fulfilment" in reps[0]["results"]:
        noop = [rep["results"]["webhook no-op POST"].rps for rep in reps]
        hooks = [rep["results"]["webhook fulfilment"] for rep in reps]
        failures = sum(h.errors for h in hooks)
        print(
            f"\nwebhook fulfilment over HTTP, {WEBHOOK_CONCURRENCY} senders, {WEBHOOK_EVENTS} events per repetition: "
            f"{median(h.rps for h in hooks):.0f} events/s (per repetition "
            f"{', '.join(f'{h.rps:.0f}' for h in hooks)}; no-op POST {median(noop):.0f}/s; target ≥ 300/s: "
            f"{'met' if median(h.rps for h in hooks) >= 300 else 'MISSED'}; non-200: {failures})"
        )
    for number, rep in enumerate(reps):
        growth = rep["rss_growth_kb"]
        per_10k = [g * 10_000 / max(rep["requests"] / max(len(growth), 1), 1) / 1024 for g in growth]
        print(
            f"repetition {number + 1}: worker RSS growth {', '.join(f'{g} KB' for g in growth)} over "
            f"{rep['requests']:,} requests{' (includes warm-up)' if number == 0 else ''} = {', '.join(f'{x:.2f}' for x in per_10k)} MB per 10k requests per worker"
        )
    print()


if __name__ == "__main__":
    main()
