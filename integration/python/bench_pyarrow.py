"""Plain Flight with the pyarrow client: Quiver beside both cookbook servers.

Not part of the default run (the file name is not test_*.py, and the test is
marked `bench`). Run it, with the SQL benchmark, with:

    QUIVER_BIN=bin/quiver integration/python/run.sh bench_pyarrow.py bench_sql.py -m bench -s
    # or, with the venv's python:  python bench_pyarrow.py

In one run, against a real `quiver serve` and the Arrow cookbook's two
pyarrow servers (cookbook_server.py: "cookbook", the first one, which reads
whole tables into memory with `read_all` and `write_table`; and
"cookbook-streaming", which streams batches to and from Parquet), and
beside them the transport's ceiling ("flight-memory", memory_server.py: pyarrow
Flight keeping uploads in memory, no Parquet) and its Go twin ("go-memory",
integration/flightmemory: arrow-go's Flight stack with Quiver's gRPC options,
keeping uploads in memory: what Quiver's own stack does with nothing to do), it
times for two datasets:

- big: BENCH_ROWS rows (default 10M) x (int64, float64, 16-character string,
  timestamp), put in 64Ki-row batches;
- ints: the cookbook's streamed dataset, one 4096-row int64 batch put 1024
  times, as its client does;

a DoPut until the server has answered it, and a DoGet of the whole dataset
read batch by batch. A second Quiver runs with the opt-in speed settings
("quiver-tier", `--memory-tier 2GiB --landing-budget 1GiB`): its first DoGet of a
dataset version keeps the encoded stream, later ones send it again without
reading Parquet (the best of the runs is a DoGet from the tier), and it answers a
DoPut once the upload is landed on disk as Arrow IPC, writing Parquet in the
background (its DoPut figure is the time to that answer; the conversion runs on
while the next servers take their turn). The servers take turns, BENCH_REPEAT times (default 3)
for the big dataset and BENCH_INTS_REPEAT times (default 15) for ints.
Each line shows the best and worst seconds, MB/s (Arrow in-memory bytes) and
rows/s of the best, the server's peak RSS over the runs, and for each peer
the peer's best time over Quiver's (above 1: Quiver is faster; in
parentheses the worst case either way; on the ceiling's line, the share of
the ceiling Quiver reaches). DoGet lines note what the client
received: the number of batches and the first batch's latency.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from benchlib import (
    REPEAT,
    ROWS,
    THROUGHPUT_HEADER,
    Figure,
    big_table,
    cookbook_ints,
    interleaved,
    throughput_row,
)
from conftest import COOKBOOK, COOKBOOK_STREAMING, FLIGHT_MEMORY, GO_MEMORY, QUIVER, Server

BATCH_ROWS = 64 * 1024
# The ints dataset's calls take 20-200 ms, where the shared machine's noise is +-30%
# from one call to the next: more turns for a steadier best.
INTS_REPEAT = int(os.environ.get("BENCH_INTS_REPEAT", max(REPEAT, 15)))
SERVERS = (QUIVER, COOKBOOK_STREAMING, COOKBOOK, FLIGHT_MEMORY, GO_MEMORY)

# Quiver with its memory tier on, big enough for the big dataset's stream, and
# uploads landed before they are encoded.
QUIVER_TIER = "quiver-tier"
TIER_ARGS = ("--memory-tier", "2GiB", "--landing-budget", "1GiB")


def put_table(server: Server, name: str, table: pa.Table) -> None:
    with server.connect() as client:
        writer, _ = client.do_put(flight.FlightDescriptor.for_path(name), table.schema)
        with writer:
            writer.write_table(table, max_chunksize=BATCH_ROWS)


def put_batches(server: Server, name: str, batch: pa.RecordBatch, times: int) -> None:
    """The cookbook client's streamed upload: the same batch, times times."""
    with server.connect() as client:
        writer, _ = client.do_put(flight.FlightDescriptor.for_path(name), batch.schema)
        with writer:
            for _ in range(times):
                writer.write_batch(batch)


class Getter:
    """Reads a dataset batch by batch, checking its row count and noting what came."""

    def __init__(self, name: str, want_rows: int) -> None:
        self.name = name
        self.want_rows = want_rows
        self.batches: dict[str, int] = {}
        self.first_batch: dict[str, list[float]] = {}

    def __call__(self, server: Server) -> None:
        rows = batches = 0
        first = 0.0
        with server.connect() as client:
            start = time.perf_counter()
            for chunk in client.do_get(flight.Ticket(self.name.encode())):
                if batches == 0:
                    first = time.perf_counter() - start
                rows += chunk.data.num_rows
                batches += 1
        assert rows == self.want_rows, f"{server.kind} sent {rows} rows of {self.name}, want {self.want_rows}"
        self.batches[server.kind] = batches
        self.first_batch.setdefault(server.kind, []).append(first)

    def annotate(self, figures: dict[str, Figure]) -> None:
        for kind, figure in figures.items():
            figure.notes["batches"] = self.batches[kind]
            figure.notes["first_batch_ms"] = round(min(self.first_batch[kind]) * 1e3, 1)


def run_dataset(
    servers: list[Server], label: str, name: str, rows: int, put: Callable[[Server], None], repeat: int = REPEAT
) -> list[dict[str, Figure]]:
    puts = interleaved(servers, f"DoPut {label}", put, repeat)
    getter = Getter(name, rows)
    gets = interleaved(servers, f"DoGet {label}", getter, repeat)
    getter.annotate(gets)
    return [puts, gets]


@pytest.mark.bench
@pytest.mark.timeout(3600)
def test_bench_pyarrow(start_server: Callable[..., Server], capsys: pytest.CaptureFixture[str]) -> None:
    table = big_table(ROWS)
    batch, times = cookbook_ints()
    servers = [start_server(kind) for kind in SERVERS]
    # Its own root and log (name); reported under its own kind.
    tiered = start_server(QUIVER, TIER_ARGS, name=QUIVER_TIER)
    servers.insert(1, dataclasses.replace(tiered, kind=QUIVER_TIER))

    sections = [
        (
            f"big: {ROWS:,} rows x (int64, float64, 16-char string, timestamp), {table.nbytes / 1e6:.0f} MB in Arrow",
            table.nbytes,
            ROWS,
            run_dataset(servers, "big", "big.parquet", ROWS, lambda s: put_table(s, "big.parquet", table)),
        ),
        (
            f"ints: the cookbook's 1024 x 4096-row int64 batches, {batch.nbytes * times / 1e6:.0f} MB in Arrow",
            batch.nbytes * times,
            batch.num_rows * times,
            run_dataset(
                servers,
                "ints",
                "ints.parquet",
                batch.num_rows * times,
                lambda s: put_batches(s, "ints.parquet", batch, times),
                INTS_REPEAT,
            ),
        ),
    ]

    lines = [
        f"plain Flight, pyarrow {pa.__version__} client; servers take turns, {REPEAT} runs each (ints: {INTS_REPEAT}); "
        f"peak MiB: server VmHWM over its runs; peer/quiver time above 1: Quiver is faster",
    ]
    for title, nbytes, rows, groups in sections:
        lines += ["", title, THROUGHPUT_HEADER]
        for figures in groups:
            ours = figures[QUIVER]
            lines += [throughput_row(f, nbytes / 1e6, rows, ours) for f in figures.values()]
    with capsys.disabled():
        print("\n" + "\n".join(lines))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-m", "bench", "-s", "-q", "-p", "no:cacheprovider"]))
