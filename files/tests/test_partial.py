"""The reusable upload area renders for a form, and lets a client re-attach a CV without JavaScript."""

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory

from files import services

from .samples import pdf_bytes, upload

pytestmark = pytest.mark.django_db


def render(user, **context):
    request = RequestFactory().get("/requests/new/")
    request.user = user
    return render_to_string("files/partials/upload_field.html", {"user": user, **context}, request=request)


def test_upload_area_has_a_plain_file_input_and_the_script(client_user):
    html = render(client_user, category="delivery", label="Delivery files")
    assert 'type="file"' in html and 'name="files"' in html and "multiple" in html
    assert 'data-category="delivery"' in html
    assert "/static/js/uploads.js" in html
    assert 'role="progressbar"' in html
    assert "up to 10 MB" in html
    assert "<form" not in html  # it lives inside the caller's form


def test_existing_attachments_are_kept_as_hidden_ids(client_user):
    asset = services.store_upload(upload(pdf_bytes(), "Jane.pdf"), actor=client_user, category="cv_upload")
    html = render(client_user, category="cv_upload", existing=[asset])
    assert f'<input type="hidden" name="attachment_ids" value="{asset.pk}">' in html
    assert "Jane.pdf" in html


def test_recent_cvs_can_be_reattached_with_a_checkbox(client_user, other_client):
    mine = services.store_upload(upload(pdf_bytes(), "My CV.pdf"), actor=client_user, category="cv_upload")
    services.store_upload(upload(pdf_bytes(), "Theirs.pdf"), actor=other_client, category="cv_upload")
    html = render(client_user, category="cv_upload")
    assert f'type="checkbox" name="attachment_ids" value="{mine.pk}"' in html
    assert "Theirs.pdf" not in html
    assert 'type="checkbox"' not in render(client_user, category="cv_upload", no_library=True)
    assert 'type="checkbox"' not in render(client_user, category="cv_upload", existing=[mine])


def test_standalone_area_is_its_own_form_posting_to_the_upload_endpoint(client_user):
    html = render(client_user, category="cv_upload", standalone=True)
    assert 'action="/files/upload/"' in html and 'enctype="multipart/form-data"' in html
    assert "csrfmiddlewaretoken" in html
    assert 'type="checkbox"' not in html


def test_standalone_area_can_list_recent_uploads_without_attaching_them(client_user):
    asset = services.store_upload(upload(pdf_bytes(), "Latest CV.pdf"), actor=client_user, category="cv_upload")
    html = render(client_user, category="cv_upload", standalone=True, show_recent=True)
    assert "Latest CV.pdf" in html and f'data-file-id="{asset.pk}"' in html
    assert 'name="attachment_ids"' not in html
    assert "Latest CV.pdf" not in render(client_user, category="cv_upload", standalone=True)
