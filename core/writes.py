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
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from django.db import connections
from django.db.models import BooleanField, CharField, DateTimeField, Field, ForeignKey, Model, TextField
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


_POSTGRES_OPERATIONS = "django.db.backends.postgresql.operations"
# How _prepared may skip Django's preparation of a value (_kept_as_is): never, or for a value the field keeps.
GENERIC, TEXT, BOOLEAN, AWARE_DATETIME, ONLY_NONE = range(5)


def _kept_as_is(field: Field, connection: Any) -> int:
    """Which values `field.get_db_prep_save(value, connection)` returns unchanged, read from which of Django's
    own methods the field's class uses (a subclass that overrides one of them gets GENERIC): a text field
    keeps a str (a TextChoices member too), a boolean a bool, a datetime an aware datetime where the backend
    keeps it (PostgreSQL), each None; a foreign key None. Everything else (ints, which psycopg's backend
    wraps; JSON; …) goes through Django: a webhook delivery prepares ~60 values, most of them these, and
    Django's chain is 5–7 calls for each."""
    cls = type(field)
    if isinstance(field, ForeignKey):
        return ONLY_NONE if cls.get_db_prep_save is ForeignKey.get_db_prep_save else GENERIC
    if cls.get_db_prep_save is not Field.get_db_prep_save:
        return GENERIC
    plain = cls.get_db_prep_value is Field.get_db_prep_value
    for text in (CharField, TextField):
        if plain and cls.get_prep_value is text.get_prep_value and cls.to_python is text.to_python:
            return TEXT
    if plain and cls.get_prep_value is BooleanField.get_prep_value and cls.to_python is BooleanField.to_python:
        return BOOLEAN
    if (
        cls.get_db_prep_value is DateTimeField.get_db_prep_value
        and cls.get_prep_value is DateTimeField.get_prep_value
        and cls.to_python is DateTimeField.to_python
        and type(connection.ops).adapt_datetimefield_value.__module__ == _POSTGRES_OPERATIONS  # returns it as is
    ):
        return AWARE_DATETIME
    return GENERIC


@lru_cache(maxsize=256)
def _fields(
    model: type[Model], names: tuple[str, ...], using: str
) -> tuple[tuple[str, ...], tuple[Field, ...], tuple[int, ...]]:
    """The quoted columns, the fields of `names` and how each prepares a value (_kept_as_is): looked up once
    per model and shape, not per write."""
    connection = connections[using]
    fields = tuple(_field(model, name) for name in names)
    modes = tuple(_kept_as_is(field, connection) for field in fields)
    return tuple(connection.ops.quote_name(field.column) for field in fields), fields, modes


def _prepared(field: Field, mode: int, value: Any, connection: Any) -> Any:
    """`field.get_db_prep_save(value, connection)`, without Django's calls for a value it would keep as is."""
    if value is None:
        kept = mode != GENERIC
    elif mode == TEXT:
        kept = isinstance(value, str)
    elif mode == BOOLEAN:
        kept = type(value) is bool
    elif mode == AWARE_DATETIME:
        kept = type(value) is datetime and value.utcoffset() is not None  # a naive one is made aware, warned
    else:
        kept = False
    return value if kept else field.get_db_prep_save(value, connection)


def _values(model: type[Model], values: Mapping[str, Any], using: str) -> list[Any]:
    """The values prepared as save() prepares them, in `values`' order."""
    connection = connections[using]
    _, fields, modes = _fields(model, tuple(values), using)
    return [
        _prepared(field, mode, value, connection)
        for field, mode, value in zip(fields, modes, values.values(), strict=True)
    ]


def _columns(model: type[Model], values: Mapping[str, Any], using: str) -> tuple[list[str], list[Any]]:
    return list(_fields(model, tuple(values), using)[0]), _values(model, values, using)


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
    sql = _insert_sql(model, tuple(values), after, conflict, using)
    return Write(name, sql, _values(model, values, using), expect, done)


@lru_cache(maxsize=256)
def _insert_sql(model: type[Model], names: tuple[str, ...], after: str, conflict: str, using: str) -> str:
    """insert()'s text, built once per model and shape (every value is a parameter)."""
    quote = connections[using].ops.quote_name
    columns = _fields(model, names, using)[0]
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(columns)}) "  # noqa: S608 - names from meta  # nosec B608
        f"SELECT {', '.join(['%s'] * len(columns))} FROM {after}"
    )
    if conflict:
        sql += f" ON CONFLICT ({quote(_field(model, conflict).column)}) DO NOTHING"
    return sql + f" RETURNING {quote(_pk(model))}"


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
    sql = _update_sql(model, tuple(values), after, where, using)
    return Write(name, sql, [*_values(model, values, using), pk, *where_params], expect, done)


@lru_cache(maxsize=256)
def _update_sql(model: type[Model], names: tuple[str, ...], after: str, where: str, using: str) -> str:
    """update()'s text, built once per model and shape (every value is a parameter)."""
    quote = connections[using].ops.quote_name
    columns = _fields(model, names, using)[0]
    pk_column = quote(_pk(model))
    return (
        f"UPDATE {quote(model._meta.db_table)} SET {', '.join(f'{c} = %s' for c in columns)} "  # noqa: S608  # nosec B608
        f"WHERE {pk_column} = %s {f'AND ({where}) ' if where else ''}AND EXISTS (SELECT 1 FROM {after}) "
        f"RETURNING {pk_column}"
    )


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


@lru_cache(maxsize=256)
def _statement(parts: tuple[tuple[str, str], ...]) -> str:
    """run()'s text for these (name, SQL) parts, built once per shape."""
    return (
        "WITH "  # noqa: S608 - CTE names from the code; every value is a parameter
        + ", ".join(f"{name} AS ({sql})" for name, sql in parts)
        + " "
        + " UNION ALL ".join(f"SELECT '{name}', * FROM {name}" for name, _ in parts)  # noqa: S608  # nosec B608
    )


def run(guard: Write, writes: Sequence[Write], using: str = "default", *, prepare: bool = False) -> Results | None:
    """All the writes in one statement, each only if `guard` (a SELECT of one row, or none) finds its
    row; then their `done` callbacks in order. None: the guard found nothing and nothing was written.
    Raises WroteTooLittle (the caller's transaction must roll back) when a write missed its row.
    `prepare`: kept prepared on the server (core.sqlmemo.run_prepared), for a caller whose writes build
    the same SQL text on every run and whose rows are found by their keys."""
    parts = [guard, *writes]
    sql = _statement(tuple((part.name, part.sql) for part in parts))
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
