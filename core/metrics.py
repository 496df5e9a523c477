"""The Prometheus metric objects every process type shares (README, "Operations", lists each family).

Defined once here, on the ground floor, so any app may count something with one line and the names
stay in one place. This module imports only prometheus_client: the code that fills the families from
requests, signals and Celery lives in `ops`, the exporter too. With PROMETHEUS_MULTIPROC_DIR set (gunicorn,
uvicorn and Celery's prefork children) each process writes its values to files there and the exporter
adds them up; gauges say how (`multiprocess_mode`).
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
QUERY_COUNT_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200)

# --- Web ---------------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "elite_http_requests", "Requests answered, by view name, method and status class.", ["view", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "elite_http_request_duration_seconds", "Time to answer a request, per view.", ["view"], buckets=LATENCY_BUCKETS
)
HTTP_DB_QUERIES = Histogram(
    "elite_http_request_db_queries", "Database queries per request, per view.", ["view"], buckets=QUERY_COUNT_BUCKETS
)
HTTP_DB_SECONDS = Histogram(
    "elite_http_request_db_seconds", "Time spent in the database per request.", ["view"], buckets=LATENCY_BUCKETS
)
CACHE_REQUESTS = Counter("elite_cache_requests", "Cache look-ups, by result (hit or miss).", ["result"])

# --- Business ----------------------------------------------------------------------------------
ORDER_TRANSITIONS = Counter(
    "elite_order_transitions", "Order status changes, from and to.", ["from_status", "to_status"]
)
PAYMENTS = Counter(
    "elite_payments", "Payments by provider and outcome (captured, failed, flagged).", ["provider", "outcome"]
)
PAYMENT_AMOUNT = Counter(
    "elite_payment_amount", "Money of payments by outcome, in the currency's major unit.", ["outcome", "currency"]
)
REFUNDS = Counter("elite_refunds", "Refunds by outcome (requested, confirmed, failed).", ["outcome"])
REFUND_AMOUNT = Counter(
    "elite_refund_amount", "Money of refunds by outcome, in the currency's major unit.", ["outcome", "currency"]
)
WEBHOOK_EVENTS = Counter(
    "elite_webhook_events",
    "Provider webhook events: received, then processed, ignored, failed, flagged or deferred.",
    ["provider", "event_type", "status"],
)
LEDGER_MISMATCHES = Gauge(
    "elite_ledger_reconcile_mismatches",
    "Problems found by the last ledger reconciliation (0 = it balances).",
    multiprocess_mode="mostrecent",
)
LEDGER_RECONCILED_AT = Gauge(
    "elite_ledger_reconcile_last_run_timestamp_seconds",
    "When the ledger was last reconciled.",
    multiprocess_mode="max",
)
UPLOADS_SCANNED = Counter(
    "elite_uploads_scanned", "Uploads by virus-scan verdict (clean, infected, error).", ["verdict"]
)

# --- Websockets --------------------------------------------------------------------------------
WS_OPEN = Gauge("elite_ws_open_sockets", "Websockets open now, per route.", ["route"], multiprocess_mode="livesum")
WS_MESSAGES = Counter("elite_ws_messages", "Websocket frames, by direction (in, out).", ["direction"])
WS_FANOUT = Histogram(
    "elite_ws_fanout_seconds",
    "From a push onto the channel layer to its consumer handling it.",
    buckets=LATENCY_BUCKETS,
)


def observe_fanout(pushed_at: object) -> None:
    """A consumer handles a channel-layer event stamped `pushed_at` (time.time()) by its sender."""
    if isinstance(pushed_at, int | float):
        WS_FANOUT.observe(max(0.0, time.time() - pushed_at))


# --- Celery ------------------------------------------------------------------------------------
CELERY_TASKS = Counter(
    "elite_celery_tasks", "Celery tasks by name and state (started, succeeded, failed, retried).", ["task", "state"]
)
CELERY_TASK_SECONDS = Histogram(
    "elite_celery_task_duration_seconds", "Run time of a Celery task.", ["task"], buckets=LATENCY_BUCKETS
)
