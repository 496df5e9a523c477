"""Celery wiring: every beat entry names a task that exists, and the scheduler can install them."""

import pytest
from django.conf import settings

from elite.celery import app


def registered_tasks() -> set[str]:
    app.loader.import_default_modules()  # autodiscovery of every app's tasks.py
    return set(app.tasks.keys())


def test_beat_schedule_is_what_celery_reads():
    assert app.conf.beat_schedule == settings.CELERY_BEAT_SCHEDULE
    assert app.conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"


@pytest.mark.parametrize("name", sorted(settings.CELERY_BEAT_SCHEDULE))
def test_every_beat_entry_runs_a_registered_task(name):
    entry = settings.CELERY_BEAT_SCHEDULE[name]
    assert entry["task"] in registered_tasks(), f"{name}: no task called {entry['task']}"
    if isinstance(entry["schedule"], int | float):
        assert entry["schedule"] > 0


@pytest.mark.django_db(transaction=True)  # the scheduler closes stale connections, as beat does at start
def test_database_scheduler_installs_the_schedule():
    from django_celery_beat.models import PeriodicTask
    from django_celery_beat.schedulers import DatabaseScheduler

    DatabaseScheduler(app=app, lazy=True).setup_schedule()

    installed = set(PeriodicTask.objects.values_list("name", flat=True))
    assert set(settings.CELERY_BEAT_SCHEDULE) <= installed
