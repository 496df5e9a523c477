"""DOCUMENTS_RETENTION_DAYS after an order finishes, its documents go: the files themselves (storage
too), their texts and redlines, comments and target jobs. DOCUMENTS_RETENTION_WARNING_DAYS before,
the client and coach are told once, and the order page says when; afterwards it says what went."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.utils import timezone

from audit.models import AuditLog
from documents import services
from documents.models import Comment, Extraction, JobDescription, OrderRetention, Redline
from files.models import FileAsset
from notifications.models import Notification
from orders import services as order_services

from . import builders

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def _finished_order_with_data(order_with_cv, deliver):
    order = deliver(order_with_cv, builders.CV_V2)
    version = services.versions(order)[-1]
    services.add_comment(order, actor=order.client, version=version, block=4, quote="Led a team", body="Nice")
    services.add_job_description(order, actor=order.client, title="PM", text="Agile project manager")
    old, new = (v.extraction for v in services.versions(order))
    services.redline(old, new)
    return order_services.accept_delivery(order.pk, actor=order.client)


def _later(days: int):
    return timezone.now() + timedelta(days=days)


def _keys(order):
    return [v.asset.key for v in services.versions(order)]


def test_the_parties_are_warned_once_fourteen_days_ahead(order_with_cv, deliver, django_capture_on_commit_callbacks):
    order = _finished_order_with_data(order_with_cv, deliver)
    assert services.warn_before_purge(now=_later(165)) == 0
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.warn_before_purge(now=_later(167)) == 1
    notes = Notification.objects.filter(kind="documents_retention")
    assert sorted(n.user_id for n in notes) == sorted([order.client_id, order.coach_id])
    assert all(f"/orders/{order.pk}/" == n.link and "will be deleted on" in n.text for n in notes)
    assert sorted(m.to[0] for m in mail.outbox) == sorted([order.client.email, order.coach.email])
    assert all("Download your documents: they will be deleted on" in m.subject for m in mail.outbox)
    assert all(f"/orders/{order.pk}/" in m.body and "Export my data" in m.body for m in mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.warn_before_purge(now=_later(168)) == 0  # once: a second run (or redelivery) sends nothing
    assert notes.count() == 2 and len(mail.outbox) == 2
    assert AuditLog.objects.filter(action="documents.retention_warned", target_id=str(order.pk)).count() == 1


def test_the_purge_deletes_files_and_data_only_after_period_and_notice(
    order_with_cv, deliver, django_capture_on_commit_callbacks
):
    order = _finished_order_with_data(order_with_cv, deliver)
    keys = _keys(order)
    assert all(default_storage.exists(key) for key in keys)
    assert services.purge_expired(now=_later(181)) == 0, "nobody was told yet: nothing is deleted"
    services.warn_before_purge(now=_later(181))
    assert services.purge_expired(now=_later(190)) == 0, "told 9 days ago: still within the notice period"
    with django_capture_on_commit_callbacks(execute=True):
        assert services.purge_expired(now=_later(196)) == 1
    assert not Extraction.objects.exists() and not Redline.objects.exists()
    assert not Comment.objects.exists() and not JobDescription.objects.exists()
    assert not any(default_storage.exists(key) for key in keys), "the stored bytes are gone, not only rows"
    assert FileAsset.objects.live().filter(key__in=keys).count() == 0
    row = OrderRetention.objects.get(order=order)
    assert row.deleted == {"files": 2, "texts": 2, "redlines": 1, "comments": 1, "job_descriptions": 1}
    assert row.retention_days == 180
    audit = AuditLog.objects.get(action="documents.purged", target_id=str(order.pk))
    assert audit.details["files"] == 2
    assert AuditLog.objects.filter(action="files.erased").count() == 2
    assert services.purge_expired(now=_later(197)) == 0
    order.refresh_from_db()
    assert order.status == "completed"


def test_an_active_order_keeps_its_documents(order_with_cv, deliver):
    order = deliver(order_with_cv, builders.CV_V2)
    assert services.warn_before_purge(now=_later(1000)) == 0
    assert services.purge_expired(now=_later(1000)) == 0
    assert Extraction.objects.count() == 2
    assert all(default_storage.exists(key) for key in _keys(order))


def test_a_cv_still_used_by_another_live_request_is_kept(order_with_cv, deliver):
    from requests_app.tests.factories import ServiceRequestFactory

    order = _finished_order_with_data(order_with_cv, deliver)
    cv = order.request.attachments.get()
    ServiceRequestFactory(client=order.client).attachments.add(cv)
    services.warn_before_purge(now=_later(181))
    assert services.purge_expired(now=_later(200)) == 1
    cv.refresh_from_db()
    assert cv.deleted_at is None and default_storage.exists(cv.key)
    assert Extraction.objects.filter(asset=cv).exists()
    assert OrderRetention.objects.get(order=order).deleted["files"] == 1


def test_the_order_page_warns_then_says_what_was_removed(order_with_cv, deliver, client):
    order = _finished_order_with_data(order_with_cv, deliver)
    client.force_login(order.client)
    page = client.get(f"/orders/{order.pk}/").content.decode()
    assert 'data-retention="kept"' in page and "180 days after the order ended" in page
    services.warn_before_purge(now=_later(167))
    OrderRetention.objects.update(warned_at=timezone.now() - 170 * DAY)
    type(order).objects.filter(pk=order.pk).update(completed_at=timezone.now() - 170 * DAY)
    page = client.get(f"/orders/{order.pk}/").content.decode()
    assert 'data-retention="warning"' in page and "These documents will be deleted on" in page
    services.purge_expired(now=_later(20))
    response = client.get(f"/orders/{order.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-retention="purged"' in page
    assert "were removed on" in page and "180 days after the order ended" in page
    assert "2 files" in page and "1 comment" in page and "1 target job" in page
    assert f"/documents/orders/{order.pk}/read/" not in page


def test_the_retention_jobs_run_daily_on_beat(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["documents-purge-expired"]["task"] == "documents.tasks.purge_expired"
    assert schedule["documents-warn-before-purge"]["task"] == "documents.tasks.warn_before_purge"


def test_the_order_page_reads_the_retention_row_without_compiling_its_query(client_user, coach_user, compilations):
    """retention_state's row is compiled once per process (core.sqlmemo, issue 13): each finished order's state is
    what its own row (or none) says, and a second order's compiles no OrderRetention query."""
    from django.conf import settings

    from orders.models import Order, OrderStatus
    from orders.tests.factories import make_order

    finished = timezone.now() - 10 * DAY
    orders = []
    for _ in range(3):
        order = make_order(client=client_user, coach=coach_user)
        Order.objects.filter(pk=order.pk).update(status=OrderStatus.COMPLETED, completed_at=finished)
        orders.append(Order.objects.get(pk=order.pk))
    plain, warned, purged = orders
    OrderRetention.objects.create(order=warned, retention_days=180, warned_at=finished + 200 * DAY)
    OrderRetention.objects.create(
        order=purged, retention_days=30, purged_at=finished + 30 * DAY, deleted={"files": 2, "comments": 1}
    )
    services.retention_state(plain)
    compilations.clear()
    for _ in range(2):
        assert services.retention_state(plain).purged_at is None and services.retention_state(plain).deleted == {}
        state = services.retention_state(warned)
        assert state.purged_at is None
        assert state.delete_on == finished + (200 + settings.DOCUMENTS_RETENTION_WARNING_DAYS) * DAY
        state = services.retention_state(purged)
        assert state.purged_at == finished + 30 * DAY and state.days == 30
        assert state.deleted == {"files": 2, "comments": 1} and state.delete_on == state.purged_at
    assert OrderRetention not in compilations
