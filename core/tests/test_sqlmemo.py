"""core.sqlmemo: a query shape compiled once, then run with new values, returns what the ORM returns."""

import datetime

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core import sqlmemo

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_sqlmemo")]


def groups(values):
    qs = Group.objects.all()
    if "above" in values:
        qs = qs.filter(pk__gt=values["above"])
    if "word" in values:
        qs = qs.filter(name__contains=values["word"])
    return qs.order_by("name").values_list("name")


def test_a_shape_is_compiled_once_and_runs_with_each_calls_values(compilations):
    for name in ("alpha", "beta", "gamma", "delta"):
        Group.objects.create(name=name)
    first = Group.objects.order_by("pk").first()

    assert sqlmemo.rows("groups", groups, {"above": first.pk}) == [("beta",), ("delta",), ("gamma",)]
    assert sqlmemo.rows("groups", groups, {"above": first.pk + 2}) == [("delta",)]
    with CaptureQueriesContext(connection) as queries:
        assert sqlmemo.rows("groups", groups, {"above": 0}) == [("alpha",), ("beta",), ("delta",), ("gamma",)]

    assert compilations == [Group, Group]  # first(), then the memo's one: the others reuse its SQL
    assert len(queries) == 1  # still one statement, seen by the query log like any other


def test_a_like_value_is_escaped_as_the_orm_escapes_it(compilations):
    for name in ("100% sure", "100 percent", "a_b", "axb"):
        Group.objects.create(name=name)

    for word in ("%", "0%", "_", "a_b", "x", "percent"):
        expected = list(groups({"word": word}))
        assert sqlmemo.rows("by word", groups, {"word": word}) == expected, word
    assert sqlmemo.rows("by word", groups, {"word": "%"}) == [("100% sure",)]
    assert sqlmemo.rows("by word", groups, {"word": "_"}) == [("a_b",)]
    assert len([model for model in compilations if model is Group]) == 1 + 6  # the memo's one, the ORM's six


def test_values_are_part_of_the_key_only_by_name():
    Group.objects.create(name="one")
    assert sqlmemo.rows("groups", groups, {}) == [("one",)]
    assert sqlmemo.rows("groups", groups, {"word": "on"}) == [("one",)]
    assert sqlmemo.rows("groups", groups, {"word": "x"}) == []


def test_a_shape_the_orm_folds_away_runs_through_the_orm(compilations):
    Group.objects.create(name="one")

    def none_or_all(values):
        return (Group.objects.none() if values["nobody"] == "yes" else Group.objects.all()).values_list("name")

    with CaptureQueriesContext(connection) as queries:
        assert sqlmemo.rows("folded", none_or_all, {"nobody": "yes"}) == []
        assert sqlmemo.rows("folded", none_or_all, {"nobody": "yes"}) == []
    assert len(queries) == 0


def test_a_value_repeated_in_the_sql_is_not_memoised(compilations):
    Group.objects.create(name="one")

    def twice(values):
        return Group.objects.filter(name=values["name"]).exclude(name__gt=values["name"]).values_list("pk")

    for _ in range(3):
        assert len(sqlmemo.rows("twice", twice, {"name": "one"})) == 1
    assert len(compilations) == 1 + 3  # the memo tried once, then the ORM compiles every time


def test_none_and_huge_integers_take_the_orm_path():
    permission = Permission.objects.order_by("pk").first()

    def by_pk(values):
        return Permission.objects.filter(pk__gte=values["pk"]).order_by("pk").values_list("pk")[:1]

    assert sqlmemo.rows("huge", by_pk, {"pk": 2**70}) == []
    assert sqlmemo.rows("huge", by_pk, {"pk": permission.pk}) == [(permission.pk,)]


@pytest.mark.parametrize("lookup", ["iexact", "startswith", "icontains", "exact"])
def test_a_value_with_wildcards_matches_as_the_orm_matches_it(lookup, compilations):
    for name in ("50%", "50% off", "5000", "a_b", "axb", "A_B"):
        Group.objects.create(name=name)

    def by(values):
        return Group.objects.filter(**{f"name__{lookup}": values["name"]}).order_by("name").values_list("name")

    for value in ("50%", "a_b", "A_B", "5", "x"):
        assert sqlmemo.rows(("by", lookup), by, {"name": value}) == list(by({"name": value})), value
    memoised = len([model for model in compilations if model is Group]) - 5  # less the ORM's own five
    assert memoised == 1


def test_a_prepared_shape_returns_what_the_orm_returns_and_is_prepared_once():
    """prepare=True: PostgreSQL keeps the statement prepared on the connection (parsed and planned once);
    the rows, their dates among them, are the ORM's, and the query log still sees every run."""
    stamps = [datetime.datetime(2026, 1, 2, 3, 4, 5, micro, datetime.UTC) for micro in (0, 6, 999_999)]
    keys = [
        Session.objects.create(session_key=f"prepared{i}", session_data="x", expire_date=stamp).pk
        for i, stamp in enumerate(stamps)
    ]

    def expiring(values):
        return Session.objects.filter(pk=values["key"]).values_list("session_key", "expire_date")

    with CaptureQueriesContext(connection) as queries:
        for key in keys * 2:
            assert sqlmemo.rows("expiring", expiring, {"key": key}, prepare=True) == list(expiring({"key": key}))
    assert len(queries) == 12  # six memoised runs, six through the ORM
    assert [row[1] for row in sqlmemo.rows("expiring", expiring, {"key": keys[2]}, prepare=True)] == stamps[2:]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s", ["%expire_date%"])
            prepared = [statement for (statement,) in cursor.fetchall()]
        assert len(prepared) == 1 and '"django_session"."session_key" = $1' in prepared[0]


def test_prepared_instances_are_the_orms_and_are_prepared_once():
    """instances(prepare=True), as the dashboards run their lists: the ORM's instances, the statement kept
    prepared on PostgreSQL."""
    keys = [
        Session.objects.create(
            session_key=f"instance{i}",
            session_data=f"d{i}",
            expire_date=datetime.datetime(2026, 5, 1, i, tzinfo=datetime.UTC),
        ).pk
        for i in range(3)
    ]

    def by_key(values):
        return Session.objects.filter(pk=values["key"], session_data__startswith="d")

    for key in keys * 2:
        found = sqlmemo.instances("instance by key", by_key, {"key": key}, prepare=True)
        orm = list(by_key({"key": key}))
        assert [(s.pk, s.session_data, s.expire_date) for s in found] == [
            (s.pk, s.session_data, s.expire_date) for s in orm
        ]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s", ["%session_data%LIKE%"]
            )
            prepared = [statement for (statement,) in cursor.fetchall()]
        assert len(prepared) == 1 and '"django_session"."session_key" = $1' in prepared[0]


def test_an_unprepared_shape_is_not_prepared():
    Session.objects.create(session_key="unprepared", session_data="y", expire_date=datetime.datetime.now(datetime.UTC))

    def data(values):
        return Session.objects.filter(pk=values["key"]).values_list("session_data")

    for _ in range(6):
        assert sqlmemo.rows("unprepared", data, {"key": "unprepared"}) == [("y",)]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%session_data%"])
            assert cursor.fetchone() == (0,)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_a_prepared_statement_survives_a_column_changing_type():
    """A migration while the process runs can change a column's type under a prepared statement; PostgreSQL
    then refuses it ("cached plan must not change result type") on every run until it is prepared again."""
    Session.objects.create(session_key="altered", session_data="w", expire_date=datetime.datetime.now(datetime.UTC))

    def data(values):
        return Session.objects.filter(pk=values["key"]).values_list("session_data")

    assert sqlmemo.rows("altered", data, {"key": "altered"}, prepare=True) == [("w",)]
    elsewhere = connection.copy()  # the migration runs in another process: this connection sees no ALTER
    with elsewhere.cursor() as cursor:
        cursor.execute("ALTER TABLE django_session ALTER COLUMN session_data TYPE varchar(100000)")
    try:
        for _ in range(2):
            assert sqlmemo.rows("altered", data, {"key": "altered"}, prepare=True) == [("w",)]
    finally:
        with elsewhere.cursor() as cursor:
            cursor.execute("ALTER TABLE django_session ALTER COLUMN session_data TYPE text")
        elsewhere.close()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_a_prepared_statement_refused_inside_a_transaction_is_prepared_again_by_the_next_run():
    """Inside a transaction the refusal aborts it and cannot be retried there: that transaction fails (as on
    any database error). It does not repeat on every run (a webhook's locking read runs in the delivery's
    transaction): psycopg deallocates the connection's prepared statements on the rollback."""
    from django.db import NotSupportedError, transaction

    Session.objects.create(session_key="stale", session_data="v", expire_date=datetime.datetime.now(datetime.UTC))

    def data(values):
        return Session.objects.filter(pk=values["key"]).values_list("session_data")

    assert sqlmemo.rows("stale", data, {"key": "stale"}, prepare=True) == [("v",)]
    elsewhere = connection.copy()
    with elsewhere.cursor() as cursor:
        cursor.execute("ALTER TABLE django_session ALTER COLUMN session_data TYPE varchar(100000)")
    try:
        with pytest.raises(NotSupportedError), transaction.atomic():
            sqlmemo.rows("stale", data, {"key": "stale"}, prepare=True)
        for _ in range(2):
            with transaction.atomic():
                assert sqlmemo.rows("stale", data, {"key": "stale"}, prepare=True) == [("v",)]
    finally:
        with elsewhere.cursor() as cursor:
            cursor.execute("ALTER TABLE django_session ALTER COLUMN session_data TYPE text")
        elsewhere.close()


def test_run_prepared_runs_raw_sql_prepared_once():
    """core.writes' one statement runs through run_prepared: rows as the cursor returns them, one prepared
    statement per SQL text on PostgreSQL, Django's own cursor elsewhere."""
    sql = "SELECT %s + 1, %s"
    assert [tuple(row) for run in range(6) for row in sqlmemo.run_prepared(connection, sql, [run, "x"])] == [
        (run + 1, "x") for run in range(6)
    ]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s", ["%$1 + 1%"])
            assert cursor.fetchall() == [("SELECT $1 + 1, $2",)]


def test_run_prepared_keeps_a_literal_percent_and_refuses_another_placeholder():
    """Django's %% is a literal % on every database; on PostgreSQL the text is numbered once per text."""
    assert [tuple(row) for row in sqlmemo.run_prepared(connection, "SELECT '100%%', %s", ["x"])] == [("100%", "x")]
    assert sqlmemo.numbered_placeholders("SELECT '5%%' || %s, %s") == "SELECT '5%' || $1, $2"
    for bad in ("SELECT %(name)s", "SELECT %d", "SELECT 5 %"):
        with pytest.raises(ValueError, match="prepared statement"):
            sqlmemo.numbered_placeholders(bad)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="psycopg's own conversion is PostgreSQL's")
def test_a_statement_of_many_parameters_is_not_split_again_on_each_run(monkeypatch):
    """psycopg caches its conversion of %s only for statements of at most 50 parameters; the webhook's one
    statement has 64, so psycopg split its text on every delivery. The preparing cursor sends it numbered
    ($1…, converted once per text), which psycopg passes through without splitting."""
    from psycopg import _queries

    splits = []
    split = _queries._split_query

    def counted(query, *args, **kwargs):
        splits.append(query)
        return split(query, *args, **kwargs)

    monkeypatch.setattr(_queries, "_split_query", counted)
    sql = "SELECT " + ", ".join(["%s::int"] * 64)
    for run in range(3):
        assert list(sqlmemo.run_prepared(connection, sql, list(range(run, run + 64)))[0]) == list(range(run, run + 64))
    assert [query for query in splits if b"::int" in query] == []


def _permissions(values):
    return Permission.objects.select_related("content_type").filter(codename=values["codename"])


def _locked_permissions(values):
    return _permissions(values).select_for_update(of=("self",))


def test_instances_are_the_orms_with_their_select_related_rows_and_compiled_once(compilations):
    codenames = list(Permission.objects.order_by("pk").values_list("codename", flat=True)[:3])
    compilations.clear()

    for codename in codenames:
        found = sqlmemo.instances("permission", _permissions, {"codename": codename})
        expected = list(_permissions({"codename": codename}))
        assert [(p.pk, p.name, p.codename, p.content_type_id) for p in found] == [
            (p.pk, p.name, p.codename, p.content_type_id) for p in expected
        ]
        with CaptureQueriesContext(connection) as queries:
            assert found[0].content_type.model == expected[0].content_type.model  # loaded with it: no query
        assert not found[0]._state.adding and found[0]._state.db == "default"
        assert len(queries) == 0
    assert compilations.count(Permission) == 1 + len(codenames)  # the memo's one, then the ORM's for comparison


@pytest.mark.django_db(transaction=True)
def test_a_locking_shape_runs_in_a_transaction_and_outside_one_fails_as_the_orm_does():
    from django.db import transaction
    from django.db.transaction import TransactionManagementError

    if not connection.features.has_select_for_update:
        pytest.skip("this database has no row locks (SQLite): select_for_update is a no-op there")
    codename = Permission.objects.values_list("codename", flat=True).first()
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert sqlmemo.instances("locked", _locked_permissions, {"codename": codename})
    assert "FOR UPDATE" in queries[-1]["sql"]
    with pytest.raises(TransactionManagementError):
        sqlmemo.instances("locked", _locked_permissions, {"codename": codename})
