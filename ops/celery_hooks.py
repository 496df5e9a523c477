"""Celery signals: task metrics, the request id carried from the web request into its tasks, and the
worker's own /metrics port.

A task queued while serving a request gets the request's id in a message header (`request_id`) and
binds it while it runs, so its log lines can be found with the request's; a task beat started binds
its own task id. `published_at` lets the queue collector tell the oldest waiting message's age.
"""

from __future__ import annotations

import logging
import os
import time

from celery import signals

from core import metrics
from core.http import bind_request_id, current_request_id, unbind_request_id

logger = logging.getLogger(__name__)

_running: dict[str, tuple[float, object]] = {}


@signals.before_task_publish.connect
def add_origin_headers(sender=None, headers=None, **kwargs) -> None:
    if headers is None:
        return
    request_id = current_request_id()
    if request_id != "-":
        headers.setdefault("request_id", request_id)
    headers.setdefault("published_at", time.time())


@signals.task_prerun.connect
def task_started(sender=None, task_id=None, task=None, **kwargs) -> None:
    request = task.request if task is not None else None
    # A worker flattens message headers onto the request; an eager apply(headers=...) keeps them apart.
    origin = getattr(request, "request_id", None) or (getattr(request, "headers", None) or {}).get("request_id")
    # Run eagerly inside a request, the request's id is already bound: keep it.
    request_id = origin or (current_request_id() if current_request_id() != "-" else task_id)
    _running[task_id] = (time.perf_counter(), bind_request_id(str(request_id)))
    metrics.CELERY_TASKS.labels(sender.name, "started").inc()


@signals.task_postrun.connect
def task_finished(sender=None, task_id=None, **kwargs) -> None:
    started, token = _running.pop(task_id, (None, None))
    if started is not None:
        metrics.CELERY_TASK_SECONDS.labels(sender.name).observe(time.perf_counter() - started)
    if token is not None:
        unbind_request_id(token)  # type: ignore[arg-type]


@signals.task_success.connect
def task_succeeded(sender=None, **kwargs) -> None:
    metrics.CELERY_TASKS.labels(sender.name, "succeeded").inc()


@signals.task_failure.connect
def task_failed(sender=None, **kwargs) -> None:
    metrics.CELERY_TASKS.labels(sender.name, "failed").inc()


@signals.task_retry.connect
def task_retried(sender=None, **kwargs) -> None:
    metrics.CELERY_TASKS.labels(sender.name, "retried").inc()


@signals.worker_init.connect
def start_exporter(**kwargs) -> None:
    """The worker's main process serves /metrics for itself and its pool on CELERY_METRICS_PORT."""
    port = int(os.environ.get("CELERY_METRICS_PORT") or 0)
    if not port:
        return
    from .exporter import serve_in_thread

    address = os.environ.get("METRICS_BIND_ADDRESS", "127.0.0.1")
    serve_in_thread(address, port)
    logger.info("worker metrics on %s:%s/metrics", address, port)


@signals.worker_process_shutdown.connect
def pool_child_exited(pid=None, **kwargs) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
