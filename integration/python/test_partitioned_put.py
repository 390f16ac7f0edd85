"""pyarrow writes hive-style partitions through Quiver with the DoPut header
quiver-partition-by, and pyarrow.dataset(partitioning="hive") reads the dataset's
directory back: the same rows and, given the partition schema, the same types,
also for partition values that must be escaped (docs/layout.md)."""

from __future__ import annotations

import datetime

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.flight as flight
import pytest

from conftest import QUIVER

ODD = ["plain", "a/b", "..", "=", "ünï", "", "%41", "x y", None]


def put(client: flight.FlightClient, name: str, table: pa.Table, partition_by: str, mode: str = "replace") -> None:
    options = flight.FlightCallOptions(headers=[(b"quiver-partition-by", partition_by.encode()), (b"quiver-put-mode", mode.encode())])
    writer, _ = client.do_put(flight.FlightDescriptor.for_path(name), table.schema, options=options)
    writer.write_table(table, max_chunksize=7)
    writer.close()


def events(start: int, n: int) -> pa.Table:
    ids = range(start, start + n)
    return pa.table({
        "id": pa.array(ids, pa.int64()),
        "k": pa.array([ODD[i % len(ODD)] for i in ids], pa.string()),
        "day": pa.array([datetime.date(2024, 1, 1 + i % 3) for i in ids], pa.date32()),
        "v": pa.array([i / 4 for i in ids], pa.float64()),
    })


def test_pyarrow_reads_back_what_it_put_partitioned(start_server) -> None:
    server = start_server(QUIVER)
    client = flight.connect(server.location)
    put(client, "ev", events(0, 60), "k,day", mode="create")
    put(client, "ev", events(60, 30), "k,day", mode="append")
    want = pa.concat_tables([events(0, 60), events(60, 30)]).sort_by("id")

    info = client.get_flight_info(flight.FlightDescriptor.for_path("ev"))
    served = client.do_get(info.endpoints[0].ticket).read_all()
    assert [str(f.type) for f in served.schema] == ["int64", "double", "string", "date32[day]"]
    assert served.select(["id", "k", "day", "v"]).sort_by("id").equals(want)

    # The directory, read as another engine reads it (docs/layout.md: the
    # manifest is what counts; this directory holds no leftovers).
    part_schema = pa.schema([("k", pa.string()), ("day", pa.date32())])
    theirs = ds.dataset(server.root / "ev", format="parquet",
                        partitioning=ds.partitioning(part_schema, flavor="hive")).to_table()
    assert theirs.select(["id", "k", "day", "v"]).sort_by("id").equals(want)
    # Inferring, pyarrow finds the same partition columns (types its own guess).
    inferred = ds.dataset(server.root / "ev", format="parquet", partitioning="hive").to_table()
    assert set(inferred.column_names) == {"id", "v", "k", "day"}
    assert inferred.num_rows == want.num_rows

    # A column that cannot partition is refused naming it.
    with pytest.raises(pa.ArrowInvalid, match='partition column "v" has type float64'):
        put(client, "bad", events(0, 5), "v")
    client.close()
