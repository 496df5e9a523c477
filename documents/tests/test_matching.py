"""The job-match rules: key terms, present / implied / missing, coverage, checks and warnings."""

from datetime import date

from documents import matching

JOB = (
    "Project Manager. We are looking for a Project Manager with Agile experience. You will lead a team of "
    "engineers, manage budgets and stakeholder communication. Experience with Jira and Agile delivery is "
    "required. Budget management and risk management skills. Stakeholder communication is key."
)
TODAY = date(2026, 12, 1)


def _terms():
    return [term.text for term in matching.key_terms(JOB)]


def test_key_terms_are_repeated_words_and_phrases_without_common_words():
    terms = _terms()
    assert terms[:3] == ["project manager", "agile", "stakeholder communication"]
    assert "jira" in terms
    assert not {"the", "experience", "skills", "we", "required"} & set(terms)
    assert "project" not in terms  # counted once, inside its phrase
    assert not ("budget" in terms and "budgets" in terms)  # one word, whatever its form


def test_a_term_is_present_implied_or_missing():
    matched = {
        t.text: t.status for t in matching.match_terms(matching.key_terms(JOB), "Project Manager. Managed budgeting.")
    }
    assert matched["project manager"] == "present"
    assert matched["management"] == "implied"  # "managed"
    assert matched["budgets"] == "implied"  # "budgeting"
    assert matched["jira"] == "missing"


def test_coverage_counts_present_as_one_and_implied_as_half():
    terms = [matching.Term("a", 1, "present"), matching.Term("b", 1, "implied"), matching.Term("c", 1, "missing")]
    assert matching.coverage(terms) == 50
    assert matching.coverage([]) is None


def _checks(lines, pages=1):
    blocks = [
        {"kind": "item" if line.startswith("- ") else "paragraph", "text": line.removeprefix("- ")} for line in lines
    ]
    return {check.label: check for check in matching.section_checks(blocks, pages, False, TODAY)}


def test_section_checks_pass_on_a_tidy_cv():
    checks = _checks(
        ["jane@example.com +44 20 7946 0958", "Lead, 2021 – present", "- Cut costs by 20%", "Analyst, 2016 – 2021"]
    )
    assert all(check.ok for check in checks.values()), checks


def test_section_checks_name_what_is_wrong():
    checks = _checks(["Analyst, 2016 – 2019", "Lead, 2020 – 2018", "- Did things", "- Did more"], pages=4)
    assert not checks["Contact details"].ok
    assert checks["Contact details"].detail == "We found no email address or phone number in the text."
    assert not checks["Dates"].ok and "2020–2018" in checks["Dates"].detail
    assert not checks["Length"].ok and "4 pages" in checks["Length"].detail
    assert not checks["Results in bullets"].ok and "0 of 2 bullets" in checks["Results in bullets"].detail


def test_roles_out_of_order_are_flagged():
    assert "newest first" in _checks(["Analyst, 2016 – 2019", "Lead, 2020 – 2023"])["Dates"].detail


def test_readability_is_measured_for_english_only():
    english = matching.readability([{"kind": "paragraph", "text": "I led a team. We shipped on time."}])
    assert english["score"] is not None and "Reading ease" in english["detail"]
    japanese = matching.readability([{"kind": "paragraph", "text": "五人のチームを率いた。"}])
    assert japanese["score"] is None and "English text only" in japanese["detail"]


def test_parser_warnings_come_from_what_extraction_saw():
    warnings = matching.ats_warnings({"images": 2, "tables": 1, "multi_column": True, "contact_in_margins": True})
    assert len(warnings) == 4 and "2 image(s)" in warnings[0]
    assert "no text to read" in matching.ats_warnings({}, "no_text_layer")[0]
    assert matching.ats_warnings({"images": 0, "tables": 0}) == []
