"""Ruled tables in a PDF: a grid of drawn lines (or cell rectangles) with text inside its cells.

A PDF has no tables, only text placed at positions and lines drawn on the page. pypdf reports both
(its text and operator visitors), so where a table is *drawn* (a grid of at least 2×2 cells whose
edges touch), we can say honestly which text sits in which cell. Borderless tables (text aligned in
columns with no lines, as many CV templates do) cannot be told apart from two-column layouts or dates
pushed to the right margin, so they are not guessed at: they read as lines, and multi-column layout is
flagged separately. Pure functions, no database, nothing logged.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

TOLERANCE = 2.0  # points: edges this close count as touching (anti-aliasing, rounding of editors)
MAX_EDGES = 2000  # per page: a drawing with more lines is art, not a table, and grouping is quadratic
MIN_CELL = 4.0  # points: thinner gaps between edges are double rules, not rows or columns
SEARCH_STEPS = 5000  # splitting one line back into cells gives up after this many tries


@dataclass
class Edge:
    horizontal: bool
    at: float  # y of a horizontal edge, x of a vertical one
    start: float
    end: float


@dataclass
class Table:
    rows: list[list[str]]
    # The fragments inside it (without spaces), each to be found once in the line flow and dropped there.
    texts: Counter[str] = field(default_factory=Counter)


class EdgeCollector:
    """A pypdf `visitor_operand_before`: keeps the horizontal and vertical edges of what is drawn."""

    def __init__(self) -> None:
        self.edges: list[Edge] = []
        self._point: tuple[float, float] | None = None

    def __call__(self, operator: bytes, operands: list[Any], cm: list[float], tm: list[float]) -> None:
        if len(self.edges) > MAX_EDGES:
            return
        try:
            numbers = [float(value) for value in operands]
        except (TypeError, ValueError):
            return
        if operator == b"re" and len(numbers) == 4:
            x, y, w, h = numbers
            corners = [_apply(cm, x, y), _apply(cm, x + w, y), _apply(cm, x + w, y + h), _apply(cm, x, y + h)]
            for a, b in zip(corners, corners[1:] + corners[:1], strict=True):
                self._add(a, b)
        elif operator == b"m" and len(numbers) == 2:
            self._point = _apply(cm, *numbers)
        elif operator == b"l" and len(numbers) == 2 and self._point is not None:
            point = _apply(cm, *numbers)
            self._add(self._point, point)
            self._point = point

    def _add(self, a: tuple[float, float], b: tuple[float, float]) -> None:
        (x0, y0), (x1, y1) = a, b
        if abs(y0 - y1) <= TOLERANCE and abs(x0 - x1) > TOLERANCE:
            self.edges.append(Edge(True, (y0 + y1) / 2, min(x0, x1), max(x0, x1)))
        elif abs(x0 - x1) <= TOLERANCE and abs(y0 - y1) > TOLERANCE:
            self.edges.append(Edge(False, (x0 + x1) / 2, min(y0, y1), max(y0, y1)))


def _apply(cm: list[float], x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = cm
    return a * x + c * y + e, b * x + d * y + f


def _touch(one: Edge, other: Edge) -> bool:
    t = TOLERANCE
    if one.horizontal == other.horizontal:  # collinear pieces of one longer rule
        return abs(one.at - other.at) <= t and one.start <= other.end + t and other.start <= one.end + t
    h, v = (one, other) if one.horizontal else (other, one)
    return h.start - t <= v.at <= h.end + t and v.start - t <= h.at <= v.end + t


def _groups(edges: list[Edge]) -> list[list[Edge]]:
    """Edges that touch, directly or through others (union-find)."""
    parent = list(range(len(edges)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, one in enumerate(edges):
        for j in range(i + 1, len(edges)):
            if _touch(one, edges[j]):
                parent[root(i)] = root(j)
    grouped: dict[int, list[Edge]] = {}
    for i, edge in enumerate(edges):
        grouped.setdefault(root(i), []).append(edge)
    return list(grouped.values())


def _distinct(values: list[float]) -> list[float]:
    out: list[float] = []
    for value in sorted(values):
        if not out or value - out[-1] > MIN_CELL:
            out.append(value)
    return out


def find_tables(edges: list[Edge], fragments: list[tuple[str, float, float, float]]) -> list[Table]:
    """The ruled tables among the edges, with the text fragments (text, x, y, size) of their cells."""
    if len(edges) > MAX_EDGES:
        return []
    tables = []
    for group in _groups(edges):
        columns = _distinct([e.at for e in group if not e.horizontal])
        rows = _distinct([e.at for e in group if e.horizontal])
        if len(columns) < 3 or len(rows) < 3:
            continue  # fewer than 2×2 cells: a box or a rule, not a table
        table = _fill(columns, rows, fragments)
        if table is not None:
            tables.append(table)
    return tables


def _fill(columns: list[float], rows: list[float], fragments) -> Table | None:
    top_down = sorted(rows, reverse=True)  # PDF y grows upwards; tables read from the top
    cells: list[list[list[tuple[float, float, str]]]] = [[[] for _ in columns[1:]] for _ in top_down[1:]]
    texts: Counter[str] = Counter()
    for text, x, y, _size in fragments:
        col = _slot(x, columns)
        row = _slot(-y, [-value for value in top_down])
        if col is None or row is None:
            continue
        cells[row][col].append((-y, x, text))
        if "".join(text.split()):
            texts["".join(text.split())] += 1
    filled = [[" ".join(text for _y, _x, text in sorted(cell)) for cell in row] for row in cells if any(row)]
    if not texts or len(filled) < 2:
        return None  # a drawn grid with (almost) nothing in it: decoration
    return Table(filled, texts)


def _slot(value: float, edges: list[float]) -> int | None:
    for index, (low, high) in enumerate(zip(edges, edges[1:], strict=False)):
        if low - TOLERANCE <= value < high:
            return index
    return None


def take_table_line(line: str, table: Table) -> bool:
    """Whether a line of pypdf's text flow is made only of fragments of this table still unused; if so
    they are used up. pypdf joins the fragments of one baseline with spaces, so the line is split back
    into fragments; each fragment counts once, so a later line repeating a cell's words is not taken."""
    target = "".join(line.split())
    used = _split(target, 0, table.texts, [SEARCH_STEPS])
    if not target or used is None:
        return False
    table.texts.subtract(used)
    table.texts += Counter()  # drop the used-up ones
    return True


def _split(target: str, start: int, left: Counter[str], budget: list[int]) -> Counter[str] | None:
    if start == len(target):
        return Counter()
    budget[0] -= 1
    if budget[0] < 0:  # a pathological line (many tiny repeated cells): read it as text instead
        return None
    for piece, count in list(left.items()):
        if count > 0 and target.startswith(piece, start):
            left[piece] -= 1
            rest = _split(target, start + len(piece), left, budget)
            left[piece] += 1
            if rest is not None:
                rest[piece] += 1
                return rest
    return None
