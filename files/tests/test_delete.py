"""Owners delete their uploads (soft delete now, storage removal by a job); deliveries are kept."""

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from core.exceptions import InvalidState, NotPermitted
from files import services
from files.models import FileAsset

from .samples import docx_bytes, pdf_bytes, upload

pytestmark = pytest.mark.django_db


def test_owner_deletes_an_upload_and_a_job_removes_the_bytes(
    csrf_client, client_user, django_capture_on_commit_callbacks
):
    asset = services.store_upload(upload(pdf_bytes()), actor=client_user, category="cv_upload")
    csrf_client.force_login(client_user)
    page = csrf_client.get(reverse("files:list"))
    assert asset.original_name in page.content.decode()
    token = csrf_client.cookies["csrftoken"].value
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = csrf_client.post(reverse("files:delete", args=[asset.pk]), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert len(callbacks) == 1
    asset.refresh_from_db()
    assert asset.deleted_at is not None
    assert not default_storage.exists(asset.key)
    page = csrf_client.get(reverse("files:list")).content.decode()
    assert "Deleted cv.pdf." in page  # the flash message
    assert reverse("files:delete", args=[asset.pk]) not in page


def test_deleting_without_csrf_is_refused(csrf_client, client_user):
    asset = services.store_upload(upload(pdf_bytes()), actor=client_user, category="cv_upload")
    csrf_client.force_login(client_user)
    assert csrf_client.post(reverse("files:delete", args=[asset.pk])).status_code == 403
    asset.refresh_from_db()
    assert asset.deleted_at is None


def test_someone_elses_file_is_404_and_untouched(client, client_user, other_client, staff_user):
    asset = services.store_upload(upload(pdf_bytes()), actor=client_user, category="cv_upload")
    for user in (other_client, staff_user):
        client.force_login(user)
        assert client.post(reverse("files:delete", args=[asset.pk])).status_code == 404
    asset.refresh_from_db()
    assert asset.deleted_at is None
    with pytest.raises(NotPermitted):
        services.delete_upload(asset, actor=other_client)


def test_delivered_files_are_kept(client, paid_order, coach_user):
    from orders import services as orders

    delivery = services.store_upload(upload(docx_bytes(), "final.docx"), actor=coach_user, category="delivery")
    orders.deliver(paid_order.pk, actor=coach_user, files=[delivery])
    with pytest.raises(InvalidState):
        services.delete_upload(delivery, actor=coach_user)
    client.force_login(coach_user)
    response = client.post(reverse("files:delete", args=[delivery.pk]), headers={"Accept": "application/json"})
    assert response.status_code == 409
    assert "kept" in response.json()["error"]
    delivery.refresh_from_db()
    assert delivery.deleted_at is None
    assert default_storage.exists(delivery.key)


def test_a_file_deleted_before_delivery_is_refused_and_the_order_stays_in_progress(paid_order, coach_user):
    from orders import services as orders

    draft = services.store_upload(upload(docx_bytes(), "draft.docx"), actor=coach_user, category="delivery")
    services.delete_upload(draft, actor=coach_user)
    with pytest.raises(InvalidState, match="deleted"):
        orders.deliver(paid_order.pk, actor=coach_user, files=[draft])
    paid_order.refresh_from_db()
    assert paid_order.status == "in_progress"
    assert not paid_order.deliveries.exists()


def test_deleted_files_cannot_be_attached(client_user):
    from django.core.exceptions import ValidationError

    asset = services.store_upload(upload(pdf_bytes()), actor=client_user, category="cv_upload")
    assert services.assets_for_attach(client_user, [str(asset.pk)], "cv_upload") == [asset]
    services.delete_upload(asset, actor=client_user)
    with pytest.raises(ValidationError):
        services.assets_for_attach(client_user, [asset.pk], "cv_upload")


def test_assets_for_attach_refuses_other_peoples_and_wrong_category(client_user, other_client):
    from django.core.exceptions import ValidationError

    mine = services.store_upload(upload(pdf_bytes()), actor=client_user, category="cv_upload")
    theirs = services.store_upload(upload(pdf_bytes()), actor=other_client, category="cv_upload")
    assert services.assets_for_attach(client_user, [mine.pk, mine.pk, ""], "cv_upload") == [mine]
    for ids, category in (([theirs.pk], "cv_upload"), ([mine.pk], "message_attachment"), (["x"], "cv_upload")):
        with pytest.raises(ValidationError):
            services.assets_for_attach(client_user, ids, category)
    assert services.assets_for_attach(client_user, [], "cv_upload") == []


def test_file_list_paginates_with_constant_queries(client, client_user, django_assert_max_num_queries):
    client.force_login(client_user)
    for _ in range(3):
        services.store_upload(upload(pdf_bytes()), actor=client_user, category="cv_upload")
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("files:list"))
    for _ in range(22):
        services.store_upload(upload(pdf_bytes()), actor=client_user, category="cv_upload")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("files:list"))
    assert response.content.decode().count('/delete/"') == 20
    assert "Page 1 of 2" in response.content.decode()
    assert FileAsset.objects.filter(owner=client_user).count() == 25


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_orphaned_bytes_from_a_rolled_back_upload_are_swept(request, client_user, backend):

    from django.db import transaction

    if backend == "s3":
        request.getfixturevalue("s3")
    kept = services.store_upload(upload(pdf_bytes()), actor=client_user, category="cv_upload")
    with pytest.raises(RuntimeError), transaction.atomic():
        lost = services.store_upload(upload(pdf_bytes()), actor=client_user, category="cv_upload")
        raise RuntimeError("the caller failed after storing")
    assert not FileAsset.objects.filter(pk=lost.pk).exists()
    assert default_storage.exists(lost.key)
    assert services.sweep_orphans(older_than_minutes=60) == 0  # too fresh: its row may be on its way
    assert services.sweep_orphans(older_than_minutes=-1) == 1
    assert not default_storage.exists(lost.key)
    assert default_storage.exists(kept.key)
