"""A user's data export holds their profile, orders, requests, messages, comments, target jobs, the text
of their files and the files themselves; never another user's data, not even the other party's words."""

import io
import zipfile

import pytest

from documents import services
from files import services as file_services
from files.models import DataExport, ExportStatus, FileAsset, FileCategory
from messaging.services import get_or_create_thread, send_message
from notifications.models import Notification
from orders.tests.factories import make_order
from requests_app.models import ServiceRequest

from . import builders

pytestmark = pytest.mark.django_db


def _zip_of(user, django_capture_on_commit_callbacks) -> dict[str, bytes]:
    with django_capture_on_commit_callbacks(execute=True):
        export = file_services.request_export(user, actor=user)
    export.refresh_from_db()
    assert export.status == ExportStatus.READY and export.asset is not None, export.failure
    from django.core.files.storage import default_storage

    with default_storage.open(export.asset.key, "rb") as stored:
        archive = zipfile.ZipFile(io.BytesIO(stored.read()))
    return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture
def two_orders(order_with_cv, deliver, upload, other_client, other_coach):
    """Mine (client_user with coach_user, with everything) and a stranger's (other_client, other_coach)."""
    mine = deliver(order_with_cv, builders.CV_V2)
    ServiceRequest.objects.filter(pk=mine.request_id).update(job_description="MY-REQUEST-JOB text")
    version = services.versions(mine)[-1]
    services.add_comment(mine, actor=mine.client, version=version, block=4, quote="Led a team", body="MY-COMMENT")
    coach_note = services.add_comment(
        mine, actor=mine.coach, version=version, block=4, quote="Led a team", body="COACH-COMMENT"
    )
    services.add_job_description(mine, actor=mine.client, title="MY-JOB", text="Agile project manager MY-JOB")
    thread = get_or_create_thread(mine)
    send_message(thread, actor=mine.client, body="MY-MESSAGE hello")
    send_message(thread, actor=mine.coach, body="COACH-MESSAGE reply")

    theirs = make_order(client=other_client, coach=other_coach)
    stranger_cv = upload(other_client, builders.cv_pdf(["STRANGER-CV-TEXT", "Somebody else entirely"]), "theirs.pdf")
    theirs.request.attachments.add(stranger_cv)
    services.add_job_description(theirs, actor=other_client, title="STRANGER-JOB", text="STRANGER-JOB text")
    send_message(get_or_create_thread(theirs), actor=other_client, body="STRANGER-MESSAGE")
    return mine, theirs, coach_note


def test_the_clients_export_has_their_data_and_nobody_elses(two_orders, django_capture_on_commit_callbacks):
    mine, theirs, _ = two_orders
    entries = _zip_of(mine.client, django_capture_on_commit_callbacks)
    everything = b"\n".join(entries.values())
    for name in [
        "README.txt",
        "account/profile.json",
        "account/files.json",
        "requests/requests.json",
        "orders/orders.json",
        "messages/messages.json",
        "documents/comments.json",
        "documents/job_descriptions.json",
    ]:
        assert name in entries, name
    assert mine.client.email.encode() in entries["account/profile.json"]
    for mine_marker in (b"MY-COMMENT", b"MY-JOB", b"MY-MESSAGE", b"MY-REQUEST-JOB"):
        assert mine_marker in everything, mine_marker
    originals = [name for name in entries if name.startswith("files/")]
    assert len(originals) == 2, "their CV and the delivery made for them"
    assert any(name.endswith("jane-cv.pdf") for name in originals)
    assert entries[next(n for n in originals if n.endswith("jane-cv.pdf"))].startswith(b"%PDF")
    texts = [name for name in entries if name.startswith("documents/texts/")]
    assert len(texts) == 2 and b"Led a team" in b"".join(entries[t] for t in texts)
    # nobody else's data: the stranger's, nor the coach's own words on my order
    for foreign in (b"STRANGER", b"COACH-MESSAGE", b"COACH-COMMENT", theirs.client.email.encode()):
        assert foreign not in everything, foreign


def test_the_coachs_export_has_their_words_and_deliveries_not_the_clients(
    two_orders, django_capture_on_commit_callbacks
):
    mine, _, _ = two_orders
    entries = _zip_of(mine.coach, django_capture_on_commit_callbacks)
    everything = b"\n".join(entries.values())
    assert b"COACH-MESSAGE" in everything and b"COACH-COMMENT" in everything
    assert [name for name in entries if name.startswith("files/")] == [
        name for name in entries if name.startswith("files/") and name.endswith("jane-cv-improved.pdf")
    ]
    for foreign in (b"MY-MESSAGE", b"MY-COMMENT", b"MY-JOB", b"MY-REQUEST-JOB", b"STRANGER"):
        assert foreign not in everything, foreign


def test_the_export_is_the_users_own_file_and_they_are_told(two_orders, django_capture_on_commit_callbacks, client):
    mine, theirs, _ = two_orders
    _zip_of(mine.client, django_capture_on_commit_callbacks)
    export = DataExport.objects.get(user=mine.client)
    assert export.asset.owner == mine.client and export.asset.category == FileCategory.DATA_EXPORT
    assert Notification.objects.filter(user=mine.client, kind="data_export_ready").count() == 1
    client.force_login(mine.client)
    assert client.get(f"/files/{export.asset.pk}/").status_code == 302
    client.force_login(theirs.client)
    assert client.get(f"/files/{export.asset.pk}/").status_code == 404
    # a later export never contains the earlier one
    entries = _zip_of(mine.client, django_capture_on_commit_callbacks)
    assert not any(name.endswith(".zip") for name in entries)
    assert FileAsset.objects.filter(category=FileCategory.DATA_EXPORT).count() == 2
