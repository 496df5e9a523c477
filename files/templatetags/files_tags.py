from django import template
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from core import sqlmemo

register = template.Library()

_ICONS = {
    "application/pdf": "bi-file-earmark-pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "bi-file-earmark-word",
}
_BADGES = {
    "pending": ("text-bg-secondary", "Scanning…"),
    "clean": ("text-bg-success", "Ready"),
    "infected": ("text-bg-danger", "Blocked: virus found"),
    "error": ("text-bg-warning", "Scan failed"),
}


@register.simple_tag
def upload_limit() -> str:
    mb = settings.FILE_UPLOAD_MAX_BYTES / (1024 * 1024)
    return f"{mb:g} MB" if mb >= 1 else filesizeformat(settings.FILE_UPLOAD_MAX_BYTES)


@register.simple_tag
def upload_limit_bytes() -> int:
    return settings.FILE_UPLOAD_MAX_BYTES


@register.filter
def file_icon(asset) -> str:
    if asset.content_type.startswith("image/"):
        return "bi-file-earmark-image"
    return _ICONS.get(asset.content_type, "bi-file-earmark")


@register.filter
def scan_badge_class(asset) -> str:
    return _BADGES.get(asset.scan_status, _BADGES["error"])[0]


@register.filter
def scan_badge_label(asset) -> str:
    return _BADGES.get(asset.scan_status, _BADGES["error"])[1]


@register.simple_tag
def recent_uploads(user, category, existing=None, limit: int = 5) -> list:
    """The user's latest live uploads of a category, to attach again without re-uploading."""
    from files.models import FileAsset, ScanStatus

    if not getattr(user, "is_authenticated", False) or not category:
        return []
    skip = [asset.pk for asset in existing or []]

    def build(given):
        uploads = FileAsset.objects.live().filter(owner_id=given["owner"], category=given["category"])
        return uploads.exclude(scan_status=ScanStatus.INFECTED).exclude(pk__in=skip)[:limit]

    if skip:  # ids to leave out: a list of its own length, not one shape
        return list(build({"owner": user.pk, "category": category}))
    # Every page with an upload area asks this (dashboards, order pages): compiled once per process and kept
    # prepared (core.sqlmemo; a lookup by owner, whose generic plan is the custom one).
    return sqlmemo.instances(
        ("recent uploads", int(limit)), build, {"owner": user.pk, "category": category}, prepare=True
    )


@register.simple_tag
def listed_uploads(user, category, existing=None, show_recent=False) -> list:
    """What an upload area lists at first: the attached files, or (show_recent) the latest uploads."""
    if existing:
        return list(existing)
    if show_recent:
        return recent_uploads(user, category, limit=3)
    return []


@register.simple_tag
def latest_data_export(user):
    """The user's latest data export, for the profile page's panel (one query)."""
    from files.services import latest_export

    return latest_export(user)
