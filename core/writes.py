"""Several rows written in one statement of data-modifying CTEs (PostgreSQL), for a hot path whose
ORM writes cost more to build than to run (payments' webhook fulfilment, issue 13).

Each app builds the writes to its own tables (`insert`, `update`: columns from the model's fields,
values prepared by each field as `save()` prepares them) with a `done` callback that does what the
ORM's save would have done next (the instance's attributes, post_save, the app's own after-effects);
the caller joins them under a guard (`run`). Every write reads FROM the guard, so when the guard
finds no row, nothing is written and `run` says so: the caller then takes its ORM path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from django.db import connections
from django.db.models import Field, Model
from django.db.models.signals import post_save

from core import sqlmemo

Results = dict[str, list[int]]


@dataclass
class Write:
    name: str  # the CTE's name
    sql: str  # a data-modifying statement RETURNING the row's id
    params: list[Any]
    expect: int | None = 1  # rows it must write when the guard passes (None: any number)
    done: Callable[[Results], None] | None = None  # after the statement, in the order of the writes


class WroteTooLittle(Exception):
    """A write under a passing guard changed another number of rows than it must (a bug: roll back)."""


def _field(model: type[Model], name: str) -> Field:
    return cast(Field, model._meta.get_field(name))


def _pk(model: type[Model]) -> str:
    return cast(Field, model._meta.pk).column


@lru_cache(maxsize=256)
def _fields(model: type[Model], names: tuple[str, ...], using: str) -> tuple[tuple[str, ...], tuple[Field, ...]]:
    """The quoted columns and the fields of `names`: looked up once per model and shape, not per write."""
    quote = connections[using].ops.quote_name
    fields = tuple(_field(model, name) for name in names)
    return tuple(quote(field.column) for field in fields), fields


def _columns(model: type[Model], values: Mapping[str, Any], using: str) -> tuple[list[str], list[Any]]:
    connection = connections[using]
    columns, fields = _fields(model, tuple(values), using)
    prepared = [field.get_db_prep_save(value, connection) for field, value in zip(fields, values.values(), strict=True)]
    return list(columns), prepared


def insert(
    name: str,
    model: type[Model],
    values: Mapping[str, Any],
    *,
    after: str,
    conflict: str = "",
    expect: int | None = 1,
    done: Callable[[Results], None] | None = None,
    using: str = "default",
) -> Write:
    """One row of `model` (field name → value), written when the CTE `after` has a row.
    `conflict`: a unique field; a row that exists under it is left alone (ON CONFLICT DO NOTHING)."""
    quote = connections[using].ops.quote_name
    columns, params = _columns(model, values, using)
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(columns)}) "  # noqa: S608 - names from meta  # nosec B608
        f"SELECT {', '.join(['%s'] * len(params))} FROM {after}"
    )
    if conflict:
        sql += f" ON CONFLICT ({quote(_field(model, conflict).column)}) DO NOTHING"
    sql += f" RETURNING {quote(_pk(model))}"
    return Write(name, sql, params, expect, done)


def update(
    name: str,
    model: type[Model],
    pk: int,
    values: Mapping[str, Any],
    *,
    after: str,
    where: str = "",
    where_params: Sequence[Any] = (),
    expect: int | None = 1,
    done: Callable[[Results], None] | None = None,
    using: str = "default",
) -> Write:
    """`save(update_fields=values)` of one row, written when the CTE `after` has a row. `where`: a further
    condition on the row (SQL from the code, its values in `where_params`), as `filter(…).update(…)`
    adds one; with it, `expect=None` when the row may be left alone."""
    quote = connections[using].ops.quote_name
    columns, params = _columns(model, values, using)
    pk_column = quote(_pk(model))
    sql = (
        f"UPDATE {quote(model._meta.db_table)} SET {', '.join(f'{c} = %s' for c in columns)} "  # noqa: S608  # nosec B608
        f"WHERE {pk_column} = %s {f'AND ({where}) ' if where else ''}AND EXISTS (SELECT 1 FROM {after}) "
        f"RETURNING {pk_column}"
    )
    return Write(name, sql, [*params, pk, *where_params], expect, done)


def create(instance: Model, using: str = "default", *, prepare: bool = False) -> None:
    """`instance.save()` of a new row, as one INSERT … RETURNING its id built here: every concrete
    field's `pre_save(add=True)` value (auto_now_add, defaults), prepared as save() prepares it; then
    `saved()`. The ORM's compiler costs more than the statement on a hot path (a webhook's receipt).
    For a model with no pre_save receiver and no column the database computes. `prepare`: as run()'s."""
    model = type(instance)
    meta = model._meta
    values = {
        field.name: field.pre_save(instance, True)
        for field in meta.local_concrete_fields
        if field is not meta.auto_field
    }
    quote = connections[using].ops.quote_name
    columns, params = _columns(model, values, using)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(columns)}) "  # noqa: S608 - names from meta  # nosec B608
        f"VALUES ({', '.join(['%s'] * len(params))}) RETURNING {quote(_pk(model))}"
    )
    connection = connections[using]
    if prepare:
        ((pk,),) = sqlmemo.run_prepared(connection, sql, params)
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            (pk,) = cursor.fetchone()
    setattr(instance, cast(Field, meta.pk).attname, pk)
    saved(instance, created=True, using=using)


def saved(
    instance: Model, *, created: bool, update_fields: Sequence[str] | None = None, using: str = "default"
) -> None:
    """What Model.save() does after its statement: the instance is stored, post_save is sent (as save()
    sends it: update_fields a frozenset). No model written this way has a pre_save receiver (a test
    checks)."""
    instance._state.adding = False
    instance._state.db = using
    post_save.send(
        sender=type(instance),
        instance=instance,
        created=created,
        update_fields=frozenset(update_fields) if update_fields is not None else None,
        raw=False,
        using=using,
    )


def run(guard: Write, writes: Sequence[Write], using: str = "default", *, prepare: bool = False) -> Results | None:
    """All the writes in one statement, each only if `guard` (a SELECT of one row, or none) finds its
    row; then their `done` callbacks in order. None: the guard found nothing and nothing was written.
    Raises WroteTooLittle (the caller's transaction must roll back) when a write missed its row.
    `prepare`: kept prepared on the server (core.sqlmemo.run_prepared), for a caller whose writes build
    the same SQL text on every run and whose rows are found by their keys."""
    parts = [guard, *writes]
    sql = (
        "WITH "  # noqa: S608 - CTE names from the code; every value is a parameter
        + ", ".join(f"{part.name} AS ({part.sql})" for part in parts)
        + " "
        + " UNION ALL ".join(f"SELECT '{part.name}', * FROM {part.name}" for part in parts)  # noqa: S608  # nosec B608
    )
    params = [param for part in parts for param in part.params]
    results: Results = {part.name: [] for part in parts}
    connection = connections[using]
    if prepare:
        fetched = sqlmemo.run_prepared(connection, sql, params)
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
    for name, pk in fetched:
        results[name].append(pk)
    if not results[guard.name]:
        return None
    for write in writes:
        if write.expect is not None and len(results[write.name]) != write.expect:
            raise WroteTooLittle(f"{write.name} wrote {len(results[write.name])} row(s), not {write.expect}.")
    for write in writes:
        if write.done is not None:
            write.done(results)
    return results
