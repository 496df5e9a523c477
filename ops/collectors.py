"""Metrics read at scrape time from the state of things: the broker's queues, the scan queue, beat's runs.

Counters say what happened; these say how things are now, which only the database and the broker
know. The web exporter serves them (web is the process that is up when others are stuck), and the
alert rules take `max by (...)` so several web machines reporting the same value change nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping

from django.conf import settings
from django.db.models import Count, Min
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)


def _queue_names() -> list[str]:
    from celery import current_app

    names = {current_app.conf.task_default_queue or "celery"}
    names.update(queue.name for queue in current_app.conf.task_queues or ())
    return sorted(names)


def oldest_message_age(raw: bytes | str | None, now: float) -> float:
    """Seconds since the oldest waiting message was published (our `published_at` header), 0 if none."""
    if not raw:
        return 0.0
    try:
        published = float(json.loads(raw)["headers"]["published_at"])
    except (KeyError, TypeError, ValueError):
        return 0.0
    return max(0.0, now - published)


class CeleryQueueCollector(Collector):
    """Length and oldest message age of each Celery queue, read from Redis (kombu LPUSHes, so the
    oldest message is the list's last element)."""

    def collect(self) -> Iterable[GaugeMetricFamily]:
        broker = settings.CELERY_BROKER_URL
        if settings.CELERY_TASK_ALWAYS_EAGER or not broker.startswith(("redis://", "rediss://")):
            return []
        import redis

        length = GaugeMetricFamily("elite_celery_queue_length", "Messages waiting in a Celery queue.", labels=["queue"])
        age = GaugeMetricFamily(
            "elite_celery_queue_oldest_message_age_seconds",
            "Age of the oldest message waiting in a Celery queue (0 when empty).",
            labels=["queue"],
        )
        client = redis.Redis.from_url(broker, socket_timeout=2)
        try:
            now = time.time()
            for queue in _queue_names():
                length.add_metric([queue], client.llen(queue))
                age.add_metric([queue], oldest_message_age(client.lindex(queue, -1), now))
        except redis.RedisError as error:
            logger.warning("celery queue metrics unavailable: %s", error)
            return []
        finally:
            client.close()
        return [length, age]


class ScanQueueCollector(Collector):
    """Uploads waiting for their virus scan, and how long the oldest has waited."""

    def collect(self) -> Iterable[GaugeMetricFamily]:
        from django.utils import timezone

        from files.models import FileAsset, ScanStatus

        pending = FileAsset.objects.filter(scan_status=ScanStatus.PENDING, deleted_at__isnull=True)
        summary = pending.aggregate(count=Count("pk"), oldest=Min("updated_at"))
        age = (timezone.now() - summary["oldest"]).total_seconds() if summary["oldest"] else 0.0
        yield GaugeMetricFamily(
            "elite_scan_queue_length", "Uploads waiting for their virus scan.", value=summary["count"]
        )
        yield GaugeMetricFamily(
            "elite_scan_queue_oldest_seconds", "How long the oldest pending upload has waited (0 if none).", value=age
        )


class BeatCollector(Collector):
    """Each beat job's interval and last run (django-celery-beat's PeriodicTask; the time it was
    installed until it first runs), so an alert can say a job missed two runs."""

    def collect(self) -> Iterable[GaugeMetricFamily]:
        from django_celery_beat.models import PeriodicTask

        intervals = {
            name: float(entry["schedule"])
            for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
            if isinstance(entry["schedule"], int | float)
        }
        interval = GaugeMetricFamily(
            "elite_beat_interval_seconds", "How often a beat job should run.", labels=["beat_job"]
        )
        last_run = GaugeMetricFamily(
            "elite_beat_last_run_timestamp_seconds", "When beat last sent a job's task.", labels=["job"]
        )
        rows = PeriodicTask.objects.filter(name__in=intervals).values_list("name", "last_run_at", "date_changed")
        for name, last_run_at, installed_at in rows:
            interval.add_metric([name], intervals[name])
            last_run.add_metric([name], (last_run_at or installed_at).timestamp())
        return [interval, last_run]


class ReadyCollector(Collector):
    """`elite_ready{check}`: 1 when the readiness check of /ready passes, 0 when it fails."""

    def __init__(self, checks: Callable[[], Mapping[str, Callable[[], None]]]):
        self.checks = checks

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily("elite_ready", "Readiness checks of /ready (1 = ok).", labels=["check"])
        for name, check in self.checks().items():
            try:
                check()
                family.add_metric([name], 1)
            except Exception as error:  # noqa: BLE001 - a probe reports every failure, whatever it is
                logger.warning("readiness check %s failed: %s", name, error)
                family.add_metric([name], 0)
        yield family
