"""Other engines read the bucket Quiver serves: pyarrow.dataset over S3 sees
exactly the rows Quiver serves, for a dataset Quiver wrote (reading the parts
its manifest lists, as docs/layout.md tells readers to) and for a hive-style
partitioned directory copied into the bucket by another writer."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.flight as flight
import pyarrow.parquet as pq

from s3_fixtures import PREFIX, S3, S3Quiver, s3, s3_quiver  # noqa: F401  (fixtures)


def quiver_table(server: S3Quiver, name: str) -> pa.Table:
    with server.connect() as client:
        info = client.get_flight_info(flight.FlightDescriptor.for_path(name))
        return client.do_get(info.endpoints[0].ticket).read_all()


def manifest_parts(s3: S3, name: str) -> list[str]:
    """The part paths the dataset's manifest lists, as a reader must find them."""
    fs = s3.filesystem()
    with fs.open_input_stream(f"{s3.bucket}/{PREFIX}/{name}/_quiver_manifest.json") as f:
        manifest = json.loads(f.read())
    return [f"{s3.bucket}/{PREFIX}/{name}/{p}" for p in manifest["parts"]]


def test_pyarrow_reads_what_quiver_wrote(s3: S3, s3_quiver: S3Quiver) -> None:
    first = pa.table({"id": pa.array(range(0, 1000), pa.int64()), "label": [f"r{i}" for i in range(1000)]})
    second = pa.table({"id": pa.array(range(1000, 1500), pa.int64()), "label": [f"r{i}" for i in range(1000, 1500)]})
    with s3_quiver.connect() as client:
        writer, _ = client.do_put(flight.FlightDescriptor.for_path("plain.parquet"), first.schema)
        writer.write_table(first)
        writer.close()
    # An append through Flight SQL ingest adds a part and a manifest version.
    import adbc_driver_flightsql.dbapi as adbc

    with adbc.connect(s3_quiver.location) as conn, conn.cursor() as cur:
        cur.adbc_ingest("plain", second, mode="append")
        conn.commit()

    served = quiver_table(s3_quiver, "plain.parquet")
    parts = manifest_parts(s3, "plain.parquet")
    assert len(parts) == 2, parts
    theirs = ds.dataset(parts, filesystem=s3.filesystem(), format="parquet").to_table()
    assert served.num_rows == 1500
    assert theirs.schema.equals(served.schema, check_metadata=False), (theirs.schema, served.schema)
    assert theirs.sort_by("id").equals(served.sort_by("id"))


def test_pyarrow_and_quiver_read_the_same_hive_partitions(s3: S3, s3_quiver: S3Quiver) -> None:
    table = pa.table({
        "id": pa.array(range(12), pa.int64()),
        "year": [2024] * 6 + [2025] * 6,
        "month": ["01", "02", "03"] * 4,
    })
    fs = s3.filesystem()
    root = f"{s3.bucket}/{PREFIX}/events"
    # Another writer (here pyarrow) lays the directory out: year=2024/month=01/<uuid>-0.parquet.
    pq.write_to_dataset(table, root, partition_cols=["year", "month"], filesystem=fs)

    served = quiver_table(s3_quiver, "events")
    assert served.schema.names == ["id", "year", "month"]
    assert served.schema.field("year").type == pa.int64()
    assert served.schema.field("month").type == pa.string()  # DuckDB keeps "01" a string

    partitioning = ds.partitioning(pa.schema([("year", pa.int64()), ("month", pa.string())]), flavor="hive")
    theirs = ds.dataset(root, filesystem=fs, format="parquet", partitioning=partitioning).to_table()
    assert theirs.sort_by("id").select(["id", "year", "month"]).equals(served.sort_by("id"))
    assert served.sort_by("id").equals(table.cast(served.schema))

    # SQL sees the same rows and prunes by partition.
    import adbc_driver_flightsql.dbapi as adbc

    with adbc.connect(s3_quiver.location) as conn, conn.cursor() as cur:
        cur.execute("SELECT year, month, count(*) AS n FROM events WHERE year = 2025 GROUP BY ALL ORDER BY ALL")
        assert cur.fetchall() == [(2025, "01", 2), (2025, "02", 2), (2025, "03", 2)]
