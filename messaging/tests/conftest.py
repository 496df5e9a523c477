import pytest
from django.test import Client

from messaging.models import MessageThread


@pytest.fixture
def thread(order):
    """The order's thread, opened by the order_created signal."""
    return MessageThread.objects.get(order=order)


@pytest.fixture
def login_cookie():
    """A real session for `user` (as the login view would make), returned as a Cookie header value."""

    def make(user) -> str:
        client = Client()
        client.force_login(user)
        return f"sessionid={client.cookies['sessionid'].value}"

    return make


@pytest.fixture
def media_root(settings, tmp_path):
    """Uploads go to a folder of this test, scanned by the no-op scanner (no clamd needed here)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.FILE_STORAGE_KIND = "local"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    settings.CLAMD_URL = ""
    settings.FILE_SCAN_NOOP_ALLOWED = True
    return tmp_path / "media"


@pytest.fixture
def pdf_upload():
    from files.tests.samples import pdf_bytes, upload

    def make(name="draft.pdf", text="Draft CV"):
        return upload(pdf_bytes(text), name=name)

    return make
