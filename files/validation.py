"""Decide what an upload is from its bytes, never from its name or the browser's content type.

Documents: PDF (not encrypted) and DOCX (an OOXML package whose main part is a Word document,
without macros). Avatars: PNG, JPEG or WebP, re-encoded by Pillow so no metadata survives.
"""

import io
import logging
import posixpath
import unicodedata
import zipfile
from dataclasses import dataclass
from xml.etree import ElementTree  # nosec B405

from django.conf import settings
from PIL import Image, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from core.exceptions import DomainError

logger = logging.getLogger(__name__)

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
IMAGE_TYPES = {"PNG": ("image/png", ".png"), "JPEG": ("image/jpeg", ".jpg"), "WEBP": ("image/webp", ".webp")}

DOCUMENTS_ACCEPTED = "PDF (.pdf) or Word (.docx)"
IMAGES_ACCEPTED = "PNG, JPEG or WebP"

# A DOCX's [Content_Types].xml is a few KB; refuse absurd ones rather than parse them.
# Parsed with the stdlib (expat refuses entity-expansion bombs); the part is size-capped first.
_MAX_CONTENT_TYPES_BYTES = 512 * 1024
# Small parts (a few KB of repetitive XML) may compress very well; the ratio limit applies above this size,
# where a bomb's parts are (the total size limit still covers the rest).
_RATIO_CHECKED_FROM_BYTES = 64 * 1024
_MAX_IMAGE_PIXELS = 40_000_000
AVATAR_MAX_SIDE = 512
_NS_CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"


class UnsupportedFileType(DomainError):
    status = 415


class FileTooLarge(DomainError):
    status = 413


@dataclass(frozen=True)
class Detected:
    content_type: str
    extension: str


def _refuse_document(reason: str = "") -> UnsupportedFileType:
    prefix = f"{reason} " if reason else "This file type is not accepted. "
    return UnsupportedFileType(f"{prefix}Please upload a {DOCUMENTS_ACCEPTED} file.")


def detect_document(fileobj) -> Detected:
    """PDF or DOCX by content; anything else raises UnsupportedFileType (HTTP 415)."""
    fileobj.seek(0)
    head = fileobj.read(8)
    fileobj.seek(0)
    if head.startswith(b"%PDF-"):
        _check_pdf(fileobj)
        return Detected(PDF, ".pdf")
    if head.startswith(b"PK\x03\x04"):
        _check_docx(fileobj)
        return Detected(DOCX, ".docx")
    raise _refuse_document()


def _check_pdf(fileobj) -> None:
    try:
        reader = PdfReader(fileobj, strict=False)
        encrypted = reader.is_encrypted
        if not encrypted and len(reader.pages) < 1:
            raise _refuse_document("This PDF has no pages.")
    except UnsupportedFileType:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError) as exc:
        logger.info("refused unreadable PDF: %s", exc)
        raise _refuse_document("This PDF could not be read; it may be damaged.") from exc
    finally:
        fileobj.seek(0)
    if encrypted:
        raise _refuse_document("Password-protected (encrypted) PDFs cannot be accepted: remove the password first.")


def _check_docx(fileobj) -> None:
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _refuse_document() from exc
    try:
        infos = archive.infolist()
        _check_zip_directory(infos)
        names = {info.filename for info in infos}
        lowered = {name.lower() for name in names}
        if any(posixpath.basename(name) == "vbaproject.bin" for name in lowered):
            raise _refuse_document("Documents with macros cannot be accepted.")
        if "[Content_Types].xml" not in names or "word/document.xml" not in names:
            raise _refuse_document("This ZIP file is not a Word document.")
        info = archive.getinfo("[Content_Types].xml")
        if info.file_size > _MAX_CONTENT_TYPES_BYTES:
            raise _refuse_document()
        root = ElementTree.fromstring(archive.read(info))  # noqa: S314  # nosec B314
    except UnsupportedFileType:
        raise
    except (zipfile.BadZipFile, ElementTree.ParseError, OSError, ValueError, KeyError, RuntimeError) as exc:
        # RuntimeError: zipfile raises it for encrypted members.
        raise _refuse_document("This Word document could not be read; it may be damaged.") from exc
    finally:
        archive.close()
        fileobj.seek(0)
    content_types = [
        el.get("ContentType", "") for el in root.iter() if el.tag in (_NS_CT + "Default", _NS_CT + "Override")
    ]
    if any("macroenabled" in ct.lower() or "vbaproject" in ct.lower() for ct in content_types):
        raise _refuse_document("Documents with macros cannot be accepted.")
    main = next(
        (
            el.get("ContentType", "")
            for el in root.iter(_NS_CT + "Override")
            if el.get("PartName", "").lower() == "/word/document.xml"
        ),
        "",
    )
    if main != DOCX_MAIN:
        raise _refuse_document("This file is not a Word document (.docx).")


def _check_zip_directory(infos: list[zipfile.ZipInfo]) -> None:
    """Refuse a zip bomb from the central directory alone, before any part is unpacked.

    Entry count and each part's compression ratio → 415; total unpacked size → 413. The sizes are the
    ones the directory declares; zipfile never inflates a part past its declared size, and clamd's own
    limits (deploy/clamd.conf, AlertExceedsMax) flag anything that lies about them.
    """
    if len(infos) > settings.FILE_DOCX_MAX_ENTRIES:
        raise _refuse_document(f"This Word document has too many parts (more than {settings.FILE_DOCX_MAX_ENTRIES}).")
    total = sum(info.file_size for info in infos)
    if total > settings.FILE_DOCX_MAX_UNCOMPRESSED_BYTES:
        limit_mb = settings.FILE_DOCX_MAX_UNCOMPRESSED_BYTES // (1024 * 1024)
        raise FileTooLarge(f"This Word document unpacks to more than {limit_mb} MB. Please upload a smaller file.")
    ratio = settings.FILE_DOCX_MAX_COMPRESSION_RATIO
    for info in infos:
        if info.file_size > _RATIO_CHECKED_FROM_BYTES and info.file_size > ratio * max(info.compress_size, 1):
            raise _refuse_document(
                "This Word document is compressed far more than a real document can be (a possible zip bomb)."
            )


def reencode_image(fileobj) -> tuple[io.BytesIO, Detected]:
    """Decode an avatar and write its pixels afresh (at most 512 px a side): EXIF, GPS, ICC and comments
    do not survive."""
    fileobj.seek(0)
    refuse = UnsupportedFileType(f"This image type is not accepted. Please upload a {IMAGES_ACCEPTED} image.")
    try:
        with Image.open(fileobj) as image:
            if image.format not in IMAGE_TYPES:
                raise refuse
            width, height = image.size
            if width * height > _MAX_IMAGE_PIXELS:
                raise UnsupportedFileType("This image is too large (too many pixels).")
            image.load()
            fmt = image.format
            mode = "RGBA" if image.mode in ("RGBA", "LA", "P", "PA") and fmt != "JPEG" else "RGB"
            pixels = image.convert(mode)
    except UnsupportedFileType:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise refuse from exc
    pixels.thumbnail((AVATAR_MAX_SIDE, AVATAR_MAX_SIDE))
    clean = Image.new(pixels.mode, pixels.size)
    clean.paste(pixels)
    out = io.BytesIO()
    options = {"quality": 88} if fmt in ("JPEG", "WEBP") else {"optimize": True}
    clean.save(out, format=fmt, **options)
    out.seek(0)
    content_type, extension = IMAGE_TYPES[fmt]
    return out, Detected(content_type, extension)


_BIDI_AND_INVISIBLE = {
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u061c",
    "\ufeff",
}
MAX_DISPLAY_NAME = 120


def display_name(raw: str | None, *, extension: str) -> str:
    """A safe name to show: no path parts, control, format or bidi characters, and a length cap.

    The extension is the one we detected, so `invoice.pdf.exe` that is really a PDF shows as
    `invoice.pdf.exe.pdf` rather than pretending to be something else.
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(
        ch for ch in name if ch not in _BIDI_AND_INVISIBLE and unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")
    )
    name = " ".join(name.split()).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if dot and "." + ext.lower() in {extension, ".jpeg" if extension == ".jpg" else extension}:
        name = stem.strip(" .")
    if not name:
        name = "document" if extension in (".pdf", ".docx") else "image"
    return name[: MAX_DISPLAY_NAME - len(extension)].rstrip(" .") + extension
