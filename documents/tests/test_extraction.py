"""Reading the text and structure of real PDF and DOCX files, and every way a file can be unreadable."""

import pytest

from documents import extraction as reader
from documents import services
from documents.models import Extraction

from . import builders

LIMITS = reader.Limits(max_pages=40, max_chars=200_000, seconds=20, max_unzipped_bytes=50 * 1024 * 1024)


def _kinds(result):
    return [(block["kind"], reader.block_text(block)) for block in result.blocks]


def test_a_pdf_cv_is_read_into_headings_paragraphs_and_bullets():
    result = reader.extract(builders.cv_pdf(builders.CV_V1), reader.PDF, LIMITS)
    kinds = _kinds(result)
    assert kinds[0] == ("heading", "JANE DOE")
    assert ("heading", "EXPERIENCE") in kinds
    assert ("item", "Managed a team of five engineers") in kinds
    assert ("paragraph", "Project Manager, Acme Ltd, 2019 – 2023") in kinds
    assert result.page_count == 1 and result.has_text_layer
    assert result.flags == {"images": 0, "tables": 0, "multi_column": False, "contact_in_margins": False}


def test_a_larger_font_line_is_a_heading_even_in_mixed_case():
    data = builders.pdf_bytes([builders.lines_for(["# Work history", "Led the team.", "Wrote the plan."])])
    assert _kinds(reader.extract(data, reader.PDF, LIMITS))[0] == ("heading", "Work history")


def test_a_pdf_with_two_columns_is_flagged():
    left = [(f"Left column line {n}", 10, 72, 700 - n * 14) for n in range(8)]
    right = [(f"Right {n}", 10, 360, 700 - n * 14) for n in range(8)]
    result = reader.extract(builders.pdf_bytes([left + right]), reader.PDF, LIMITS)
    assert result.flags["multi_column"] is True


def test_contact_details_in_the_page_margin_are_flagged():
    lines = [*builders.lines_for(["Body text of the CV."]), ("jane@example.com", 8, 72, 20)]
    assert reader.extract(builders.pdf_bytes([lines]), reader.PDF, LIMITS).flags["contact_in_margins"] is True


def test_a_docx_is_read_with_its_headings_bullets_and_tables():
    data = builders.docx_bytes(
        ["# Experience", "- Led a team of 5", "Plain paragraph."], table=[["Skill", "Level"], ["Excel", "Expert"]]
    )
    result = reader.extract(data, reader.DOCX, LIMITS)
    assert _kinds(result) == [
        ("heading", "Experience"),
        ("item", "Led a team of 5"),
        ("paragraph", "Plain paragraph."),
        ("table", "Skill | Level\nExcel | Expert"),
    ]
    assert result.flags["tables"] == 1 and result.pages_estimated


def test_contact_details_in_a_docx_footer_are_flagged():
    data = builders.docx_bytes(["Body."], footer="jane@example.com")
    assert reader.extract(data, reader.DOCX, LIMITS).flags["contact_in_margins"] is True


def test_text_in_an_unusual_script_is_read_as_it_is():
    data = builders.docx_bytes(
        ["# 職務経歴", "プロジェクトマネージャーとして五人のチームを率いた。", "Ελληνικά κείμενα"]
    )
    texts = [text for _kind, text in _kinds(reader.extract(data, reader.DOCX, LIMITS))]
    assert texts == ["職務経歴", "プロジェクトマネージャーとして五人のチームを率いた。", "Ελληνικά κείμενα"]


@pytest.mark.parametrize(
    ("data", "content_type", "code", "phrase"),
    [
        (builders.pdf_bytes([[]], image=True), reader.PDF, "no_text_layer", "it is a scanned image"),
        (builders.pdf_bytes([[]]), reader.PDF, "no_text_layer", "it has no text layer"),
        (builders.encrypted(builders.cv_pdf(["Secret CV"])), reader.PDF, "encrypted", "password-protected"),
        (builders.docx_bytes(picture=True), reader.DOCX, "images_only", "only images"),
        (builders.docx_bytes([]), reader.DOCX, "empty", "no text"),
        (builders.pdf_bytes([builders.lines_for(["Page"])] * 300), reader.PDF, "too_many_pages", "300 pages"),
        (b"%PDF-1.4\nnot really a pdf", reader.PDF, "damaged", "looks damaged"),
        (b"PK\x03\x04 broken zip", reader.DOCX, "damaged", "looks damaged"),
    ],
    ids=["scanned", "no-text", "encrypted", "docx-images", "docx-empty", "300-pages", "bad-pdf", "bad-docx"],
)
def test_each_unreadable_file_gets_its_own_clear_message(data, content_type, code, phrase):
    with pytest.raises(reader.ExtractionFailed) as failure:
        reader.extract(data, content_type, LIMITS)
    assert failure.value.code == code
    assert phrase in failure.value.message


def test_too_much_text_and_too_slow_are_refused():
    data = builders.cv_pdf(["A long line of words " * 5] * 30)
    with pytest.raises(reader.ExtractionFailed, match="more than 500 characters"):
        reader.extract(data, reader.PDF, reader.Limits(40, 500, 20, 10**8))
    with pytest.raises(reader.ExtractionFailed, match="longer than 0 seconds"):
        reader.extract(
            builders.pdf_bytes([builders.lines_for(["x"])] * 3), reader.PDF, reader.Limits(40, 10**6, 0, 10**8)
        )


def test_a_password_protected_pdf_with_an_empty_user_password_is_read():
    data = builders.encrypted(builders.cv_pdf(["Readable CV line."]), password="")
    assert _kinds(reader.extract(data, reader.PDF, LIMITS)) == [("paragraph", "Readable CV line.")]


# --- Through the real upload → scan → extract chain -----------------------------------------------


@pytest.mark.django_db
def test_a_clean_cv_upload_is_read_after_its_scan(upload, client_user):
    asset = upload(client_user, builders.cv_pdf(builders.CV_V1))
    extraction = Extraction.objects.get(asset=asset)
    assert extraction.ok and extraction.kind == "pdf" and extraction.page_count == 1
    assert extraction.word_count > 20
    assert extraction.blocks[0] == {"kind": "heading", "text": "JANE DOE", "level": 2}


@pytest.mark.django_db
def test_a_scanned_image_upload_records_the_failure_with_its_message(upload, client_user):
    asset = upload(client_user, builders.pdf_bytes([[]], image=True))
    extraction = Extraction.objects.get(asset=asset)
    assert not extraction.ok and extraction.failure_code == "no_text_layer"
    assert extraction.blocks == []
    assert "scanned image" in extraction.failure_message


@pytest.mark.django_db
def test_avatars_and_chat_attachments_are_not_read(upload, client_user):
    asset = upload(client_user, builders.cv_pdf(["Chat file"]), "chat.pdf", "message_attachment")
    assert not Extraction.objects.filter(asset=asset).exists()


@pytest.mark.django_db
def test_extraction_is_idempotent_on_redelivery(upload, client_user):
    asset = upload(client_user, builders.cv_pdf(builders.CV_V1))
    first = Extraction.objects.get(asset=asset)
    assert services.extract_file(asset.pk) == first
    assert Extraction.objects.filter(asset=asset).count() == 1


@pytest.mark.django_db
def test_a_file_not_yet_scanned_is_not_read(client_user, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from files import services as file_services

    asset = file_services.store_upload(
        SimpleUploadedFile("cv.pdf", builders.cv_pdf(["x y z"])), actor=client_user, category="cv_upload"
    )
    assert services.extract_file(asset.pk) is None
    assert not Extraction.objects.filter(asset=asset).exists()


@pytest.mark.django_db
def test_a_file_over_the_size_limit_is_recorded_as_too_large(upload, client_user, settings):
    settings.DOCUMENTS_MAX_BYTES = 100
    asset = upload(client_user, builders.cv_pdf(builders.CV_V1))
    assert Extraction.objects.get(asset=asset).failure_code == "too_large"
