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

`prepare=True` (PostgreSQL) also keeps the statement prepared on the server, per connection: PostgreSQL then
parses and plans it once instead of on every run (Django binds parameters on the client, so it parses and
plans every other statement each time). Only for shapes whose best plan does not depend on the values (a
lookup by primary key): after five runs PostgreSQL may settle on one generic plan for all values.
"""

from __future__ import annotations

import functools
import itertools
import re
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import EmptyResultSet, FullResultSet, ValidationError
from django.db import NotSupportedError, connections
from django.db.models import Count, Model, QuerySet
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]
from django.db.models.sql.compiler import SQLCompiler

MAX_SHAPES = 256  # per thread (~16 KB each: ≤ 4 MB); the pages above use a few dozen
_BIG = 2_000_000_000  # integer sentinels: inside a 32-bit column's range (the ORM folds away a value beyond it)
_INT64 = 2**63

Value = int | str | Decimal
Builder = Callable[[Mapping[str, Any]], QuerySet]


class _Compiled:
    __slots__ = ("compiler", "params", "slots", "sql", "_converting")

    def __init__(self, compiler: SQLCompiler, sql: str, params: tuple, slots: dict[str, tuple[int, str | None]]):
        self.compiler = compiler
        self.sql = sql
        self.params = params
        self.slots = slots  # name → (parameter index, the sentinel inside a LIKE pattern, or None: the whole value)
        self._converting: tuple[dict, list, bool] | None = None

    def results(self, fetched: list, *, tuple_expected: bool = False) -> Iterable[Sequence[Any]]:
        """compiler.results_iter(results=[fetched]), with the row converters found once per shape, not
        on every call (they depend only on the compiled select)."""
        compiler = self.compiler
        if self._converting is None:
            fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
            self._converting = (compiler.get_converters(fields), fields, compiler.has_composite_fields(fields))
        converters, fields, composite = self._converting
        rows: Iterable[Sequence[Any]] = fetched
        if converters:
            rows = compiler.apply_converters(rows, converters)
        if composite:
            rows = compiler.composite_fields_to_tuples(rows, fields)
        if tuple_expected:
            rows = map(tuple, rows)
        return rows


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


def rows(
    shape: Hashable, build: Builder, values: Mapping[str, Any], using: str = "default", *, prepare: bool = False
) -> list[Sequence[Any]]:
    """The rows of `build(values)` (a values_list() queryset), compiled once per `shape`.

    `shape` must name everything that changes the SQL's text: which filters are present, the order, the
    slice. `values` are what change between calls of one shape (ints, strings, Decimals); a string may
    sit in a LIKE pattern (`__contains`), where it is escaped as the ORM escapes it. `prepare`: see above."""
    if not _usable(values):
        return list(build(values))
    compiled = _compiled(shape, build, values, using)
    if compiled is None:
        return list(build(values))
    fetched = _fetch(compiled, values, connections[using], prepare=prepare)
    return list(compiled.results(fetched, tuple_expected=True))


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


def _fetch(compiled: _Compiled, values: Mapping[str, Any], connection: Any, *, prepare: bool = False) -> list:
    """Run the compiled SQL with `values` in their slots (`prepare`: kept prepared on the server)."""
    params = list(compiled.params)
    for name, (index, like) in compiled.slots.items():
        value = values[name]
        compiled_value = params[index]
        if like is not None:
            params[index] = compiled_value.replace(like, connection.ops.prep_for_like_query(value))
        else:
            params[index] = type(compiled_value)(value)
    if prepare:
        return run_prepared(connection, compiled.sql, params)
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, params)
        return cursor.fetchall()


def instances(
    shape: Hashable,
    build: Builder,
    values: Mapping[str, Any],
    using: str = "default",
    *,
    prepare: bool = False,
    annotations: bool = False,
) -> list[Model]:
    """The model instances of `build(values)` (a queryset of model instances, select_related allowed),
    compiled once per `shape` as `rows()` is, and built from the rows as Django's ModelIterable builds
    them (from_db, then the select_related populators, then `annotations=True`: each annotation set on the
    instance). A shape with annotations without `annotations=True`, or a locking one outside a transaction
    (the ORM raises for it), runs through the ORM. `build` must be a plain queryset, not a related manager's
    (its known related objects are not attached). `prepare`: as rows()."""
    connection = connections[using]
    compiled = _compiled(shape, build, values, using) if _usable(values) else None
    if (
        compiled is None
        or compiled.compiler.klass_info is None
        or (compiled.compiler.query.annotation_select and not annotations)
        or (compiled.compiler.query.select_for_update and not connection.in_atomic_block)
    ):
        return list(build(values))
    compiler = compiled.compiler
    klass_info = compiler.klass_info
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    init_list = [column[0].target.attname for column in compiler.select[start:end]]
    populators = get_related_populators(klass_info, compiler.select, using)
    annotated = list(compiler.annotation_col_map.items()) if annotations else []
    found = []
    for row in compiled.results(_fetch(compiled, values, connection, prepare=prepare)):
        obj = klass_info["model"].from_db(using, init_list, row[start:end])
        for populator in populators:
            populator.populate(row, obj)
        for name, position in annotated:
            setattr(obj, name, row[position])
        found.append(obj)
    return found


MEMOISED_PAGES = 3  # a Paged list's pages kept compiled; later ones (rarely asked) take the ORM path


class Paged:
    """What Django's Paginator asks of a queryset, each through rows()/instances(): `count()` (COUNT(*) grouped by
    `count_by`, a column equal on every row the filter keeps: one row or none, in a shape rows() can keep) and a
    slice. A slice reads a whole page (LIMIT per_page) and keeps as many rows as were asked: Paginator asks the
    last page up to the count it got, which would make a shape per count; the rows kept are the same first
    ones. Pages after MEMOISED_PAGES run through the ORM (a shape per page would crowd out the others).
    `shape` and `build`, `values`, `prepare` as for instances()."""

    def __init__(
        self,
        shape: Hashable,
        build: Builder,
        values: Mapping[str, Any],
        *,
        count_by: str,
        per_page: int,
        prepare: bool = False,
        using: str = "default",
    ):
        self.shape, self.build, self.values, self.count_by = shape, build, values, count_by
        self.per_page, self.prepare, self.using = per_page, prepare, using

    def _counted(self, given: Mapping[str, Any]) -> QuerySet:
        return self.build(given).order_by().values(self.count_by).annotate(n=Count("*")).values_list("n")

    def count(self) -> int:
        counted = rows((self.shape, "count"), self._counted, self.values, self.using, prepare=self.prepare)
        return counted[0][0] if counted else 0

    def __getitem__(self, window: slice) -> list[Model]:
        start, stop = window.start or 0, window.stop
        if window.step is not None or stop is None or start % self.per_page or not 0 <= stop - start <= self.per_page:
            return list(self.build(self.values)[window])
        if stop == start:
            return []  # what an empty slice of a queryset reads: nothing
        if start >= self.per_page * MEMOISED_PAGES:
            return list(self.build(self.values)[window])
        end = start + self.per_page
        found = instances(
            (self.shape, start, end),
            lambda given: self.build(given)[start:end],
            self.values,
            self.using,
            prepare=self.prepare,
        )
        return found[: stop - start]


def run_prepared(connection: Any, sql: str, params: Sequence[Any]) -> list:
    """The rows of `sql` (Django's %s placeholders) run with `params`, kept prepared on the server on
    PostgreSQL: parsed and planned once per connection (with Django's own cursor where nothing can be
    prepared). For SQL whose text is the same on every run of one shape, and whose best plan does not
    depend on the values."""
    try:
        with _prepared_cursor(connection) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    except NotSupportedError as exc:
        # "cached plan must not change result type": a column it reads changed type (a migration while this
        # process runs), and PostgreSQL refuses the prepared statement until it is prepared again. DEALLOCATE
        # ALL drops this connection's statements, and psycopg, seeing it, forgets its own; then once more.
        # Inside a transaction, which the error aborted, the caller's transaction fails this once (as on any
        # database error): psycopg deallocates every prepared statement on the rollback.
        if getattr(exc.__cause__, "sqlstate", None) != "0A000" or connection.in_atomic_block:
            raise
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    with _prepared_cursor(connection) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@functools.cache
def _preparing_cursor_class() -> type | None:
    """Django's psycopg 3 cursor that binds on the server, preparing every statement it runs (Django's cursor
    wrapper passes no `prepare` of its own)."""
    from django.db.backends.postgresql import base  # psycopg is installed only where PostgreSQL is used

    server_binding: Any = getattr(base, "ServerBindingCursor", None)  # psycopg 3 only
    if server_binding is None:
        return None

    from psycopg.raw_cursor import RawCursorMixin

    class PreparingCursor(RawCursorMixin, server_binding):
        """Sends the statement as numbered ($1…) once per text: psycopg's own conversion of %s is cached only
        for statements of at most 50 parameters, so it split a longer one (the webhook's 64) on every run."""

        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(numbered_placeholders(query), params, prepare=True, binary=binary)

        def _convert_query(self, query, params=None):
            # Kept where the query log reads it (Django's last_executed_query for client-binding cursors, which
            # this backend is configured as): the SQL as prepared, $1… for the values.
            self._query = converted = super()._convert_query(query, params)
            return converted

    return PreparingCursor


_PERCENT = re.compile(r"%(.|$)", re.DOTALL)


@functools.lru_cache(maxsize=MAX_SHAPES)
def numbered_placeholders(sql: str) -> str:
    """`sql` with Django's placeholders as PostgreSQL's: each %s the next $n, %% a literal %; once per text."""
    numbers = itertools.count(1)

    def replace(match: re.Match) -> str:
        if match.group(1) == "s":
            return f"${next(numbers)}"
        if match.group(1) == "%":
            return "%"
        raise ValueError(f"Only %s and %% may follow a % in a prepared statement: {match.group(0)!r}")

    return _PERCENT.sub(replace, sql)


def _prepared_cursor(connection: Any) -> Any:
    """Django's cursor wrapper (query log, execute wrappers, error translation) around a preparing cursor, made
    as the backend's create_cursor makes its own; Django's cursor on other databases, or with prepared
    statements turned off (the connection's prepare_threshold None: settings, DATABASE_PREPARED_STATEMENTS)."""
    preparing = _preparing_cursor_class() if connection.vendor == "postgresql" else None
    if preparing is None:
        return connection.cursor()
    from django.db.backends.postgresql.base import TIMESTAMPTZ_OID, Format, register_tzloader  # type: ignore[attr-defined]

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    if connection.connection.prepare_threshold is None:
        return connection.cursor()
    with connection.wrap_database_errors:
        cursor = preparing(connection.connection)
        if connection.timezone != connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT).timezone:
            register_tzloader(connection.timezone, cursor)
        return connection._prepare_cursor(cursor)


def forget() -> None:
    """Drop this thread's compiled shapes (tests that change the schema or the database)."""
    _local.memo = {}
