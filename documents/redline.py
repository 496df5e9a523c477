"""Word-level comparison of two versions of a document, with moved paragraphs recognised as moves.

Why difflib: the standard library's SequenceMatcher compares any sequences of hashable items, so it
aligns paragraphs first and then the words inside a changed paragraph, which is exactly the two-level
redline we need; it is maintained with Python itself and adds no dependency. (diff-match-patch works on
characters, so words would have to be mapped to characters and back.) autojunk is off: with it, words
as common as "and" would be ignored in documents over 200 words.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from typing import Any

from .extraction import block_text

# Scripts written without spaces are compared character by character; everything else word by word.
_NO_SPACE_SCRIPTS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u0e00-\u0e7f"
# Punctuation is a token of its own, so "scheduling" and "scheduling," compare as the same word.
TOKEN = re.compile(rf"[{_NO_SPACE_SCRIPTS}]\s*|(?:(?![{_NO_SPACE_SCRIPTS}])\w)+\s*|[^\w\s]+\s*|\s+")
WORD = re.compile(r"\w")
PAIR_SIMILARITY = 0.4  # below this, a replaced paragraph is shown as removed + added, not edited
MOVE_MIN_WORDS = 3


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def _words(text: str) -> list[str]:
    return [token.strip() for token in tokens(text) if token.strip()]


def count_words(text: str) -> int:
    return sum(1 for token in tokens(text) if WORD.search(token))


def word_diff(old: str, new: str) -> list[list[str]]:
    """Segments [op, text] with op '=' (same), '+' (inserted) or '-' (deleted)."""
    a, b = tokens(old), tokens(new)
    matcher = SequenceMatcher(None, [t.strip() for t in a], [t.strip() for t in b], autojunk=False)
    segments: list[list[str]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            segments.append(["=", "".join(b[j1:j2])])
            continue
        if i2 > i1:
            segments.append(["-", "".join(a[i1:i2])])
        if j2 > j1:
            segments.append(["+", "".join(b[j1:j2])])
    return segments


def _texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [block_text(block) for block in blocks]


def _sections(blocks: list[dict[str, Any]]) -> list[str]:
    """The heading each block sits under ('' before the first heading)."""
    current, out = "", []
    for block in blocks:
        if block["kind"] == "heading":
            current = block["text"]
        out.append(current)
    return out


def compare(old_blocks: list[dict[str, Any]], new_blocks: list[dict[str, Any]]) -> tuple[list[dict], dict]:
    """Rows of the redline (in the new version's order, removed blocks where they were) and a summary."""
    old_texts, new_texts = _texts(old_blocks), _texts(new_blocks)
    old_keys, new_keys = [normalise(t) for t in old_texts], [normalise(t) for t in new_texts]
    old_sections, new_sections = _sections(old_blocks), _sections(new_blocks)
    opcodes = SequenceMatcher(None, old_keys, new_keys, autojunk=False).get_opcodes()

    removed = [i for op, i1, i2, _j1, _j2 in opcodes if op in ("delete", "replace") for i in range(i1, i2)]
    added = [j for op, _i1, _i2, j1, j2 in opcodes if op in ("insert", "replace") for j in range(j1, j2)]
    moves = _find_moves(removed, added, old_keys, new_keys)
    moved_old, moved_new = set(moves.values()), set(moves)

    rows: list[dict[str, Any]] = []
    for op, i1, i2, j1, j2 in opcodes:
        if op == "equal":
            for offset in range(j2 - j1):
                rows.append(
                    _row("same", new_blocks[j1 + offset], [["=", new_texts[j1 + offset]]], new_sections[j1 + offset])
                )
            continue
        olds = [i for i in range(i1, i2) if i not in moved_old]
        news = [j for j in range(j1, j2) if j not in moved_new]
        for i in range(i1, i2):
            if i in moved_old:
                rows.append(_row("moved_away", old_blocks[i], [["=", old_texts[i]]], old_sections[i]))
        rows.extend(_pair_rows(olds, news, old_blocks, new_blocks, old_texts, new_texts, old_sections, new_sections))
        for j in range(j1, j2):
            if j in moved_new:
                row = _row("moved", new_blocks[j], [["=", new_texts[j]]], new_sections[j])
                row["moved_from"] = old_sections[moves[j]]
                rows.append(row)
    return rows, _summary(rows)


def _find_moves(removed: list[int], added: list[int], old_keys: list[str], new_keys: list[str]) -> dict[int, int]:
    """new index → old index for a block that left one place and appeared unchanged in another."""
    waiting: dict[str, list[int]] = {}
    for i in removed:
        if len(old_keys[i].split()) >= MOVE_MIN_WORDS:
            waiting.setdefault(old_keys[i], []).append(i)
    moves = {}
    for j in added:
        candidates = waiting.get(new_keys[j])
        if candidates:
            moves[j] = candidates.pop(0)
    return moves


def _pair_rows(olds, news, old_blocks, new_blocks, old_texts, new_texts, old_sections, new_sections) -> list[dict]:
    """Within a replaced stretch, pair similar paragraphs as edits; the rest are removed or added."""
    rows = []
    while olds or news:
        if olds and news:
            i, j = olds[0], news[0]
            similarity = SequenceMatcher(None, _words(old_texts[i]), _words(new_texts[j]), autojunk=False).ratio()
            if similarity >= PAIR_SIMILARITY:
                rows.append(_row("changed", new_blocks[j], word_diff(old_texts[i], new_texts[j]), new_sections[j]))
                olds, news = olds[1:], news[1:]
                continue
        if olds:
            i = olds.pop(0)
            rows.append(_row("removed", old_blocks[i], [["-", old_texts[i]]], old_sections[i]))
        else:
            j = news.pop(0)
            rows.append(_row("added", new_blocks[j], [["+", new_texts[j]]], new_sections[j]))
    return rows


def _row(status: str, block: dict[str, Any], segments: list[list[str]], section: str) -> dict[str, Any]:
    return {"status": status, "kind": block["kind"], "segments": segments, "section": section}


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    added = sum(count_words(text) for row in rows for op, text in row["segments"] if op == "+")
    removed = sum(count_words(text) for row in rows for op, text in row["segments"] if op == "-")
    sections = {row["section"] for row in rows if row["status"] not in ("same", "moved_away")}
    moved = sum(1 for row in rows if row["status"] == "moved")
    return {"added": added, "removed": removed, "sections_changed": len(sections), "moved": moved}


def summary_line(summary: dict[str, Any]) -> str:
    """'142 words added, 37 removed, 3 sections changed' (and moves, when there are any)."""
    if not (summary["added"] or summary["removed"] or summary["moved"] or summary["sections_changed"]):
        return "No changes."
    parts = [
        f"{summary['added']} word{'s' if summary['added'] != 1 else ''} added",
        f"{summary['removed']} removed",
        f"{summary['sections_changed']} section{'s' if summary['sections_changed'] != 1 else ''} changed",
    ]
    if summary["moved"]:
        parts.append(f"{summary['moved']} paragraph{'s' if summary['moved'] != 1 else ''} moved")
    return ", ".join(parts)
