"""Files a form brings along: ids of uploads the widget already made, plus plain `files` (no JavaScript).

Shared by the request form and the delivery form (orders imports it; requests_app sits below orders).
"""

from django.core.exceptions import ValidationError

from core.exceptions import DomainError
from files.services import assets_for_attach, store_upload


class AttachmentError(DomainError):
    """A bad attachment; `status` follows the cause (400, 413 too large, 415 wrong type)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def collect_attachments(request, *, category: str) -> list:
    """Resolve `attachment_ids` (the user's own live uploads) and store each plain `files` upload.

    Ids are checked before anything is stored, so a bad id stores nothing.
    """
    try:
        assets = assets_for_attach(request.user, request.POST.getlist("attachment_ids"), category)
    except ValidationError as exc:
        raise AttachmentError(" ".join(exc.messages)) from exc
    for uploaded in request.FILES.getlist("files"):
        try:
            assets.append(store_upload(uploaded, actor=request.user, category=category))
        except DomainError as exc:
            raise AttachmentError(f"{uploaded.name}: {exc.message}", exc.status) from exc
    return assets


def attached_again(request, *, category: str) -> list:
    """The uploads to show again when a form is re-rendered with errors (never raises)."""
    try:
        return assets_for_attach(request.user, request.POST.getlist("attachment_ids"), category)
    except ValidationError:
        return []
