"""Per-request metrics: count, latency, database queries and their time, labelled by view name.

The query histograms observe the requests that used the database; elite_http_requests_total counts all.
"""

from __future__ import annotations

import time

from django.db import connection

from core import metrics


class _QueryTimer:
    """A database execute wrapper: counts the queries of one request and adds up their time."""

    __slots__ = ("count", "seconds")

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - started


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def view_label(request) -> str:
    """The URL pattern's name (bounded), never the path: a path per order id would explode the series."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or match._func_path


_series: dict[tuple[str, str, str], tuple] = {}


def _children(view: str, method: str, status: str) -> tuple:
    """The four labelled series of one (view, method, status), looked up once: `labels()` costs more
    than the increment itself, and the combinations are few (URL names × methods × 5)."""
    key = (view, method, status)
    found = _series.get(key)
    if found is None:
        found = _series[key] = (
            metrics.HTTP_REQUESTS.labels(view, method, status),
            metrics.HTTP_LATENCY.labels(view),
            metrics.HTTP_DB_QUERIES.labels(view),
            metrics.HTTP_DB_SECONDS.labels(view),
        )
    return found


class MetricsMiddleware:
    """Outermost middleware, so the time and status are what the client got (errors pages included)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        timer = _QueryTimer()
        wrappers = connection.execute_wrappers  # what connection.execute_wrapper() does, without its generator
        wrappers.append(timer)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            wrappers.remove(timer)
        elapsed = time.perf_counter() - started
        view = view_label(request)
        method = request.method if request.method in _METHODS else "other"
        requests, latency, queries, db_seconds = _children(view, method, f"{response.status_code // 100}xx")
        requests.inc()
        latency.observe(elapsed)
        if timer.count:  # a request without queries (probes, static files) skips four file writes
            queries.observe(timer.count)
            db_seconds.observe(timer.seconds)
        return response
