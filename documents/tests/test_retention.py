"""Texts, comments and job descriptions are deleted DOCUMENTS_RETENTION_DAYS after an order finishes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from documents import services
from documents.models import Comment, Extraction, JobDescription, Redline
from orders import services as order_services

from . import builders

pytestmark = pytest.mark.django_db


def _finished_order_with_data(order_with_cv, deliver):
    order = deliver(order_with_cv, builders.CV_V2)
    version = services.versions(order)[-1]
    services.add_comment(order, actor=order.client, version=version, block=4, quote="Led a team", body="Nice")
    services.add_job_description(order, actor=order.client, title="PM", text="Agile project manager")
    old, new = (v.extraction for v in services.versions(order))
    services.redline(old, new)
    return order_services.accept_delivery(order.pk, actor=order.client)


def test_the_purge_deletes_everything_after_the_retention_period_and_only_then(order_with_cv, deliver, settings):
    settings.DOCUMENTS_RETENTION_DAYS = 180
    order = _finished_order_with_data(order_with_cv, deliver)
    assert services.purge_expired(now=timezone.now() + timedelta(days=179)) == 0
    assert Extraction.objects.count() == 2 and Comment.objects.count() == 1
    assert services.purge_expired(now=timezone.now() + timedelta(days=181)) == 1
    assert not Extraction.objects.exists() and not Redline.objects.exists()
    assert not Comment.objects.exists() and not JobDescription.objects.exists()
    assert services.purge_expired(now=timezone.now() + timedelta(days=181)) == 0
    order.refresh_from_db()
    assert order.status == "completed"


def test_an_active_order_keeps_its_documents_data(order_with_cv, deliver):
    deliver(order_with_cv, builders.CV_V2)
    assert services.purge_expired(now=timezone.now() + timedelta(days=1000)) == 0
    assert Extraction.objects.count() == 2


def test_the_purge_runs_as_a_beat_job(settings):
    assert settings.CELERY_BEAT_SCHEDULE["documents-purge-expired"]["task"] == "documents.tasks.purge_expired"
