"""Receivers of signals sent by the apps below documents."""

from files.models import FileCategory

READABLE_CATEGORIES = {FileCategory.CV_UPLOAD, FileCategory.DELIVERY}


def extract_scanned_file(sender, *, asset_id: int, category: str, **kwargs) -> None:
    """A CV or a delivery was scanned clean (after that commit): read its text in the background."""
    if category not in READABLE_CATEGORIES:
        return
    from .tasks import extract_text

    extract_text.delay(asset_id)


def carry_job_onto_order(sender, *, order, **kwargs) -> None:
    """An order was created from a request: the target job pasted on the request comes along."""
    from .services import carry_request_job

    carry_request_job(order)
