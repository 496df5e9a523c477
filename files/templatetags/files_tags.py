from django import template
from django.conf import settings
from django.template.defaultfilters import filesizeformat

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
    return filesizeformat(settings.FILE_UPLOAD_MAX_BYTES)


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
