"""SQL through ADBC Python: Quiver beside ROAPI on the same Parquet file.

Not part of the default run (the file name is not test_*.py, and the test is
marked `bench`). Run it, with the plain Flight benchmark, with:

    QUIVER_BIN=bin/quiver integration/python/run.sh bench_pyarrow.py bench_sql.py -m bench -s

run.sh installs ROAPI (requirements-bench.txt) into the venv for a benchmark
run; ROAPI_BIN names another binary. The dataset is benchlib.big_table
(BENCH_ROWS rows, default 10M), put into Quiver with a plain DoPut; ROAPI
then serves the very file Quiver wrote, loaded into its memory at start
(its start-up time is not counted). Through one ADBC connection per server
(adbc_driver_flightsql.dbapi, as a Python user connects), with literal SQL
because ROAPI rejects bound parameters:

- `SELECT * FROM bench`, read batch by batch (BENCH_REPEAT runs, servers
  taking turns);
- a projection with a filter that keeps all rows but one,
  `SELECT id, name FROM bench WHERE value > 0` (BENCH_REPEAT runs): a large
  result that, unlike a bare `SELECT *`, goes through DuckDB;
- a GROUP BY of 100 groups with count, sum, min and max (BENCH_REPEAT runs);
- a point query `SELECT * FROM bench WHERE id = <literal>` (BENCH_POINTS runs,
  default 200, the same random ids for both servers): p50 and p99;
- `SELECT 1` (BENCH_POINTS runs): the round trip of a trivial query, through
  ADBC and through pyarrow's plain Flight client with its GetFlightInfo and
  DoGet timed apart.

The latency figures take turns call by call.

A second Quiver serves the same root with the memory tier on
(`--memory-tier`, BENCH_MEMORY_TIER, default 4GiB), the dataset made hot by
one untimed query before the figures ("quiver-tier" below); both Quivers and
ROAPI take turns in every figure.

Every line carries the server's peak RSS; the ratios are ROAPI's time over
Quiver's (above 1: Quiver is faster), and a last block gives each peer's time
over the tiered Quiver's.
"""

from __future__ import annotations

import dataclasses
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight
import pytest

from benchlib import (
    LATENCY_HEADER,
    REPEAT,
    ROWS,
    THROUGHPUT_HEADER,
    Figure,
    big_table,
    interleaved,
    latencies,
    latency_row,
    throughput_row,
)
from conftest import QUIVER, ROAPI, Server

POINTS = int(os.environ.get("BENCH_POINTS", 200))
NAME = "bench.parquet"
TABLE = "bench"
MEMORY_TIER = os.environ.get("BENCH_MEMORY_TIER", "4GiB")
TIER = "quiver-tier"  # the figures' name for the Quiver with --memory-tier
HOT_TIMEOUT = 300  # seconds for the tiered Quiver to load the dataset into memory

FILTER = f"SELECT id, name FROM {TABLE} WHERE value > 0"

GROUP_BY = (
    f"SELECT id % 100 AS g, count(*) AS n, sum(value) AS total, min(name) AS first, max(ts) AS last "
    f"FROM {TABLE} GROUP BY g"
)


def dataset_path(server: Server) -> Path:
    """The Parquet file (or directory of parts) Quiver keeps dataset NAME in."""
    path = server.root / NAME
    assert path.exists(), f"quiver has no {path} after the put; its root holds {sorted(p.name for p in server.root.iterdir())}"
    return path


class Session:
    """One ADBC connection to a server, kept open for all its queries."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.conn = server.adbc()

    def close(self) -> None:
        self.conn.close()

    def stream(self, sql: str, want_rows: int) -> None:
        rows = 0
        with self.conn.cursor() as cur:
            cur.execute(sql)
            for batch in cur.fetch_record_batch():
                rows += batch.num_rows
        assert rows == want_rows, f"{self.server.kind}: {sql!r} gave {rows} rows, want {want_rows}"

    def table(self, sql: str) -> pa.Table:
        with self.conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetch_arrow_table()


def wait_until_hot(server: Server, session: Session) -> float:
    """Reads the dataset once through server, then waits until its log says the
    dataset is in memory; returns the seconds that took."""
    start = time.perf_counter()
    session.stream(f"SELECT count(*) FROM {TABLE}", 1)
    while time.perf_counter() - start < HOT_TIMEOUT:
        if "memory tier: dataset in memory" in server.log.read_text(errors="replace"):
            return time.perf_counter() - start
        time.sleep(0.05)
    raise AssertionError(f"{server.kind}: {NAME} not in memory after {HOT_TIMEOUT}s; see {server.log}")


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def statement_query(sql: str) -> bytes:
    """A Flight SQL CommandStatementQuery packed in a protobuf Any, as drivers send it.

    Encoded by hand (two length-delimited fields each) so that the benchmark can
    time GetFlightInfo and DoGet apart with the plain pyarrow Flight client."""
    query = sql.encode()
    command = b"\x0a" + varint(len(query)) + query
    type_url = b"type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery"
    return b"\x0a" + varint(len(type_url)) + type_url + b"\x12" + varint(len(command)) + command


class Split:
    """Runs a statement as a Flight SQL client does, timing GetFlightInfo and DoGet apart."""

    def __init__(self, server: Server, sql: str) -> None:
        self.server = server
        self.descriptor = flight.FlightDescriptor.for_command(statement_query(sql))
        self.client = server.connect()
        self.info = Figure("  its GetFlightInfo", server.kind)
        self.get = Figure("  its DoGet", server.kind)

    def __call__(self) -> None:
        start = time.perf_counter()
        info = self.client.get_flight_info(self.descriptor)
        middle = time.perf_counter()
        rows = 0
        for endpoint in info.endpoints:
            rows += self.client.do_get(endpoint.ticket).read_all().num_rows
        end = time.perf_counter()
        assert rows == 1, f"{self.server.kind}: {rows} rows"
        self.info.seconds.append(middle - start)
        self.get.seconds.append(end - middle)

    def close(self) -> None:
        self.client.close()


def check_group_by(table: pa.Table, kind: str) -> None:
    assert table.num_rows == min(100, ROWS), f"{kind}: GROUP BY gave {table.num_rows} groups"
    assert pc.sum(table["n"]).as_py() == ROWS, kind


def check_point(table: pa.Table, kind: str, key: int) -> None:
    assert table.num_rows == 1, f"{kind}: id = {key} gave {table.num_rows} rows"
    assert table["id"][0].as_py() == key, kind
    assert table["value"][0].as_py() == key * 0.5, kind


@pytest.mark.bench
@pytest.mark.timeout(3600)
def test_bench_sql(
    start_server: Callable[..., Server],
    start_roapi: Callable[[dict[str, Path]], Server],
    capsys: pytest.CaptureFixture[str],
) -> None:
    table = big_table(ROWS)
    quiver = start_server(QUIVER)
    with quiver.connect() as client:
        writer, _ = client.do_put(flight.FlightDescriptor.for_path(NAME), table.schema)
        with writer:
            writer.write_table(table, max_chunksize=64 * 1024)
    path = dataset_path(quiver)
    put_peak = quiver.peak_rss()
    tiered = start_server(QUIVER, ("--memory-tier", MEMORY_TIER), TIER, quiver.root)
    tiered = dataclasses.replace(tiered, kind=TIER)
    roapi = start_roapi({TABLE: path})
    load_peak = roapi.peak_rss()
    servers = [quiver, tiered, roapi]
    sessions = {s.kind: Session(s) for s in servers}
    try:
        # One untimed query each: ADBC's first call on a connection sets it up.
        for s in sessions.values():
            assert s.table("SELECT 1 AS one")["one"][0].as_py() == 1
        hot_after = wait_until_hot(tiered, sessions[TIER])
        hot_peak = tiered.peak_rss()

        scans = interleaved(servers, "SELECT *", lambda s: sessions[s.kind].stream(f"SELECT * FROM {TABLE}", ROWS))
        filters = interleaved(servers, "id,name WHERE value>0", lambda s: sessions[s.kind].stream(FILTER, ROWS - 1))
        groups = interleaved(servers, "GROUP BY, 100 groups", lambda s: check_group_by(sessions[s.kind].table(GROUP_BY), s.kind))

        keys = random.Random(11).sample(range(ROWS), min(POINTS, ROWS))

        def point(s: Server, i: int) -> None:
            check_point(sessions[s.kind].table(f"SELECT * FROM {TABLE} WHERE id = {keys[i]}"), s.kind, keys[i])

        def trivial_query(s: Server, i: int) -> None:
            assert sessions[s.kind].table("SELECT 1 AS one")["one"][0].as_py() == 1

        points = latencies(servers, "point, WHERE id = lit", point, len(keys))
        trivial = latencies(servers, "SELECT 1", trivial_query, POINTS)
        splitters = {s.kind: Split(s, "SELECT 1 AS one") for s in servers}
        try:
            latencies(servers, "SELECT 1, split", lambda s, i: splitters[s.kind](), POINTS)
        finally:
            for splitter in splitters.values():
                splitter.close()
        splits = {kind: (sp.info, sp.get) for kind, sp in splitters.items()}
    finally:
        for s in sessions.values():
            s.close()

    size = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*"))
    lines = [
        f"SQL through ADBC Python, the same {size / 1e6:.0f} MB Parquet file ({ROWS:,} rows x int64, float64, "
        f"string, timestamp; {table.nbytes / 1e6:.0f} MB in Arrow); ratios: ROAPI's time over Quiver's (above 1: Quiver is faster)",
        THROUGHPUT_HEADER,
    ]
    filtered_mb = table.select(["id", "name"]).nbytes / 1e6
    for figures, mb in ((scans, table.nbytes / 1e6), (filters, filtered_mb), (groups, table.nbytes / 1e6)):
        lines += [throughput_row(f, mb, ROWS, figures[QUIVER]) for f in figures.values()]
    lines.append(LATENCY_HEADER)
    for figures in (points, trivial):
        lines += [latency_row(f, figures[QUIVER]) for f in figures.values()]
    lines.append("SELECT 1 through pyarrow's plain Flight client (no ADBC), its two calls timed apart:")
    for i in range(2):
        ours = splits[QUIVER][i]
        for kind in (QUIVER, ROAPI):
            f = splits[kind][i]
            f.peak_rss = trivial[kind].peak_rss
            lines.append(latency_row(f, ours))
    lines.append(
        f"peak RSS before the figures: quiver {put_peak / (1 << 20):.0f} MiB after the put, "
        f"roapi {load_peak / (1 << 20):.0f} MiB after loading the file, "
        f"{TIER} {hot_peak / (1 << 20):.0f} MiB after loading it into memory ({hot_after:.1f} s after the first query)"
    )
    lines.append(f"With --memory-tier {MEMORY_TIER}: each server's time over {TIER}'s (above 1: {TIER} is faster)")
    lines.append(THROUGHPUT_HEADER)
    for figures, mb in ((scans, table.nbytes / 1e6), (filters, filtered_mb), (groups, table.nbytes / 1e6)):
        lines += [throughput_row(f, mb, ROWS, figures[TIER]) for f in figures.values()]
    lines.append(LATENCY_HEADER)
    for figures in (points, trivial):
        lines += [latency_row(f, figures[TIER]) for f in figures.values()]
    with capsys.disabled():
        print("\n" + "\n".join(lines))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-m", "bench", "-s", "-q", "-p", "no:cacheprovider"]))
