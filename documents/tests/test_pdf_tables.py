"""Ruled tables in PDFs (a drawn grid of at least 2×2 cells with text in it) are read as tables; text
aligned in columns without lines is not guessed at and reads as lines, as before."""

from collections import Counter

from documents import extraction as reader
from documents import matching
from documents.pdf_tables import Table, take_table_line

from . import builders

LIMITS = reader.Limits(max_pages=40, max_chars=200_000, seconds=20, max_unzipped_bytes=50 * 1024 * 1024)

SKILLS = [
    ("SKILLS", 14, 72, 700),
    ("Skill", 10, 80, 660),
    ("Level", 10, 250, 660),
    ("Jira", 10, 80, 640),
    ("Expert", 10, 250, 640),
    ("Budget planning", 10, 80, 620),
    ("Advanced", 10, 250, 620),
    ("Jira", 10, 72, 580),
    ("After the table comes a paragraph.", 10, 72, 560),
]
# Two columns (72–242, 242–412) and three rows (614–634, 634–654, 654–674), one rectangle per cell.
CELLS = [(x, y, 170, 20) for y in (654, 634, 614) for x in (72, 242)]
# The same grid drawn as four horizontal and three vertical rules.
GRID = [(72, y, 412, y) for y in (614, 634, 654, 674)] + [(x, 614, x, 674) for x in (72, 242, 412)]


def _read(**drawing):
    return reader.extract(builders.pdf_bytes([SKILLS], **drawing), reader.PDF, LIMITS)


def _tables(result):
    return [block["rows"] for block in result.blocks if block["kind"] == "table"]


def test_a_grid_of_cell_rectangles_is_read_as_a_table_in_its_place():
    result = _read(rules=CELLS)
    assert _tables(result) == [[["Skill", "Level"], ["Jira", "Expert"], ["Budget planning", "Advanced"]]]
    kinds = [block["kind"] for block in result.blocks]
    assert kinds == ["heading", "table", "paragraph", "paragraph"]
    assert result.flags["tables"] == 1


def test_a_grid_of_drawn_rules_is_read_as_a_table_too():
    assert _tables(_read(strokes=GRID)) == [[["Skill", "Level"], ["Jira", "Expert"], ["Budget planning", "Advanced"]]]


def test_a_line_after_the_table_that_repeats_a_cell_stays_text():
    texts = [reader.block_text(block) for block in _read(rules=CELLS).blocks]
    assert texts[2] == "Jira" and texts[3] == "After the table comes a paragraph."


def test_without_lines_aligned_text_is_not_guessed_to_be_a_table():
    result = _read()
    assert _tables(result) == [] and result.flags["tables"] == 0
    assert ("Jira Expert") in [reader.block_text(block) for block in result.blocks]


def test_a_single_box_or_an_empty_grid_is_decoration():
    assert _tables(_read(rules=[(60, 600, 400, 90)])) == []  # one box around the skills
    empty = reader.extract(builders.pdf_bytes([SKILLS[:1]], rules=CELLS), reader.PDF, LIMITS)
    assert _tables(empty) == [] and empty.flags["tables"] == 0


def test_the_report_warns_about_a_pdf_table():
    result = _read(rules=CELLS)
    assert any("table" in warning for warning in matching.ats_warnings(result.flags))


def test_a_line_is_taken_only_if_made_of_the_tables_unused_cells():
    table = Table([], Counter({"Skill": 1, "Level": 1, "Budgetplanning": 1}))
    assert not take_table_line("Skill Level and more", table)
    assert not take_table_line("", table)
    assert take_table_line("Skill Level", table)
    assert not take_table_line("Skill", table), "each cell is used once"
    assert take_table_line("Budget planning", table)
    assert not table.texts


def test_a_pathological_line_gives_up_quickly_and_stays_text():
    import time

    table = Table([], Counter({"a" * n: 3 for n in range(1, 12)}))
    started = time.monotonic()
    assert not take_table_line("a" * 80 + "b", table)
    assert time.monotonic() - started < 1.0
    assert sum(table.texts.values()) == 33, "nothing used up"
