"""Real PDF and DOCX files built in code for the tests: no binary blobs in the repository."""

from __future__ import annotations

import io
from collections.abc import Sequence

# A line of a PDF page: (text, font size, x, y). Page size is US Letter (612 × 792 points).
Line = tuple[str, float, float, float]
Rule = tuple[float, float, float, float]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def lines_for(texts: list[str], *, top: float = 740, size: float = 11, step: float = 16) -> list[Line]:
    """Lines one under the other; a text starting with '# ' becomes a larger heading."""
    out = []
    y = top
    for text in texts:
        if text.startswith("# "):
            out.append((text[2:], size * 1.6, 72.0, y))
        else:
            out.append((text, size, 72.0, y))
        y -= step
    return out


def pdf_bytes(
    pages: list[list[Line]], *, image: bool = False, rules: Sequence[Rule] = (), strokes: Sequence[Rule] = ()
) -> bytes:
    """A valid PDF with a correct xref table: one content stream per page, Helvetica, an optional image.
    On the first page, `rules` are stroked rectangles (x, y, width, height), as a ruled table's cells
    are drawn, and `strokes` single lines (x0, y0, x1, y1), as a grid of rules is."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]  # the page tree is filled in below
    font_id, image_id = 3, 4
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    pixels = b"\x80" * 16
    objects.append(
        b"<< /Type /XObject /Subtype /Image /Width 4 /Height 4 /ColorSpace /DeviceGray /BitsPerComponent 8 "
        b"/Length %d >>\nstream\n" % len(pixels) + pixels + b"\nendstream"
    )
    kids: list[int] = []
    for lines in pages:
        stream = "".join(
            f"BT /F1 {size:g} Tf {x:g} {y:g} Td ({_escape(text)}) Tj ET\n" for text, size, x, y in lines
        ).encode("cp1252")
        if image:
            stream += b"q 200 0 0 200 72 400 cm /Im1 Do Q\n"
        if rules and not kids:
            stream += "".join(f"{x:g} {y:g} {w:g} {h:g} re S\n" for x, y, w, h in rules).encode()
        if strokes and not kids:
            stream += "".join(f"{a:g} {b:g} m {c:g} {d:g} l S\n" for a, b, c, d in strokes).encode()
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content_id = len(objects)
        xobjects = b" /XObject << /Im1 %d 0 R >>" % image_id if image else b""
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >>%s >> >>" % (content_id, font_id, xobjects)
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % kid for kid in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def cv_pdf(texts: list[str]) -> bytes:
    return pdf_bytes([lines_for(texts)])


def encrypted(data: bytes, password: str = "secret") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(password, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (20, 20), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def docx_bytes(
    texts: list[str] | None = None,
    *,
    table: list[list[str]] | None = None,
    picture: bool = False,
    footer: str = "",
) -> bytes:
    """A Word file made by python-docx: '# ' lines are headings, '- ' lines bullets, others paragraphs."""
    import docx
    from docx.shared import Inches

    from documents.demo import add_lines

    document = docx.Document()
    add_lines(document, texts or [])
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    if picture:
        document.add_picture(io.BytesIO(png_bytes()), width=Inches(1))
    if footer:
        document.sections[0].footer.paragraphs[0].text = footer
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


CV_V1 = [
    "# JANE DOE",
    "jane.doe@example.com · +44 20 7946 0958",
    "# EXPERIENCE",
    "Project Manager, Acme Ltd, 2019 – 2023",
    "• Managed a team of five engineers",
    "• Ran weekly planning meetings",
    "Analyst, Beta plc, 2016 – 2019",
    "• Wrote reports for the board",
    "# SKILLS",
    "Excel, stakeholder communication, scheduling",
]

CV_V2 = [
    "# JANE DOE",
    "jane.doe@example.com · +44 20 7946 0958",
    "# EXPERIENCE",
    "Project Manager, Acme Ltd, 2019 – 2023",
    "• Led a team of five engineers to deliver 12 releases on time",
    "• Cut planning time by 30% with weekly Agile planning",
    "Analyst, Beta plc, 2016 – 2019",
    "• Wrote reports for the board",
    "# SKILLS",
    "Excel, stakeholder communication, scheduling, Agile, Jira, budgeting",
]
