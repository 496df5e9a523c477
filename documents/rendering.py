"""Turn stored blocks into what the templates draw: commented passages marked, bullets grouped."""

from __future__ import annotations

from typing import Any

from .models import Comment


def _segments(text: str, quotes: list[tuple[str, int]]) -> list[tuple[str, int | None]]:
    """The block's text cut into (text, comment id or None) pieces; overlapping quotes keep the first."""
    marks: list[tuple[int, int, int]] = []
    lowered = text.lower()
    for quote, comment_id in quotes:
        start = lowered.find(quote.lower())
        if start < 0:
            continue
        end = start + len(quote)
        if all(end <= s or start >= e for s, e, _id in marks):
            marks.append((start, end, comment_id))
    pieces: list[tuple[str, int | None]] = []
    position = 0
    for start, end, comment_id in sorted(marks):
        if start > position:
            pieces.append((text[position:start], None))
        pieces.append((text[start:end], comment_id))
        position = end
    if position < len(text):
        pieces.append((text[position:], None))
    return pieces


def commented_blocks(blocks: list[dict[str, Any]], comments: list[Comment]) -> list[dict[str, Any]]:
    by_block: dict[int, list[tuple[str, int]]] = {}
    for comment in comments:
        if comment.block is not None and comment.quote:
            by_block.setdefault(comment.block, []).append((comment.quote, comment.pk))
    out = []
    for index, block in enumerate(blocks):
        shown = {"index": index, "kind": block["kind"], "level": block.get("level", 2)}
        if block["kind"] == "table":
            shown["rows"] = block["rows"]
        else:
            shown["segments"] = _segments(block["text"], by_block.get(index, []))
        out.append(shown)
    return out


def group_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive bullet items become one list, so the page has real <ul> elements."""
    groups: list[dict[str, Any]] = []
    for block in blocks:
        if block["kind"] == "item":
            if groups and groups[-1]["kind"] == "list":
                groups[-1]["items"].append(block)
            else:
                groups.append({"kind": "list", "items": [block]})
        else:
            groups.append(block)
    return groups
