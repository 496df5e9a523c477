"""Fixtures of documents: an isolated media folder (from files), and an order whose CV and deliveries
are real uploads that went through the real store → scan → extract chain."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from files.tests.conftest import media_root  # noqa: F401 - re-exported fixture (autouse)
from orders.tests.conftest import page_as  # noqa: F401 - re-exported fixture

from . import builders

PDF = "application/pdf"


@pytest.fixture
def upload(django_capture_on_commit_callbacks):
    """upload(owner, data, name, category) → the FileAsset after its scan and extraction ran."""
    from files import services as file_services

    def make(owner, data: bytes, name: str = "cv.pdf", category: str = "cv_upload"):
        with django_capture_on_commit_callbacks(execute=True):
            asset = file_services.store_upload(SimpleUploadedFile(name, data), actor=owner, category=category)
        asset.refresh_from_db()
        return asset

    return make


@pytest.fixture
def order_with_cv(upload, client_user, coach_user):
    """An order in progress whose request carries the client's CV (version 1 of the text)."""
    from orders import services as order_services
    from orders.tests.factories import make_order

    cv = upload(client_user, builders.cv_pdf(builders.CV_V1), "jane-cv.pdf")
    order = make_order(client=client_user, coach=coach_user)
    order.request.attachments.add(cv)
    return order_services.mark_paid(order.pk, actor=None)


@pytest.fixture
def deliver(upload, coach_user, django_capture_on_commit_callbacks):
    """deliver(order, lines) → the order after the coach delivered a PDF with these lines."""
    from orders import services as order_services

    def make(order, lines, name="jane-cv-improved.pdf"):
        asset = upload(coach_user, builders.cv_pdf(lines), name, "delivery")
        with django_capture_on_commit_callbacks(execute=True):
            return order_services.deliver(order.pk, actor=coach_user, files=[asset])

    return make
