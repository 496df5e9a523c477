"""The redline between two versions: words, moves, summary."""

from documents import redline


def _p(text, kind="paragraph"):
    return {"kind": kind, "text": text}


def test_changed_words_inside_a_paragraph_are_marked_word_by_word():
    rows, summary = redline.compare(
        [_p("Managed a team of five engineers")], [_p("Led a team of five engineers to deliver 12 releases")]
    )
    assert rows[0]["status"] == "changed"
    assert ["-", "Managed "] in rows[0]["segments"] and ["+", "Led "] in rows[0]["segments"]
    assert summary == {"added": 5, "removed": 1, "sections_changed": 1, "moved": 0}


def test_a_paragraph_that_moved_is_a_move_not_a_deletion_and_an_insertion():
    old = [
        _p("SKILLS", "heading"),
        _p("Excel and budgeting for large teams"),
        _p("EXPERIENCE", "heading"),
        _p("Ran the plan"),
    ]
    new = [
        _p("SKILLS", "heading"),
        _p("EXPERIENCE", "heading"),
        _p("Ran the plan"),
        _p("Excel and budgeting for large teams"),
    ]
    rows, summary = redline.compare(old, new)
    statuses = [row["status"] for row in rows]
    assert "moved" in statuses and "moved_away" in statuses
    assert "added" not in statuses and "removed" not in statuses
    moved = next(row for row in rows if row["status"] == "moved")
    assert moved["moved_from"] == "SKILLS"
    assert summary["added"] == 0 and summary["removed"] == 0 and summary["moved"] == 1


def test_unrelated_paragraphs_are_shown_removed_and_added():
    rows, summary = redline.compare([_p("Gardening volunteer at weekends")], [_p("Certified Scrum Master since 2021")])
    assert [row["status"] for row in rows] == ["removed", "added"]
    assert summary["added"] == 5 and summary["removed"] == 4


def test_sections_changed_counts_the_headings_whose_text_changed():
    old = [
        _p("A", "heading"),
        _p("one two three"),
        _p("B", "heading"),
        _p("four five six"),
        _p("C", "heading"),
        _p("x"),
    ]
    new = [
        _p("A", "heading"),
        _p("one two three four"),
        _p("B", "heading"),
        _p("four five"),
        _p("C", "heading"),
        _p("x"),
    ]
    _rows, summary = redline.compare(old, new)
    assert summary["sections_changed"] == 2


def test_the_summary_line_reads_like_a_sentence():
    assert redline.summary_line({"added": 142, "removed": 37, "sections_changed": 3, "moved": 0}) == (
        "142 words added, 37 removed, 3 sections changed"
    )
    assert redline.summary_line({"added": 1, "removed": 0, "sections_changed": 1, "moved": 2}) == (
        "1 word added, 0 removed, 1 section changed, 2 paragraphs moved"
    )
    assert redline.summary_line({"added": 0, "removed": 0, "sections_changed": 0, "moved": 0}) == "No changes."


def test_scripts_without_spaces_are_compared_character_by_character():
    rows, summary = redline.compare([_p("五人のチームを率いた")], [_p("六人のチームを率いた")])
    assert ["-", "五"] in rows[0]["segments"] and ["+", "六"] in rows[0]["segments"]
    assert summary["added"] == 1 and summary["removed"] == 1


def test_common_words_are_not_ignored_in_long_documents():
    text = " ".join(["and the"] * 300)
    rows, summary = redline.compare([_p(text)], [_p(text + " and")])
    assert summary == {"added": 1, "removed": 0, "sections_changed": 1, "moved": 0}
