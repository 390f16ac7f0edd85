"""SQLAlchemy against Quiver through a Flight SQL dialect, as Superset connects.

The dialect is flightsql-dbapi 0.2.2 (InfluxData's DB-API 2 and SQLAlchemy
adapter for Flight SQL, pure Python over pyarrow.flight; last release
September 2024). It needs SQLAlchemy < 2, which is what Superset runs on.
Its dialect is registered as "datafusion":

    datafusion://HOST:PORT?insecure=true&feature-sqlalchemy-prepared-statements=on

Without the feature flag it inlines bound parameters into the SQL text, and
with SQLAlchemy 1.4 each one comes out as NULL: a query with parameters
silently returns the wrong rows (a client bug, pinned below). With the flag
it sends them to a prepared statement as dense unions, which Quiver binds.

Other limits of the dialect, pinned below: it reads each result whole and
through pandas (a null double comes back as NaN; nothing streams), maps every
signed integer narrower than 64 bits to INTEGER, and lets pyarrow's Flight
exceptions through instead of DB-API errors. On connect it asks GetSqlInfo
for the identifier quote and read-only flag, so it needs Quiver's Flight SQL
metadata.

Also tried, not used: sqlalchemy-adbc 0.3.0 (needs SQLAlchemy >= 2, so not
beside this one); its inspector lists no tables because it expects
table_type "table" where Flight SQL servers (Quiver, and what JDBC tools
expect) say "TABLE"; columns and queries work.
"""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.flight as flight
import pytest
import sqlalchemy
from sqlalchemy import MetaData, Table, create_engine, event, func, inspect, select, text

from conftest import QUIVER, Server

quiver_only = pytest.mark.parametrize("server", [QUIVER], indirect=True)

SALES = pa.table(
    {
        "id": pa.array([1, 2, 3, 4], pa.int64()),
        "region": pa.array(["north", "south", "north", "east"], pa.string()),
        "amount": pa.array([10.5, 20.0, None, 7.25], pa.float64()),
        "day": pa.array([1, 1, 2, 3], pa.int32()),
    }
)
PEOPLE = pa.table({"name": ["ada", "bob"], "born": pa.array([1815, 1950], pa.int16())})


def engine_for(server: Server, prepared: bool = True) -> sqlalchemy.engine.Engine:
    port = server.location.rsplit(":", 1)[1]
    url = f"datafusion://127.0.0.1:{port}?insecure=true"
    if prepared:
        url += "&feature-sqlalchemy-prepared-statements=on"
    return create_engine(url)


def test_sqlalchemy_version_is_what_superset_runs() -> None:
    assert sqlalchemy.__version__.startswith("1.4.")


@quiver_only
def test_inspector_lists_tables_and_columns(server: Server) -> None:
    server.put("sales.parquet", SALES)
    server.put("people.parquet", PEOPLE)
    engine = engine_for(server)
    try:
        insp = inspect(engine)
        assert insp.get_schema_names() == ["main"]
        assert sorted(insp.get_table_names()) == ["people", "sales"]
        assert sorted(insp.get_table_names(schema="main")) == ["people", "sales"]
        assert insp.has_table("sales") and not insp.has_table("nosuchtable")
        columns = insp.get_columns("sales")
        assert [c["name"] for c in columns] == ["id", "region", "amount", "day"]
        assert [type(c["type"]).__name__ for c in columns] == ["BIGINT", "TEXT", "FLOAT", "INTEGER"]
        # The dialect maps every signed integer narrower than 64 bits to INTEGER.
        assert [type(c["type"]).__name__ for c in insp.get_columns("people")] == ["TEXT", "INTEGER"]
        assert insp.get_view_names() == []
    finally:
        engine.dispose()


@quiver_only
def test_queries_return_rows(server: Server) -> None:
    server.put("sales.parquet", SALES)
    engine = engine_for(server)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, region, amount FROM sales ORDER BY id")).fetchall()
            # The dialect reads the whole result through pandas: a null double is NaN.
            assert [tuple(r) for r in rows[:2]] == [(1, "north", 10.5), (2, "south", 20.0)]
            assert rows[2][:2] == (3, "north") and math.isnan(rows[2][2])
            assert tuple(rows[3]) == (4, "east", 7.25)

            # Bound parameters, through a prepared statement.
            rows = conn.execute(text("SELECT id FROM sales WHERE region = :r AND amount > :a ORDER BY id"), {"r": "north", "a": 5.0})
            assert rows.fetchall() == [(1,)]

            # SQLAlchemy Core on a reflected table, as Superset's explore view builds them.
            sales = Table("sales", MetaData(), autoload_with=conn)
            query = (
                select(sales.c.region, func.count().label("n"), func.sum(sales.c.amount).label("total"))
                .where(sales.c.day >= 1)
                .group_by(sales.c.region)
                .order_by(sales.c.region)
                .limit(10)
            )
            assert conn.execute(query).fetchall() == [("east", 1, 7.25), ("north", 2, 10.5), ("south", 1, 20.0)]
    finally:
        engine.dispose()


@quiver_only
def test_refusals_are_exceptions(server: Server) -> None:
    server.put("sales.parquet", SALES)
    engine = engine_for(server)
    try:
        with engine.connect() as conn:
            # The dialect lets pyarrow's Flight exceptions through unwrapped (they
            # are not DB-API errors, so SQLAlchemy does not wrap them either).
            with pytest.raises(flight.FlightUnauthorizedError, match="statement type INSERT is not allowed"):
                conn.execute(text("INSERT INTO sales VALUES (9, 'west', 1.0, 4)"))
        with engine.connect() as conn:
            with pytest.raises(pa.ArrowInvalid, match="nosuchtable"):
                conn.execute(text("SELECT * FROM nosuchtable"))
    finally:
        engine.dispose()
    assert server.get("sales.parquet").equals(SALES)


@quiver_only
def test_without_the_prepared_statements_flag_parameters_become_null(server: Server) -> None:
    # A client bug, pinned so that the README's advice stays true: the
    # dialect's literal-binding compiler renders every bound value as NULL.
    server.put("sales.parquet", SALES)
    engine = engine_for(server, prepared=False)
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda conn, cur, statement, *rest: sent.append(statement))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id FROM sales WHERE region = :r"), {"r": "north"}).fetchall()
    finally:
        engine.dispose()
    assert sent == ["SELECT id FROM sales WHERE region = NULL"]
    assert rows == []
