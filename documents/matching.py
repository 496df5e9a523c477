"""The job-match report: plain counting rules, explained on the page, no model and nothing downloaded.

Key terms of a job description are its most repeated words and two-word phrases, leaving out common
words. A term is *present* when the CV has those exact words, *implied* when it has the same word
stems in another form or order ("managed" for "management"), otherwise *missing*. The score counts a
present term as 1 and an implied one as ½, out of the number of key terms.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from .extraction import EMAIL, PHONE, block_text

WORD = re.compile(r"[^\W_](?:[\w+#.]*[\w+#])?")
SENTENCE_BREAK = re.compile(r"[.!?;:\n•·|()\[\]]+")
YEAR_RANGE = re.compile(
    r"\b((?:19|20)\d{2})\s*(?:-|–|—|to)\s*((?:19|20)\d{2}|present|now|current|today)\b", re.IGNORECASE
)
NUMBER = re.compile(r"\d")
MAX_TERMS = 20

_COMMON_WORDS = """
    a about above after again all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its itself just me more most my no nor not
    now of off on once only or other our ours out over own same she should so some such than that the
    their them then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours us etc e.g i.e per via within across
    along upon well new able ability strong excellent good great including include includes key must
    plus role job position candidate candidates responsibilities responsibility requirements required
    requirement preferred desirable ideal ideally looking join company opportunity opportunities apply
    applicants work working experience experienced years year skills skill knowledge understanding like
    least minimum proven demonstrated based related relevant one two three using use used make making
    ensure help day days team's we're you'll you're it's
"""
STOPWORDS = frozenset(_COMMON_WORDS.split())


def words(text: str) -> list[str]:
    return [match.group(0).lower() for match in WORD.finditer(text)]


def stem(word: str) -> str:
    """A crude English stem: enough to see "managed", "manages" and "management" as one word."""
    for suffix in (
        "ements",
        "ement",
        "ments",
        "ment",
        "ations",
        "ation",
        "ings",
        "ing",
        "ers",
        "er",
        "ed",
        "es",
        "s",
        "e",
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


@dataclass
class Term:
    text: str
    weight: float
    status: str = ""  # present | implied | missing


def key_terms(job_text: str, limit: int = MAX_TERMS) -> list[Term]:
    """The job's most repeated words and two-word phrases (no common words), most weighty first."""
    counts: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    capitalised: set[str] = set()
    for fragment in SENTENCE_BREAK.split(job_text):
        found = [(m.group(0), m.group(0).lower()) for m in WORD.finditer(fragment)]
        run: list[str] = []
        for position, (original, lower) in enumerate(found):
            if lower in STOPWORDS or lower.isdigit() or len(lower) < 2:
                run = []
                continue
            counts[lower] += 1
            first_seen.setdefault(lower, len(first_seen))
            if position > 0 and original[:1].isupper():
                capitalised.add(lower)  # a name in mid-sentence: a tool, a product, a qualification
            if run:
                phrase = f"{run[-1]} {lower}"
                counts[phrase] += 1
                first_seen.setdefault(phrase, len(first_seen))
            run.append(lower)
    scored = []
    for text, count in counts.items():
        is_phrase = " " in text
        if is_phrase and count < 2:
            continue
        weight = count * (1.5 if is_phrase else 1.0) + (1.0 if text in capitalised else 0.0)
        scored.append(Term(text, weight))
    scored.sort(key=lambda term: (-term.weight, first_seen[term.text]))
    phrases = [term.text for term in scored if " " in term.text][: limit // 2]
    chosen: list[Term] = []
    stems_taken: set[str] = set()
    for term in scored:
        if " " in term.text:
            if term.text in phrases:
                chosen.append(term)
        elif stem(term.text) not in stems_taken and not any(
            term.text in phrase.split() and counts[term.text] <= counts[phrase] for phrase in phrases
        ):
            chosen.append(term)  # a word counts once, whatever its form, and not again inside its phrase
            stems_taken.add(stem(term.text))
        if len(chosen) == limit:
            break
    return chosen


def match_terms(terms: list[Term], cv_text: str) -> list[Term]:
    cv_words = words(cv_text)
    joined = f" {' '.join(cv_words)} "
    stems = {stem(word) for word in cv_words}
    out = []
    for term in terms:
        if f" {term.text} " in joined:
            status = "present"
        elif all(stem(part) in stems for part in term.text.split()):
            status = "implied"
        else:
            status = "missing"
        out.append(Term(term.text, term.weight, status))
    return out


def coverage(matched: list[Term]) -> int | None:
    if not matched:
        return None
    points = sum(1.0 if t.status == "present" else 0.5 if t.status == "implied" else 0.0 for t in matched)
    return round(100 * points / len(matched))


# --- Checks on the document itself ----------------------------------------------------------------


@dataclass
class Check:
    label: str
    ok: bool
    detail: str


def section_checks(blocks: list[dict[str, Any]], page_count: int | None, estimated: bool, today: date) -> list[Check]:
    text = "\n".join(block_text(block) for block in blocks)
    return [
        _contact_check(text),
        _dates_check(text, today),
        _length_check(page_count, estimated),
        _bullets_check(blocks),
    ]


def _contact_check(text: str) -> Check:
    email, phone = bool(EMAIL.search(text)), bool(PHONE.search(text))
    if email and phone:
        return Check("Contact details", True, "An email address and a phone number are in the text.")
    missing = " or ".join(name for name, found in (("email address", email), ("phone number", phone)) if not found)
    return Check("Contact details", False, f"We found no {missing} in the text.")


def _dates_check(text: str, today: date) -> Check:
    ranges = []
    for start, end in YEAR_RANGE.findall(text):
        ranges.append((int(start), today.year if not end.isdigit() else int(end)))
    if not ranges:
        return Check("Dates", False, "We found no date ranges such as “2019 – 2023” for your roles.")
    backwards = [f"{a}–{b}" for a, b in ranges if a > b]
    future = [f"{a}–{b}" for a, b in ranges if b > today.year]
    if backwards or future:
        return Check("Dates", False, "These ranges do not add up: " + ", ".join(backwards + future) + ".")
    starts = [start for start, _end in ranges]
    if starts != sorted(starts, reverse=True):
        return Check("Dates", False, "Roles are not listed newest first; recruiters and parsers expect that order.")
    return Check("Dates", True, f"{len(ranges)} date ranges, consistent and newest first.")


def _length_check(page_count: int | None, estimated: bool) -> Check:
    pages = page_count or 0
    about = "about " if estimated else ""
    label = f"{about}{pages} page{'s' if pages != 1 else ''}"
    if 1 <= pages <= 2:
        return Check("Length", True, f"{label.capitalize()}: one or two pages is what most recruiters expect.")
    return Check("Length", False, f"{label.capitalize()}: most recruiters expect one or two pages.")


def _bullets_check(blocks: list[dict[str, Any]]) -> Check:
    items = [block["text"] for block in blocks if block["kind"] == "item"]
    if not items:
        return Check("Results in bullets", False, "No bullet points: bullets with results are easier to scan.")
    with_number = sum(1 for item in items if NUMBER.search(item))
    share = round(100 * with_number / len(items))
    detail = f"{with_number} of {len(items)} bullets ({share}%) show a number or a result."
    return Check("Results in bullets", share >= 30, detail)


def readability(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """Flesch reading ease (English only), from sentences, words and a vowel-group syllable count."""
    text = "\n".join(block_text(block) for block in blocks)
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    letters = sum(1 for ch in text if ch.isalpha())
    found = words(text)
    if not found or letters == 0 or latin / letters < 0.8:
        return {"score": None, "detail": "Readability is measured for English text only."}
    sentences = max(1, len([s for s in SENTENCE_BREAK.split(text) if words(s)]))
    syllables = sum(_syllables(word) for word in found)
    score = round(206.835 - 1.015 * (len(found) / sentences) - 84.6 * (syllables / len(found)))
    per_sentence = math.ceil(len(found) / sentences)
    band = "easy" if score >= 60 else "fairly hard" if score >= 40 else "hard"
    return {
        "score": score,
        "detail": f"Reading ease {score} ({band}); about {per_sentence} words per line or sentence.",
    }


def _syllables(word: str) -> int:
    groups = re.findall(r"[aeiouy]+", word.lower())
    count = len(groups) - (1 if word.lower().endswith("e") and len(groups) > 1 else 0)
    return max(1, count)


def ats_warnings(flags: dict[str, Any], failure_code: str = "") -> list[str]:
    """What applicant tracking systems are known to misread, from what extraction saw in the file."""
    if failure_code in ("no_text_layer", "images_only"):
        return ["There is no text to read: an applicant tracking system sees an empty document."]
    warnings = []
    if flags.get("images"):
        warnings.append(f"{flags['images']} image(s): any text inside an image is invisible to parsers.")
    if flags.get("tables"):
        warnings.append(f"{flags['tables']} table(s): many parsers read tables across, mixing up the columns.")
    if flags.get("multi_column"):
        warnings.append("Two or more columns: parsers often read straight across both columns.")
    if flags.get("contact_in_margins"):
        warnings.append("Contact details in the header or footer: many parsers skip those areas.")
    return warnings
