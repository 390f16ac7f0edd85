"""Throughput of Quiver with the pyarrow client, beside the cookbook's server.

Not part of the default run (the file name is not test_*.py, and the test is
marked `bench`). Run it with:

    QUIVER_BIN=bin/quiver integration/python/run.sh bench_pyarrow.py -m bench -s
    # or, with the venv's python:  python bench_pyarrow.py

In one run, against a real `quiver serve` and the cookbook's streaming pyarrow
server (the reference: pyarrow.parquet and pyarrow.flight in one Python
process), it times:

- DoPut of a BENCH_ROWS-row (default 10M), 4-column dataset (int64, float64,
  int64, 16-character string) in 64Ki-row batches, until the server has
  answered the put;
- DoGet of the whole dataset, batch by batch, as a client would stream it;
- `SELECT * FROM bench` through ADBC Python (Quiver only: the cookbook's
  server has no SQL), read batch by batch.

Each is repeated BENCH_REPEAT times (default 3); the best time is reported
(the least disturbed on a shared machine), with MB/s (Arrow in-memory bytes
of the dataset), rows/s and the ratio Quiver/cookbook. Row counts are
checked each time.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as flight
import pytest

from conftest import COOKBOOK_STREAMING, QUIVER, Server

ROWS = int(os.environ.get("BENCH_ROWS", 10_000_000))
REPEAT = int(os.environ.get("BENCH_REPEAT", 3))
BATCH_ROWS = 64 * 1024
NAME = "bench.parquet"


def bench_table(rows: int) -> pa.Table:
    ids = pa.array(np.arange(rows, dtype=np.int64))
    return pa.table(
        {
            "id": ids,
            "value": pc.multiply(ids.cast(pa.float64()), 0.5),
            "bucket": pc.bit_wise_and(ids, 1023),
            "name": pc.utf8_lpad(ids.cast(pa.string()), width=16, padding="0"),
        }
    )


def best_of(run: Callable[[], int], want_rows: int) -> float:
    """The shortest of REPEAT runs, in seconds; run returns the rows it moved."""
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        rows = run()
        times.append(time.perf_counter() - start)
        assert rows == want_rows
    return min(times)


def do_put(server: Server, table: pa.Table) -> int:
    with server.connect() as client:
        writer, reader = client.do_put(flight.FlightDescriptor.for_path(NAME), table.schema)
        with writer:
            writer.write_table(table, max_chunksize=BATCH_ROWS)
    return table.num_rows


def do_get(server: Server) -> int:
    rows = 0
    with server.connect() as client:
        for chunk in client.do_get(flight.Ticket(NAME.encode())):
            rows += chunk.data.num_rows
    return rows


def select_star(server: Server) -> int:
    rows = 0
    with server.adbc() as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM bench")
        for batch in cur.fetch_record_batch():
            rows += batch.num_rows
    return rows


@pytest.mark.bench
@pytest.mark.timeout(3600)
def test_bench_pyarrow(start_server: Callable[[str], Server], capsys: pytest.CaptureFixture[str]) -> None:
    table = bench_table(ROWS)
    assert table.num_rows == ROWS
    megabytes = table.nbytes / 1e6
    results: dict[tuple[str, str], float] = {}
    for kind in (QUIVER, COOKBOOK_STREAMING):
        server = start_server(kind)
        results[("DoPut", kind)] = best_of(lambda: do_put(server, table), ROWS)
        results[("DoGet", kind)] = best_of(lambda: do_get(server), ROWS)
        if server.is_quiver:
            results[("SELECT * (ADBC)", kind)] = best_of(lambda: select_star(server), ROWS)

    lines = [
        f"{ROWS:,} rows x 4 columns (int64, float64, int64, 16-char string), {megabytes:.0f} MB in Arrow; "
        f"best of {REPEAT}; pyarrow {pa.__version__}; {os.cpu_count()} CPUs",
        "quiver/cookbook: Quiver's throughput over the cookbook server's (above 1: Quiver is faster);"
        " for SELECT *, over the cookbook's DoGet of the same data",
        f"{'operation':<16} {'server':<19} {'seconds':>8} {'MB/s':>8} {'Mrows/s':>8} {'quiver/cookbook':>20}",
    ]
    for (op, kind), seconds in results.items():
        ratio = ""
        if kind == QUIVER and (op, COOKBOOK_STREAMING) in results:
            ratio = f"{results[(op, COOKBOOK_STREAMING)] / seconds:.2f}x"
        elif kind == QUIVER and op.startswith("SELECT"):
            ratio = f"{results[('DoGet', COOKBOOK_STREAMING)] / seconds:.2f}x (cookbook DoGet)"
        lines.append(
            f"{op:<16} {kind:<19} {seconds:>8.2f} {megabytes / seconds:>8.0f} {ROWS / seconds / 1e6:>8.2f} {ratio:>20}"
        )
    with capsys.disabled():
        print("\n" + "\n".join(lines))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-m", "bench", "-s", "-q", "-p", "no:cacheprovider"]))
