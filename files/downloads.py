"""Short-lived download links: S3 presigned URLs, or Django-signed links to our streaming view.

A link works for anyone holding it until it expires (like an S3 presigned URL), so it is only
ever handed out by the access-checked redirect view, and lives for FILE_URL_TTL_SECONDS.
"""

import re
from typing import cast

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage

from .models import FileAsset, StorageKind

SALT = "files.download.v1"


def disposition(asset: FileAsset, *, inline: bool) -> str:
    """RFC 6266 / 5987: an ASCII fallback name plus filename*=UTF-8''… for any other name."""
    # Django answers None only for an inline file without a name: then plain "inline" says it all.
    return content_disposition_header(not inline, asset.original_name) or "inline"


def may_show_inline(asset: FileAsset) -> bool:
    # Only PDFs open in the browser (the preview link); Word documents are always downloads.
    return asset.content_type == "application/pdf"


def signed_url(asset: FileAsset, *, inline: bool = False) -> str:
    inline = inline and may_show_inline(asset)
    ttl = settings.FILE_URL_TTL_SECONDS
    if asset.storage == StorageKind.S3:
        # An S3 asset is only ever stored while the S3 backend is the default storage.
        s3: S3Storage = cast(S3Storage, default_storage)
        return s3.url(
            asset.key,
            parameters={
                "ResponseContentDisposition": disposition(asset, inline=inline),
                "ResponseContentType": asset.content_type,
            },
            expire=ttl,
        )
    token = signing.dumps({"id": asset.pk, "k": asset.key, "i": int(inline)}, salt=SALT, compress=True)
    return reverse("files:serve", args=[token])


def read_token(token: str) -> dict:
    """Raises signing.SignatureExpired or signing.BadSignature."""
    return signing.loads(token, salt=SALT, max_age=settings.FILE_URL_TTL_SECONDS)


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class UnsatisfiableRange(Exception):
    pass


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One byte range (start, end inclusive), None to send the whole file, or UnsatisfiableRange.

    Several ranges or an unparsable header are ignored (the whole file is sent), as RFC 9110
    allows; a well-formed range outside the file is 416.
    """
    match = _RANGE.match(header.strip()) if header else None
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise UnsatisfiableRange
        return max(0, size - length), size - 1
    start = int(first)
    if start >= size:
        raise UnsatisfiableRange
    end = int(last) if last else size - 1
    if end < start:
        return None
    return start, min(end, size - 1)
