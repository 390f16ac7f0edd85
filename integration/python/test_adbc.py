"""Quiver's Flight SQL through ADBC for Python (adbc_driver_flightsql.dbapi),
and pandas and polars on top of it.

Every test starts a real `quiver serve`, puts datasets with plain pyarrow
Flight, and checks what the DB-API driver returns: values, row counts, types,
and for failures the exception class, the gRPC code (the driver's
vendor_code) and that the message names the statement.

ADBC raises its own DB-API exceptions (adbc_driver_manager.Error subclasses)
with the gRPC code as vendor_code; see ADBC_CODES.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import adbc_driver_manager
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from conftest import QUIVER, Server

pytestmark = pytest.mark.parametrize("server", [QUIVER], indirect=True)

# gRPC code -> (its number, the DB-API exception class, ADBC's status name that
# starts the message), as the ADBC Flight SQL driver 1.13 raises them. The
# exception's vendor_code is the gRPC code's number.
ADBC_CODES = {
    "CANCELLED": (1, adbc_driver_manager.OperationalError, "CANCELLED"),
    "INVALID_ARGUMENT": (3, adbc_driver_manager.ProgrammingError, "INVALID_ARGUMENT"),
    "NOT_FOUND": (5, adbc_driver_manager.ProgrammingError, "NOT_FOUND"),
    "ALREADY_EXISTS": (6, adbc_driver_manager.ProgrammingError, "ALREADY_EXISTS"),
    "PERMISSION_DENIED": (7, adbc_driver_manager.ProgrammingError, "UNAUTHORIZED"),
}

SALES = pa.table(
    {
        "id": pa.array([1, 2, 3, 4], pa.int64()),
        "region": pa.array(["north", "south", "north", "east"], pa.string()),
        "amount": pa.array([10.5, 20.0, None, 7.25], pa.float64()),
    }
)
PEOPLE = pa.table(
    {
        "name": pa.array(["ada", "bob"], pa.string()),
        "born": pa.array([1815, 1950], pa.int32()),
        "active": pa.array([False, True], pa.bool_()),
    }
)

# Runs for minutes in DuckDB unless interrupted.
SLOW_QUERY = "SELECT count(*) FROM range(100000000000) t(i) WHERE i % 7 = 3"


def expect_error(code: str, call) -> str:
    """Runs call, which must fail with the gRPC code; returns the message."""
    number, cls, status = ADBC_CODES[code]
    with pytest.raises(adbc_driver_manager.Error) as err:
        call()
    assert type(err.value) is cls, repr(err.value)
    assert err.value.vendor_code == number, repr(err.value)
    message = str(err.value)
    assert message.startswith(status + ": [FlightSQL] "), message
    return message


def query(server_or_cursor, sql: str, params=None) -> pa.Table:
    cur = server_or_cursor
    cur.execute(sql, params)
    return cur.fetch_arrow_table()


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


def test_query_to_arrow_pandas_and_rows(server: Server) -> None:
    server.put("sales.parquet", SALES)
    with server.adbc() as conn, conn.cursor() as cur:
        got = query(cur, "SELECT * FROM sales ORDER BY id")
        assert got.equals(SALES), got
        assert [d[0] for d in cur.description] == ["id", "region", "amount"]
        assert [d[1] for d in cur.description] == [pa.int64(), pa.string(), pa.float64()]

        cur.execute("SELECT region, sum(amount) AS total, count(*) AS n FROM sales GROUP BY region ORDER BY region")
        df = cur.fetch_df()
        want = pd.DataFrame({"region": ["east", "north", "south"], "total": [7.25, 10.5, 20.0], "n": [1, 2, 1]})
        pd.testing.assert_frame_equal(df, want, check_dtype=False)
        assert str(df["n"].dtype) == "int64"

        cur.execute("SELECT id, region FROM sales WHERE amount IS NULL")
        assert cur.fetchall() == [(3, "north")]
        cur.execute("SELECT * FROM sales WHERE id > 100")
        assert cur.fetchall() == []


def test_query_of_a_dataset_replaced_by_plain_flight_sees_the_new_version(server: Server) -> None:
    server.put("sales.parquet", SALES)
    with server.adbc() as conn, conn.cursor() as cur:
        assert query(cur, "SELECT count(*) AS n FROM sales").to_pydict() == {"n": [4]}
        server.put("sales.parquet", SALES.slice(0, 1))
        assert query(cur, "SELECT count(*) AS n FROM sales").to_pydict() == {"n": [1]}


def test_parameters(server: Server) -> None:
    server.put("sales.parquet", SALES)
    with server.adbc() as conn, conn.cursor() as cur:
        got = query(cur, "SELECT id FROM sales WHERE region = ? ORDER BY id", ("north",))
        assert got.to_pydict() == {"id": [1, 3]}
        got = query(cur, "SELECT id FROM sales WHERE amount > ? AND region <> ? ORDER BY id", (8.0, "south"))
        assert got.to_pydict() == {"id": [1]}
        # A NULL parameter compares as NULL: no rows.
        assert query(cur, "SELECT id FROM sales WHERE region = ?", (None,)).num_rows == 0

        # Several parameter rows bound at once (an Arrow batch): the statement
        # runs once per row and the results come one after another.
        rows = pa.record_batch([pa.array(["east", "north", "nowhere"])], names=["region"])
        got = query(cur, "SELECT id, region FROM sales WHERE region = ? ORDER BY id", rows)
        assert got.to_pydict() == {"id": [4, 1, 3], "region": ["east", "north", "north"]}


def test_executemany_is_an_update_and_refused(server: Server) -> None:
    # DB-API's executemany is for statements that change data: the driver
    # sends it as a Flight SQL update, which read-only Quiver refuses. Use a
    # batch of parameter rows with execute (test_parameters) to query many.
    server.put("sales.parquet", SALES)
    with server.adbc() as conn, conn.cursor() as cur:
        message = expect_error(
            "PERMISSION_DENIED", lambda: cur.executemany("SELECT id FROM sales WHERE id = ?", [(1,), (2,)])
        )
        assert "read-only" in message
        assert "ExecuteUpdate" in message


def test_parameter_in_the_select_list(server: Server) -> None:
    # The prepared statement cannot know these columns' types before binding
    # (DuckDB says 'unknown: null'); after binding, the FlightInfo must report
    # what the stream carries, or the driver rejects it as an inconsistent schema.
    server.put("sales.parquet", SALES)
    with server.adbc() as conn, conn.cursor() as cur:
        assert query(cur, "SELECT ? AS greeting", ("hi",)).to_pydict() == {"greeting": ["hi"]}
        got = query(cur, "SELECT id + ? AS n FROM sales ORDER BY id", (0.5,))
        assert got.schema.field("n").type == pa.float64()
        assert got.to_pydict() == {"n": [1.5, 2.5, 3.5, 4.5]}
        # Fully typed before binding, widened by it: BIGINT id with a DOUBLE.
        got = query(cur, "SELECT coalesce(amount::BIGINT, ?) AS a FROM sales ORDER BY id", (0.5,))
        assert got.schema.field("a").type == pa.float64()

        # Several parameter rows share the first row's schema; a NULL row's
        # null-typed column takes it.
        rows = pa.record_batch([pa.array(["a", None, "c"])], names=["g"])
        got = query(cur, "SELECT ? AS greeting", rows)
        assert got.schema.field("greeting").type == pa.string()
        assert got.to_pydict() == {"greeting": ["a", None, "c"]}

        # Rows of different types in one column (a union, as flightsql-dbapi
        # sends) would change the column's type mid-stream: refused, naming it.
        mixed = pa.UnionArray.from_dense(
            pa.array([0, 1], pa.int8()),
            pa.array([0, 0], pa.int32()),
            [pa.array([1], pa.int64()), pa.array(["x"], pa.string())],
        )
        message = expect_error(
            "INVALID_ARGUMENT",
            lambda: query(cur, "SELECT ? AS v", pa.record_batch([mixed], names=["v"])),
        )
        assert '"v"' in message
        # The connection is still good.
        assert query(cur, "SELECT ? AS greeting", ("hi",)).to_pydict() == {"greeting": ["hi"]}


def test_no_query_breaks_sql_for_everyone(server: Server) -> None:
    # DuckDB 1.5.6 fails this statement with a VARCHAR bound: INTERNAL 'Invalid
    # PhysicalType for GetTypeIdSize', a bug of its C API (DuckDB's Python
    # package plans with the values and answers it). It once invalidated the
    # database, so that every later query of every client failed with FATAL.
    # Now it fails alone, as INVALID_ARGUMENT with the way round it, and SQL
    # goes on with no recovery.
    server.put("sales.parquet", SALES)
    with server.adbc() as other, other.cursor() as other_cur:
        other_cur.execute("SELECT id FROM sales ORDER BY id")  # open on another connection
        with server.adbc() as conn, conn.cursor() as cur:
            with pytest.raises(adbc_driver_manager.Error) as err:
                query(cur, "SELECT typeof($1) AS a, $1::VARCHAR AS b", ("x",))
            assert err.value.vendor_code == 3, repr(err.value)  # INVALID_ARGUMENT
            assert "GetTypeIdSize" in str(err.value)
            assert "cast it at its first use" in str(err.value)
            # The same connection, and the same statement typed in its first use.
            got = query(cur, "SELECT $1::VARCHAR AS b, typeof($1) AS a", ("x",))
            assert got.to_pydict() == {"b": ["x"], "a": ["VARCHAR"]}
        assert other_cur.fetch_arrow_table().to_pydict() == {"id": [1, 2, 3, 4]}
    with server.adbc() as conn, conn.cursor() as cur:
        assert query(cur, "SELECT 1 AS one").to_pydict() == {"one": [1]}
        assert query(cur, "SELECT count(*) AS n FROM sales").to_pydict() == {"n": [4]}


def test_query_errors_name_the_problem(server: Server) -> None:
    server.put("sales.parquet", SALES)
    with server.adbc() as conn, conn.cursor() as cur:
        message = expect_error("INVALID_ARGUMENT", lambda: cur.execute("SELECT * FROM nosuchtable"))
        assert "nosuchtable" in message
        message = expect_error("INVALID_ARGUMENT", lambda: cur.execute("SELEC 1"))
        assert "SELEC" in message
        # Errors DuckDB raises while running arrive as themselves, not as a
        # cancellation (they once did, under the default --query-timeout).
        message = expect_error("INVALID_ARGUMENT", lambda: query(cur, "SELECT error('boom') FROM sales"))
        assert "boom" in message
        message = expect_error("INVALID_ARGUMENT", lambda: query(cur, "SELECT CAST(region AS INTEGER) FROM sales"))
        assert "Could not convert string 'north'" in message
        # The connection is still good.
        assert query(cur, "SELECT count(*) AS n FROM sales").to_pydict() == {"n": [4]}


def cpu_seconds(pid: int) -> float:
    """The user+system CPU time process pid has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_cancel_a_running_query_from_another_thread(server: Server) -> None:
    with server.adbc() as conn, conn.cursor() as cur:
        started = time.monotonic()
        cancel_at = started + 1.0

        def cancel() -> None:
            time.sleep(max(0.0, cancel_at - time.monotonic()))
            cur.adbc_cancel()

        canceller = threading.Thread(target=cancel)
        canceller.start()
        try:
            message = expect_error("CANCELLED", lambda: query(cur, SLOW_QUERY))
        finally:
            canceller.join()
        raised_after = time.monotonic() - cancel_at
        # Generous: DuckDB stops within milliseconds; the machine is shared.
        assert raised_after < 10, f"the exception came {raised_after:.1f}s after adbc_cancel()"
        assert "canceled" in message

        # The server stopped working on it too: almost no CPU over a second
        # (the query kept both cores busy while it ran).
        time.sleep(0.5)
        before = cpu_seconds(server.pid)
        time.sleep(1.0)
        assert cpu_seconds(server.pid) - before < 0.3

        # The same cursor and connection go on working.
        assert query(cur, "SELECT 42 AS answer").to_pydict() == {"answer": [42]}


# Each refused statement, the gRPC code and what its message must name.
# The {root} and {outside} placeholders are filled in per test: {root} is the one
# directory the server's DuckDB may read (the dataset root, or on S3 the part
# cache), and {shown} the label its messages show for it.
REFUSED = {
    "copy-into-root": ("COPY (SELECT * FROM sales) TO '{root}/x.parquet' (FORMAT parquet)", "PERMISSION_DENIED", "statement type COPY is not allowed"),
    "copy-outside": ("COPY sales TO '{outside}/y.csv'", "PERMISSION_DENIED", "statement type COPY is not allowed"),
    "create-table": ("CREATE TABLE t AS SELECT 1", "PERMISSION_DENIED", "statement type CREATE is not allowed"),
    "create-view": ("CREATE OR REPLACE VIEW sales AS SELECT 1", "PERMISSION_DENIED", "statement type CREATE is not allowed"),
    "insert": ("INSERT INTO sales VALUES (9, 'west', 1.0)", "PERMISSION_DENIED", "statement type INSERT is not allowed"),
    "drop": ("DROP VIEW sales", "PERMISSION_DENIED", "statement type DROP is not allowed"),
    "attach": ("ATTACH '{outside}/db.duckdb' AS other", "PERMISSION_DENIED", "statement type ATTACH is not allowed"),
    "set": ("SET enable_external_access = true", "PERMISSION_DENIED", "statement type SET is not allowed"),
    "install": ("INSTALL httpfs", "PERMISSION_DENIED", "statement type INSTALL is not allowed"),
    "load": ("LOAD httpfs", "PERMISSION_DENIED", "statement type LOAD is not allowed"),
    "export": ("EXPORT DATABASE '{outside}/export'", "PERMISSION_DENIED", "statement type EXPORT is not allowed"),
    "select-then-copy": ("SELECT 1; COPY sales TO '{root}/z.csv'", "PERMISSION_DENIED", "2 statements, not all SELECT"),
    "two-selects": ("SELECT 1; SELECT 2", "INVALID_ARGUMENT", "2 statements; multiple statements are not allowed"),
    "read-etc-passwd": ("SELECT * FROM read_csv('/etc/passwd')", "PERMISSION_DENIED", 'Cannot access file "/etc/passwd"'),
    "read-outside": ("SELECT * FROM read_csv('{outside}/secret.csv')", "PERMISSION_DENIED", 'Cannot access file "{outside}/secret.csv"'),
    # The dataset root is shown as <root> (the part cache as <cache>): no client learns the server's paths.
    "traversal": ("SELECT * FROM read_parquet('{root}/../sales.parquet')", "PERMISSION_DENIED", 'Cannot access file "{shown}/../sales.parquet"'),
    "logging": ("SELECT * FROM enable_logging(storage := 'file', storage_path := '{root}/logs')", "PERMISSION_DENIED", "function enable_logging is not allowed"),
}


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
def test_sandbox_refusals(server: Server, tmp_path: Path, case: tuple[str, str, str]) -> None:
    sql, code, says = case
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("a\n1\n")
    server.put("sales.parquet", SALES)
    sql = sql.format(root=server.sql_dir, outside=outside)

    with server.adbc() as conn, conn.cursor() as cur:
        # A first query fills what the server keeps for SQL (on S3, the part
        # cache); what a refusal writes is measured from there.
        assert query(cur, "SELECT count(*) AS n FROM sales").to_pydict() == {"n": [4]}
        before, stored = files_under(tmp_path), files_under(server.root)
        message = expect_error(code, lambda: query(cur, sql))
        assert says.format(root=server.sql_dir, outside=outside, shown=server.sql_dir_label) in message
        assert str(server.sql_dir) not in message  # shown as its label, even where the SQL named it
        assert f'sql "{sql[:40]}' in message  # the statement is quoted (long ones cut)
        if code == "PERMISSION_DENIED" and "statement type" in says:
            assert "Quiver's SQL is read-only" in message
        if "Cannot access file" in says:
            assert "not allowed by Quiver's SQL sandbox" in message

        # Nothing was written, in the root or outside it, and all still works.
        assert files_under(tmp_path) - before <= {"quiver.log"}
        assert files_under(server.root) == stored  # on S3 the bucket, elsewhere
        assert query(cur, "SELECT count(*) AS n FROM sales").to_pydict() == {"n": [4]}
    assert server.get("sales.parquet").equals(SALES)


def test_polars_reads_a_query_through_adbc(server: Server) -> None:
    server.put("sales.parquet", SALES)
    with server.adbc() as conn:
        df = pl.read_database("SELECT id, region, amount FROM sales ORDER BY id", connection=conn)
        assert df.schema == pl.Schema({"id": pl.Int64, "region": pl.String, "amount": pl.Float64})
        assert df.to_dict(as_series=False) == SALES.to_pydict()

        with conn.cursor() as cur:
            cur.execute("SELECT region, count(*) AS n FROM sales GROUP BY region ORDER BY n DESC, region")
            df = pl.from_arrow(cur.fetch_arrow_table())
        assert df.rows() == [("north", 2), ("east", 1), ("south", 1)]


def test_pandas_and_polars_through_plain_flight(server: Server) -> None:
    server.put("sales.parquet", SALES)
    with server.connect() as client:
        df = client.do_get(flight.Ticket(b"sales.parquet")).read_pandas()
        pd.testing.assert_frame_equal(df, SALES.to_pandas())
        frame = pl.from_arrow(client.do_get(flight.Ticket(b"sales.parquet")).read_all())
        assert frame.to_dict(as_series=False) == SALES.to_pydict()


def test_pandas_dataframe_ingested_and_read_back(server: Server) -> None:
    df = SALES.to_pandas()
    with server.adbc() as conn, conn.cursor() as cur:
        assert cur.adbc_ingest("fromdf", pa.Table.from_pandas(df, preserve_index=False), mode="create") == 4
        cur.execute("SELECT * FROM fromdf ORDER BY id")
        pd.testing.assert_frame_equal(cur.fetch_df(), df)
    # pandas 3 strings convert to large_string, and the dataset keeps that type.
    want = SALES.cast(SALES.schema.set(1, pa.field("region", pa.large_string())))
    assert server.get("fromdf.parquet").equals(want)


# ---------------------------------------------------------------------------
# Metadata: GetCatalogs, GetDbSchemas, GetTables (with schemas), GetSqlInfo.


def test_get_objects_shows_every_dataset_and_its_columns(server: Server) -> None:
    server.put("sales.parquet", SALES)
    server.put("people.parquet", PEOPLE)
    with server.adbc() as conn:
        objects = conn.adbc_get_objects().read_all().to_pylist()
        tables = {}
        for catalog in objects:
            for schema in catalog["catalog_db_schemas"] or []:
                for table in schema["db_schema_tables"] or []:
                    where = (catalog["catalog_name"], schema["db_schema_name"])
                    tables[table["table_name"]] = (where, table)
        assert sorted(tables) == ["people", "sales"]
        for name, want, types in [
            ("sales", SALES, ["BIGINT", "VARCHAR", "DOUBLE"]),
            ("people", PEOPLE, ["VARCHAR", "INTEGER", "BOOLEAN"]),
        ]:
            where, table = tables[name]
            assert where == ("memory", "main")
            assert table["table_type"] == "TABLE"
            columns = table["table_columns"]
            assert [c["column_name"] for c in columns] == want.schema.names
            assert [c["ordinal_position"] for c in columns] == list(range(1, len(want.schema) + 1))
            assert [c["xdbc_type_name"] for c in columns] == types

        # Filters narrow it down.
        only = conn.adbc_get_objects(depth="tables", table_name_filter="peo%").read_all().to_pylist()
        names = [t["table_name"] for c in only for s in c["catalog_db_schemas"] for t in s["db_schema_tables"]]
        assert names == ["people"]
        assert conn.adbc_get_table_types() == ["TABLE"]


def test_get_table_schema(server: Server) -> None:
    server.put("sales.parquet", SALES)
    with server.adbc() as conn:
        schema = conn.adbc_get_table_schema("sales")
        assert schema.names == SALES.schema.names
        assert schema.types == SALES.schema.types
        assert schema.field("id").metadata[b"ARROW:FLIGHT:SQL:TABLE_NAME"] == b"sales"
        # GetTables finds no such table; the driver itself then raises NotFound,
        # so there is no gRPC code and no message.
        with pytest.raises(adbc_driver_manager.ProgrammingError, match="^NOT_FOUND: "):
            conn.adbc_get_table_schema("nosuchtable")


def test_get_info_names_quiver(server: Server) -> None:
    with server.adbc() as conn:
        info = conn.adbc_get_info()
    assert info["vendor_name"] == "Quiver"
    assert info["vendor_arrow_version"].startswith("18.")


# ---------------------------------------------------------------------------
# Bulk ingest: CommandStatementIngest with each mode.


def sql_table(cur, table: str) -> pa.Table:
    return query(cur, f'SELECT * FROM "{table}" ORDER BY ALL')


def test_ingest_modes(server: Server) -> None:
    first = SALES.slice(0, 2)
    second = SALES.slice(2, 2)
    with server.adbc() as conn, conn.cursor() as cur:
        # create: a new dataset, <table>.parquet, queryable and fetchable at once.
        assert cur.adbc_ingest("ingested", first, mode="create") == 2
        assert sql_table(cur, "ingested").equals(first)
        assert server.get("ingested.parquet").equals(first)
        message = expect_error("ALREADY_EXISTS", lambda: cur.adbc_ingest("ingested", second, mode="create"))
        assert "ingested.parquet" in message

        # append: adds rows to an existing dataset only.
        assert cur.adbc_ingest("ingested", second, mode="append") == 2
        assert sql_table(cur, "ingested").equals(SALES)
        assert server.get("ingested.parquet").sort_by("id").equals(SALES)
        message = expect_error("NOT_FOUND", lambda: cur.adbc_ingest("missing", second, mode="append"))
        assert "missing.parquet" in message

        # replace: the new rows only.
        assert cur.adbc_ingest("ingested", second, mode="replace") == 2
        assert sql_table(cur, "ingested").equals(second)
        assert server.get("ingested.parquet").equals(second)

        # create_append: creates when missing, appends when there.
        assert cur.adbc_ingest("both", first, mode="create_append") == 2
        assert cur.adbc_ingest("both", second, mode="create_append") == 2
        assert sql_table(cur, "both").equals(SALES)
        assert server.get("both.parquet").sort_by("id").equals(SALES)

        # A stream of many batches, as from a reader.
        batches = pa.RecordBatchReader.from_batches(SALES.schema, SALES.to_batches(max_chunksize=1))
        assert cur.adbc_ingest("streamed", batches, mode="create") == 4
        assert sql_table(cur, "streamed").equals(SALES)

    with server.connect() as client:
        listed = {i.descriptor.path[0].decode(): i.total_records for i in client.list_flights()}
    assert listed == {"ingested.parquet": 2, "both.parquet": 4, "streamed.parquet": 4}


def test_ingest_refusals_leave_the_dataset_as_it_was(server: Server) -> None:
    with server.adbc() as conn, conn.cursor() as cur:
        cur.adbc_ingest("kept", SALES, mode="create")
        before = files_under(server.root)
        wrong = [
            pa.table({"x": pa.array([1.5])}),  # other columns
            SALES.cast(pa.schema([("id", pa.int32()), ("region", pa.string()), ("amount", pa.float64())])),
            SALES.select(["region", "id", "amount"]),  # same columns, other order
        ]
        for table in wrong:
            message = expect_error("INVALID_ARGUMENT", lambda: cur.adbc_ingest("kept", table, mode="append"))
            assert "does not match the dataset's" in message
        for name in ["../x", "a/b", ".hidden"]:
            message = expect_error("INVALID_ARGUMENT", lambda: cur.adbc_ingest(name, SALES, mode="create"))
            assert "invalid dataset name" in message
        assert files_under(server.root) == before
        assert sql_table(cur, "kept").equals(SALES)
