"""Per-request metrics: count, latency, database queries and their time, labelled by view name."""

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


class MetricsMiddleware:
    """Outermost middleware, so the time and status are what the client got (errors pages included)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        timer = _QueryTimer()
        started = time.perf_counter()
        with connection.execute_wrapper(timer):
            response = self.get_response(request)
        elapsed = time.perf_counter() - started
        view = view_label(request)
        method = request.method if request.method in _METHODS else "other"
        metrics.HTTP_REQUESTS.labels(view, method, f"{response.status_code // 100}xx").inc()
        metrics.HTTP_LATENCY.labels(view).observe(elapsed)
        metrics.HTTP_DB_QUERIES.labels(view).observe(timer.count)
        metrics.HTTP_DB_SECONDS.labels(view).observe(timer.seconds)
        return response
