"""DuckDB from Python reads the bucket Quiver serves, over its httpfs extension.

Quiver's own DuckDB (1.5.6, linked statically) has no httpfs; the Python duckdb
package is a separate DuckDB, pinned at 1.5.5 here because PyPI's
duckdb-extension-httpfs stops there and an extension loads only into the
DuckDB version it was built for. It is loaded from the installed file (no
download at run time) and pointed at the versitygw bucket with path-style URLs.

What the cases check, as docs/layout.md tells other engines to read the root:
a dataset Quiver wrote is read by following its manifest and gives exactly
the rows Quiver serves; a hive-partitioned directory that DuckDB itself wrote
into the bucket (COPY ... PARTITION_BY) is served by Quiver with the partition
columns DuckDB reads, on plain Flight and in SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import adbc_driver_flightsql.dbapi as adbc
import duckdb
import duckdb_extension_httpfs
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from s3_fixtures import PREFIX, S3, S3Quiver, s3, s3_quiver  # noqa: F401  (fixtures)
from versitygw import ACCESS_KEY, REGION, SECRET_KEY


def httpfs_path() -> Path:
    """The httpfs build the duckdb-extension-httpfs wheel ships for this duckdb."""
    path = Path(duckdb_extension_httpfs.__file__).parent / "extensions" / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
    assert path.is_file(), f"duckdb-extension-httpfs has no build for duckdb {duckdb.__version__} at {path}"
    return path


@pytest.fixture
def duck(s3: S3) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with httpfs loaded from the wheel, on the s3 fixture's server."""
    # No extension is fetched: the one LOAD below is from the installed file.
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        con.execute(f"LOAD '{httpfs_path()}'")
        settings = {
            "s3_endpoint": s3.endpoint.removeprefix("http://"),
            "s3_url_style": "path",
            "s3_use_ssl": "false",
            "s3_region": REGION,
            "s3_access_key_id": ACCESS_KEY,
            "s3_secret_access_key": SECRET_KEY,
        }
        for key, value in settings.items():
            con.execute(f"SET {key} = '{value}'")
        yield con
    finally:
        con.close()


def served(server: S3Quiver, name: str) -> pa.Table:
    """The dataset as Quiver serves it on plain Flight, every endpoint in order."""
    with server.connect() as client:
        info = client.get_flight_info(flight.FlightDescriptor.for_path(name))
        return pa.concat_tables(client.do_get(ep.ticket).read_all() for ep in info.endpoints)


def read_by_manifest(duck: duckdb.DuckDBPyConnection, base: str) -> pa.Table:
    """Reads the parts base's manifest lists, in its order, all within DuckDB."""
    duck.execute(
        f"SET VARIABLE parts = (SELECT list_transform(parts, p -> '{base}/' || p) "
        f"FROM read_json('{base}/_quiver_manifest.json'))"
    )
    return duck.execute("SELECT * FROM read_parquet(getvariable('parts'))").arrow().read_all()


def test_httpfs_is_the_wheel_build_for_this_duckdb(duck: duckdb.DuckDBPyConnection) -> None:
    rows = duck.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'").fetchall()
    assert rows == [(True,)]


def test_duckdb_reads_what_quiver_wrote_by_its_manifest(s3: S3, s3_quiver: S3Quiver, duck: duckdb.DuckDBPyConnection) -> None:
    first = pa.table({"id": pa.array(range(0, 1000), pa.int64()), "label": [f"r{i}" for i in range(1000)]})
    second = pa.table({"id": pa.array(range(1000, 1500), pa.int64()), "label": [f"r{i}" for i in range(1000, 1500)]})
    with s3_quiver.connect() as client:
        writer, _ = client.do_put(flight.FlightDescriptor.for_path("plain.parquet"), first.schema)
        with writer:
            writer.write_table(first)
    with adbc.connect(s3_quiver.location, autocommit=True) as conn, conn.cursor() as cur:
        assert cur.adbc_ingest("plain", second, mode="append") == 500

    base = f"s3://{s3.bucket}/{PREFIX}/plain.parquet"
    assert len(duck.execute(f"SELECT parts FROM read_json('{base}/_quiver_manifest.json')").fetchone()[0]) == 2
    theirs = read_by_manifest(duck, base)
    ours = served(s3_quiver, "plain.parquet")
    assert ours.num_rows == 1500
    assert theirs.equals(ours), (theirs.schema, ours.schema)

    # A replace commits a new manifest; a reader that reads it again sees the new version.
    third = pa.table({"id": pa.array([7, 8], pa.int64()), "label": ["seven", "eight"]})
    with s3_quiver.connect() as client:
        writer, _ = client.do_put(flight.FlightDescriptor.for_path("plain.parquet"), third.schema)
        with writer:
            writer.write_table(third)
    assert read_by_manifest(duck, base).equals(served(s3_quiver, "plain.parquet"))
    assert served(s3_quiver, "plain.parquet").equals(third)


def test_quiver_serves_the_partitions_duckdb_wrote(s3: S3, s3_quiver: S3Quiver, duck: duckdb.DuckDBPyConnection) -> None:
    events = pa.table({
        "id": pa.array(range(12), pa.int64()),
        "year": pa.array([2024] * 6 + [2025] * 6, pa.int64()),
        "month": ["01", "02", "03"] * 4,
    })
    duck.register("events_in", events)
    root = f"s3://{s3.bucket}/{PREFIX}/events"
    # DuckDB is the other writer here: year=2024/month=01/data_0.parquet, ...
    duck.execute(f"COPY events_in TO '{root}' (FORMAT parquet, PARTITION_BY (year, month))")

    theirs = duck.execute(
        f"SELECT id, year, month FROM read_parquet('{root}/**/*.parquet', hive_partitioning = true) ORDER BY id"
    ).arrow().read_all()
    ours = served(s3_quiver, "events").sort_by("id")
    assert ours.schema.names == ["id", "year", "month"]
    assert ours.schema.field("year").type == pa.int64()
    assert ours.schema.field("month").type == pa.string()  # "01" stays a string in both
    assert theirs.equals(ours), (theirs.schema, ours.schema)
    assert ours.equals(events)

    # SQL on both sides: the same groups, Quiver pruning by partition.
    sql = "SELECT year, month, count(*) AS n FROM {t} WHERE year = 2025 GROUP BY ALL ORDER BY ALL"
    want = duck.execute(sql.format(t=f"read_parquet('{root}/**/*.parquet', hive_partitioning = true)")).fetchall()
    assert want == [(2025, "01", 2), (2025, "02", 2), (2025, "03", 2)]
    with adbc.connect(s3_quiver.location, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(sql.format(t="events"))
        assert cur.fetchall() == want
