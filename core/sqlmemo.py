"""Run a query again with new values without building and compiling it again.

Building a queryset (filter, annotate, Exists, joins) and compiling it to SQL costs the ORM 1,000–3,500
Python calls per query, more than fetching and converting its rows. Pages that run the same few query
shapes with new values on every cache miss (a directory filter set not asked before, a coach page not
seen recently) pay that on each miss. `rows()` compiles each shape once per thread and database: it
builds the queryset with sentinel values, finds each sentinel among the compiled parameters, and later
runs the same SQL with the real values in their places, converting the rows with the compiled query's
own converters (what `values_list()` returns).

The mechanism checks itself: a shape whose sentinels do not each appear exactly once among the
parameters (a value inlined in the SQL, repeated, transformed or folded away by the ORM) is never
memoised, and runs through the ORM every time. Values the ORM would treat specially (None, integers
beyond 64 bits) also take the ORM path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import EmptyResultSet, FullResultSet, ValidationError
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]
from django.db.models.sql.compiler import SQLCompiler

MAX_SHAPES = 256  # per thread (~16 KB each: ≤ 4 MB); the pages above use a few dozen
_BIG = 2_000_000_000  # integer sentinels: inside a 32-bit column's range (the ORM folds away a value beyond it)
_INT64 = 2**63

Value = int | str | Decimal
Builder = Callable[[Mapping[str, Any]], QuerySet]


class _Compiled:
    __slots__ = ("compiler", "params", "slots", "sql")

    def __init__(self, compiler: SQLCompiler, sql: str, params: tuple, slots: dict[str, tuple[int, str | None]]):
        self.compiler = compiler
        self.sql = sql
        self.params = params
        self.slots = slots  # name → (parameter index, the sentinel inside a LIKE pattern, or None: the whole value)


_local = threading.local()


def _sentinels(values: Mapping[str, Value]) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for index, (name, value) in enumerate(sorted(values.items())):
        if isinstance(value, int):
            out[name] = _BIG + 7919 * index + 13
        elif isinstance(value, Decimal):
            # Negative, with more places than any column keeps: a value the ORM rounds is then not found.
            out[name] = Decimal(f"-{index + 1}.3737")
        else:
            # LIKE's wildcards inside: a value the ORM escapes for a LIKE is told from one it passes as it is.
            out[name] = f"zqx%sentinel{index}_qz"
    return out


def _slot(params: tuple, sentinel: Value, escaped: str) -> tuple[int, str | None] | None:
    """Where `sentinel` sits among the compiled parameters: (index, None) for the whole value, (index, the
    escaped sentinel) inside a LIKE pattern; None when it is not found exactly once, as it was given."""
    if not isinstance(sentinel, str):
        # isinstance: the PostgreSQL backend wraps some integers (psycopg's Int4/Int8); the wrapper is kept
        found = [i for i, p in enumerate(params) if isinstance(p, type(sentinel)) and p == sentinel]
        return (found[0], None) if len(found) == 1 else None
    found = [i for i, p in enumerate(params) if isinstance(p, str) and (sentinel in p or escaped in p)]
    if len(found) != 1:
        return None
    param = params[found[0]]
    if param == sentinel:
        return found[0], None
    if param in (escaped, f"%{escaped}%", f"{escaped}%", f"%{escaped}"):  # contains, startswith, endswith, iexact…
        return found[0], escaped
    return None  # transformed some other way (JSON, a regex…)


def _compile(build: Builder, values: Mapping[str, Value], using: str) -> _Compiled | None:
    sentinels = _sentinels(values)
    connection = connections[using]
    try:
        compiler = build(sentinels).query.get_compiler(using=using)
        sql, params = compiler.as_sql()
    except (EmptyResultSet, FullResultSet, ValidationError, ArithmeticError, ValueError, TypeError):
        return None  # the ORM folded a sentinel away, or refused it: this shape runs through the ORM
    params = tuple(params)
    slots: dict[str, tuple[int, str | None]] = {}
    for name, sentinel in sentinels.items():
        slot = _slot(
            params, sentinel, connection.ops.prep_for_like_query(sentinel) if isinstance(sentinel, str) else ""
        )
        if slot is None or str(sentinel) in sql:  # repeated, transformed, or inlined in the SQL
            return None
        slots[name] = slot
    return _Compiled(compiler, sql, params, slots)


def _usable(values: Mapping[str, Any]) -> bool:
    for value in values.values():
        if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
            return False
        if isinstance(value, int) and not -_INT64 < value < _INT64:
            return False
        if isinstance(value, Decimal) and not value.is_finite():
            return False
    return True


def rows(shape: Hashable, build: Builder, values: Mapping[str, Any], using: str = "default") -> list[Sequence[Any]]:
    """The rows of `build(values)` (a values_list() queryset), compiled once per `shape`.

    `shape` must name everything that changes the SQL's text: which filters are present, the order, the
    slice. `values` are what change between calls of one shape (ints, strings, Decimals); a string may
    sit in a LIKE pattern (`__contains`), where it is escaped as the ORM escapes it."""
    if not _usable(values):
        return list(build(values))
    compiled = _compiled(shape, build, values, using)
    if compiled is None:
        return list(build(values))
    fetched = _fetch(compiled, values, connections[using])
    return list(compiled.compiler.results_iter(results=[fetched], tuple_expected=True))


def _compiled(shape: Hashable, build: Builder, values: Mapping[str, Any], using: str) -> _Compiled | None:
    memo: dict[tuple, _Compiled | None] | None = getattr(_local, "memo", None)
    if memo is None:
        memo = _local.memo = {}
    connection = connections[using]
    key = (using, connection.vendor, shape, tuple(sorted(values)))
    if key not in memo:
        if len(memo) >= MAX_SHAPES:
            memo.pop(next(iter(memo)))
        memo[key] = _compile(build, values, using)  # None: the ORM path, every time
    return memo[key]


def _fetch(compiled: _Compiled, values: Mapping[str, Any], connection: Any) -> list:
    """Run the compiled SQL with `values` in their slots."""
    params = list(compiled.params)
    for name, (index, like) in compiled.slots.items():
        value = values[name]
        compiled_value = params[index]
        if like is not None:
            params[index] = compiled_value.replace(like, connection.ops.prep_for_like_query(value))
        else:
            params[index] = type(compiled_value)(value)
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, params)
        return cursor.fetchall()


def instances(shape: Hashable, build: Builder, values: Mapping[str, Any], using: str = "default") -> list[Model]:
    """The model instances of `build(values)` (a queryset of model instances, select_related allowed),
    compiled once per `shape` as `rows()` is, and built from the rows as Django's ModelIterable builds
    them (from_db, then the select_related populators). A shape with annotations, or a locking one
    outside a transaction (the ORM raises for it), runs through the ORM. `build` must be a plain
    queryset, not a related manager's (its known related objects are not attached)."""
    connection = connections[using]
    compiled = _compiled(shape, build, values, using) if _usable(values) else None
    if (
        compiled is None
        or compiled.compiler.klass_info is None
        or compiled.compiler.query.annotation_select
        or (compiled.compiler.query.select_for_update and not connection.in_atomic_block)
    ):
        return list(build(values))
    compiler = compiled.compiler
    klass_info = compiler.klass_info
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    init_list = [column[0].target.attname for column in compiler.select[start:end]]
    populators = get_related_populators(klass_info, compiler.select, using)
    found = []
    for row in compiler.results_iter(results=[_fetch(compiled, values, connection)]):
        obj = klass_info["model"].from_db(using, init_list, row[start:end])
        for populator in populators:
            populator.populate(row, obj)
        found.append(obj)
    return found


def forget() -> None:
    """Drop this thread's compiled shapes (tests that change the schema or the database)."""
    _local.memo = {}
