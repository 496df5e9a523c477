"""Read the text and structure of a PDF (pypdf) or DOCX (python-docx) without touching the database.

The result is a list of blocks (heading, paragraph, item, table) plus facts that the job-match report
needs (pages, text layer, images, tables, columns, contact details in headers or footers). Every way a
file can be unreadable raises ExtractionFailed with a code and a sentence a client understands.
PDF tables are read where they are drawn (documents.pdf_tables); borderless ones read as lines.
Nothing here logs the text: it is personal data.
"""

from __future__ import annotations

import io
import math
import re
import statistics
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import pdf_tables

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?:\+|\b)\d[\d ()./-]{7,}\d\b")
BULLET = re.compile(r"^\s*(?:[•·▪◦‣●○■□➢➤✓\-–—*]|\(?\d{1,2}[.)])\s+")
WORDS_PER_PAGE = 450  # a DOCX has no pages until Word lays it out: estimate from the words


@dataclass
class Limits:
    max_pages: int
    max_chars: int
    seconds: float
    max_unzipped_bytes: int


@dataclass
class Extracted:
    kind: str  # pdf | docx
    blocks: list[dict[str, Any]]
    page_count: int
    pages_estimated: bool = False
    has_text_layer: bool = True
    flags: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(block_text(block) for block in self.blocks)


class ExtractionFailed(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def block_text(block: dict[str, Any]) -> str:
    if block["kind"] == "table":
        return "\n".join(" | ".join(row) for row in block["rows"])
    return block["text"]


class _Clock:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise ExtractionFailed(
                "timeout", f"Reading this file took longer than {self.seconds:g} seconds, so we stopped."
            )


def extract(data: bytes, content_type: str, limits: Limits) -> Extracted:
    """The text and structure of one document. Raises ExtractionFailed with a clear message."""
    clock = _Clock(limits.seconds)
    if content_type == PDF:
        result = _extract_pdf(data, limits, clock)
    elif content_type == DOCX:
        result = _extract_docx(data, limits, clock)
    else:
        raise ExtractionFailed("unsupported", "We can only show PDF and Word (DOCX) files in the browser.")
    _check_readable(result, limits)
    return result


def _check_readable(result: Extracted, limits: Limits) -> None:
    text = result.text
    if len(text) > limits.max_chars:
        raise ExtractionFailed(
            "too_long", f"This file holds more than {limits.max_chars:,} characters of text; we read shorter documents."
        )
    letters = [ch for ch in text if not ch.isspace()]
    undecodable = sum(1 for ch in letters if ch == "\ufffd" or "\ue000" <= ch <= "\uf8ff")
    if letters and undecodable / len(letters) > 0.3:
        raise ExtractionFailed(
            "undecodable",
            "We could not read this file's text: it uses a font whose characters cannot be decoded. "
            "Open the original to see it; applicant tracking systems may not read it either.",
        )


# --- PDF ----------------------------------------------------------------------------------------


def _extract_pdf(data: bytes, limits: Limits, clock: _Clock) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ExtractionFailed(
                "encrypted",
                "We could not read this PDF: it is password-protected. Ask for a copy without a password, "
                "or open the original.",
            )
        count = len(reader.pages)
        if count > limits.max_pages:
            raise ExtractionFailed(
                "too_many_pages",
                f"This file has {count} pages; we read documents of up to {limits.max_pages} pages. "
                "Open the original to see it.",
            )
        pages = []
        for page in reader.pages:
            clock.check()
            pages.append(_read_pdf_page(page))
    except ExtractionFailed:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ExtractionFailed("damaged", "We could not read this PDF: the file looks damaged.") from exc
    return _assemble_pdf(pages, count)


@dataclass
class _Page:
    text: str
    fragments: list[tuple[str, float, float, float]]  # text, x, y, font size
    width: float
    height: float
    images: int
    tables: list[pdf_tables.Table] = field(default_factory=list)


def _read_pdf_page(page) -> _Page:
    fragments: list[tuple[str, float, float, float]] = []

    def visit(text, cm, tm, font_dict, font_size):
        if text and text.strip():
            scale = abs(tm[0] * cm[0]) or 1.0
            x, y = cm[0] * tm[4] + cm[2] * tm[5] + cm[4], cm[1] * tm[4] + cm[3] * tm[5] + cm[5]
            fragments.append((text.strip(), x, y, float(font_size) * scale))

    drawn = pdf_tables.EdgeCollector()
    text = page.extract_text(visitor_text=visit, visitor_operand_before=drawn) or ""
    box = page.mediabox
    try:
        images = len(page.images)
    except Exception:  # noqa: BLE001 - an odd image filter must not stop reading the text
        images = 1
    tables = pdf_tables.find_tables(drawn.edges, fragments)
    return _Page(text, fragments, float(box.width), float(box.height), images, tables)


def _assemble_pdf(pages: list[_Page], count: int) -> Extracted:
    fragments = [f for page in pages for f in page.fragments]
    images = sum(page.images for page in pages)
    if not any(page.text.strip() for page in pages):
        if images:
            message = "We could not read this PDF: it is a scanned image, with no text layer."
        else:
            message = "We could not read this PDF: it has no text layer."
        raise ExtractionFailed(
            "no_text_layer", message + " Open the original to see it; applicant tracking systems cannot read it either."
        )
    sizes = [size for _text, _x, _y, size in fragments for _ in range(max(1, len(_text) // 10))]
    body_size = statistics.median(sizes) if sizes else 0.0
    large = {text for text, _x, _y, size in fragments if body_size and size >= body_size * 1.2}
    blocks: list[dict[str, Any]] = []
    for page in pages:
        _add_lines(blocks, page.text.splitlines(), large, page.tables)
    flags = {
        "images": images,
        "tables": sum(len(page.tables) for page in pages),
        "multi_column": any(_looks_multi_column(page) for page in pages),
        "contact_in_margins": any(_contact_in_margins(page) for page in pages),
    }
    return Extracted("pdf", blocks, count, has_text_layer=True, flags=flags)


def _is_heading_line(line: str, large: set[str]) -> bool:
    words = line.split()
    if not words or len(words) > 8 or line.rstrip().endswith((".", ",", ";")):
        return False
    letters = [ch for ch in line if ch.isalpha()]
    all_caps = len(letters) >= 3 and not any(ch.islower() for ch in letters) and any(ch.isupper() for ch in letters)
    return all_caps or line in large


def _add_lines(
    blocks: list[dict[str, Any]], lines: list[str], large: set[str], tables: Sequence[pdf_tables.Table] = ()
) -> None:
    """Lines become headings, items and paragraphs; the lines of a ruled table become that table, once,
    where its first line was. A table's lines follow each other and use each cell's words once: a line
    after it that repeats a cell's words is ordinary text."""
    open_table: pdf_tables.Table | None = None
    waiting = list(tables)
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if open_table is not None and pdf_tables.take_table_line(line, open_table):
            continue
        open_table = None
        table = next((t for t in waiting if pdf_tables.take_table_line(line, t)), None)
        if table is not None:
            waiting.remove(table)
            open_table = table
            blocks.append({"kind": "table", "rows": table.rows})
            continue
        if BULLET.match(line):
            blocks.append({"kind": "item", "text": BULLET.sub("", line, count=1).strip()})
        elif _is_heading_line(line, large):
            blocks.append({"kind": "heading", "text": line, "level": 2})
        elif blocks and _continues(blocks[-1], line):
            blocks[-1]["text"] += " " + line
        else:
            blocks.append({"kind": "paragraph", "text": line})


def _continues(previous: dict[str, Any], line: str) -> bool:
    """A wrapped line: the previous paragraph or item did not end a sentence and this starts lowercase."""
    return (
        previous["kind"] in ("paragraph", "item")
        and not previous["text"].rstrip().endswith((".", "!", "?", ":"))
        and line[:1].islower()
    )


def _looks_multi_column(page: _Page) -> bool:
    """Text that starts both near the left margin and past the middle, on shared lines: two columns."""
    if len(page.fragments) < 8 or not page.width:
        return False
    left_rows = {round(y) for _t, x, y, _s in page.fragments if x < page.width * 0.3}
    right_rows = {round(y) for _t, x, y, _s in page.fragments if x > page.width * 0.45}
    shared = left_rows & right_rows
    return len(shared) >= 4 and len(right_rows) >= len(page.fragments) * 0.2


def _contact_in_margins(page: _Page) -> bool:
    if not page.height:
        return False
    for text, _x, y, _s in page.fragments:
        in_margin = y > page.height * 0.94 or y < page.height * 0.06
        if in_margin and (EMAIL.search(text) or PHONE.search(text)):
            return True
    return False


# --- DOCX ---------------------------------------------------------------------------------------


def _extract_docx(data: bytes, limits: Limits, clock: _Clock) -> Extracted:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
        if unzipped > limits.max_unzipped_bytes:
            raise ExtractionFailed("too_large", "This Word file unpacks to more than we read; send a smaller copy.")
        document = docx.Document(io.BytesIO(data))
        blocks, tables = _docx_blocks(document, clock)
        images = len(document.inline_shapes) + _floating_images(document)
        in_margins = _docx_contact_in_margins(document)
    except ExtractionFailed:
        raise
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ExtractionFailed("damaged", "We could not read this Word file: it looks damaged.") from exc
    words = sum(len(block_text(block).split()) for block in blocks)
    if not words:
        if images:
            raise ExtractionFailed(
                "images_only",
                "We could not read this document: it holds only images, no text. "
                "Open the original to see it; applicant tracking systems cannot read it either.",
            )
        raise ExtractionFailed("empty", "This document has no text in it.")
    pages = max(1, math.ceil(words / WORDS_PER_PAGE))
    if pages > limits.max_pages:
        raise ExtractionFailed(
            "too_many_pages",
            f"This file is about {pages} pages long; we read documents of up to {limits.max_pages} pages.",
        )
    flags = {
        "images": images,
        "tables": tables,
        "multi_column": _docx_columns(document),
        "contact_in_margins": in_margins,
    }
    return Extracted("docx", blocks, pages, pages_estimated=True, flags=flags)


def _docx_blocks(document, clock: _Clock) -> tuple[list[dict[str, Any]], int]:
    from docx.table import Table

    blocks: list[dict[str, Any]] = []
    tables = 0
    for item in document.iter_inner_content():
        clock.check()
        if isinstance(item, Table):
            rows = _table_rows(item)
            if rows:
                tables += 1
                blocks.append({"kind": "table", "rows": rows})
            continue
        text = item.text.strip()
        if not text:
            continue
        style = (item.style.name if item.style is not None else "") or ""
        if style == "Title" or style.startswith("Heading"):
            level = int(style.rsplit(" ", 1)[-1]) if style[-1:].isdigit() else 1
            blocks.append({"kind": "heading", "text": text, "level": min(max(level, 1), 4)})
        elif "List" in style or _numbered(item) or BULLET.match(text):
            blocks.append({"kind": "item", "text": BULLET.sub("", text, count=1).strip()})
        else:
            blocks.append({"kind": "paragraph", "text": text})
    return blocks, tables


def _numbered(paragraph) -> bool:
    properties = paragraph._p.pPr
    return properties is not None and properties.numPr is not None


def _table_rows(table) -> list[list[str]]:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = cell.text.strip()
            if not cells or text != cells[-1]:  # a merged cell repeats itself across the columns it spans
                cells.append(text)
        if any(cells):
            rows.append(cells)
    return rows


def _floating_images(document) -> int:
    ns = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}anchor"
    return sum(1 for _ in document.element.body.iter(ns))


def _docx_columns(document) -> bool:
    ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    return any(int(cols.get(f"{ns}num") or 1) > 1 for cols in document.element.body.iter(f"{ns}cols"))


def _docx_contact_in_margins(document) -> bool:
    for section in document.sections:
        for part in (section.header, section.footer):
            text = "\n".join(p.text for p in part.paragraphs)
            if EMAIL.search(text) or PHONE.search(text):
                return True
    return False
