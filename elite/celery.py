"""Celery application: Redis broker in production, eager (in-process) in the embedded default."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "elite.settings")

app = Celery("elite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Task metrics, the request id in task headers, the worker's /metrics port (connected on import).
import ops.celery_hooks  # noqa: E402, F401
