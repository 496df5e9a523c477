"""Time the staff analytics page (and the transactions page) at 100,000 orders on PostgreSQL.

    .venv/bin/python bench/analytics.py [--orders 100000] [--runs 5] [--reseed]

Uses a PostgreSQL database of its own (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/ews_bench_analytics): creates it, migrates it, seeds it once
with bulk_create (adminpanel.bulk_seed: a year of orders in every state, with payments, ledger,
reviews), then renders the pages through Django's test client as a staff user and prints the
median time per range and what the database spent on it.
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/ews_bench_analytics"


def ensure_database(url: str) -> None:
    import psycopg
    from environ import Env

    config = Env.db_url_config(url)
    admin_dsn = f"host={config['HOST']} port={config['PORT'] or 5432} user={config['USER']} dbname=postgres"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{config["NAME"]}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reseed", action="store_true", help="drop the seeded rows and seed again")
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "elite.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.http import StreamingHttpResponse
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    assert connection.vendor == "postgresql", "the benchmark runs on PostgreSQL"
    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)

    from accounts.models import Role, User
    from adminpanel.bulk_seed import seed
    from orders.models import Order

    if args.reseed:
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE payments_ledgerentry, payments_refund, payments_webhookevent, payments_payment, "
                "orders_review, orders_delivery, orders_orderevent, messaging_message, messaging_threadreadstate, "
                "messaging_messagethread, orders_order, requests_app_requestdecline, requests_app_servicerequest, "
                "files_fileasset, notifications_notification, audit_auditlog, coaches_coachservice, "
                "coaches_coachprofile_languages, coaches_coachprofile, account_emailaddress, accounts_user CASCADE"
            )
    have = Order.objects.count()
    if have < args.orders:
        started = time.perf_counter()
        counts = seed(args.orders - have, days=365, tag=f"b{have}")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"seeded {counts} in {time.perf_counter() - started:.1f} s")
    print(f"orders in the database: {Order.objects.count():,}")

    staff, _ = User.objects.get_or_create(
        email="bench-staff@bench.example", defaults={"role": Role.ADMIN, "first_name": "Bench"}
    )
    client = Client()
    client.force_login(staff)
    today = timezone.localdate()

    def days_ago(n: int) -> str:
        return (today - dt.timedelta(days=n)).isoformat()

    cases = [
        ("analytics, last 30 days by day (default)", "/staff/analytics/", {}),
        ("analytics, last 90 days by day", "/staff/analytics/", {"start": days_ago(89), "granularity": "day"}),
        ("analytics, last 365 days by week", "/staff/analytics/", {"start": days_ago(364), "granularity": "week"}),
        ("analytics, last 365 days by month", "/staff/analytics/", {"start": days_ago(364), "granularity": "month"}),
        ("transactions, first page + totals", "/staff/transactions/", {}),
        ("transactions, one coach", "/staff/transactions/", {"coach": "coach3@"}),
    ]
    print(f"\n| page | median ms (of {args.runs}) | queries | ms in the database |")
    print("|---|---:|---:|---:|")
    for label, path, params in cases:
        timings, db_times, query_count = [], [], 0
        for _ in range(args.runs):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(path, params)
                timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code)
            query_count = len(queries)
            db_times.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
        print(f"| {label} | {statistics.median(timings):.0f} | {query_count} | {statistics.median(db_times):.0f} |")

    started = time.perf_counter()
    response = client.get("/staff/transactions/", {"format": "csv"})
    assert isinstance(response, StreamingHttpResponse), "the CSV export streams"
    size = sum(len(chunk) for chunk in response)
    print(f"\nCSV export of the whole ledger: {size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
