"""What the benchmarks share: the datasets, interleaved timing, peak RSS, the table.

A figure is one operation against one server, run BENCH_REPEAT times with
the servers interleaved (Quiver, then each peer, then Quiver again ...), so
a burst of load from other processes on the shared machine falls on all of
them alike. A figure keeps every run's seconds (best and worst are printed)
and the server's peak RSS (VmHWM, restarted before each run where the
kernel allows) over its runs.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from conftest import Server

ROWS = int(os.environ.get("BENCH_ROWS", 10_000_000))
REPEAT = int(os.environ.get("BENCH_REPEAT", 3))

MB = 1e6
MIB = 1 << 20


def big_table(rows: int) -> pa.Table:
    """rows x (int64, float64, 16-character string, timestamp[us, UTC]), every row distinct."""
    ids = pa.array(np.arange(rows, dtype=np.int64))
    base = np.datetime64("2026-01-01T00:00:00", "us")
    return pa.table(
        {
            "id": ids,
            "value": pc.multiply(ids.cast(pa.float64()), 0.5),
            "name": pc.utf8_lpad(ids.cast(pa.string()), width=16, padding="0"),
            "ts": pa.array(base + np.arange(rows, dtype=np.int64) * 1000, pa.timestamp("us", tz="UTC")),
        }
    )


def cookbook_ints() -> tuple[pa.RecordBatch, int]:
    """The cookbook's streamed dataset: this 4096-row batch of int64, sent 1024 times."""
    batch = pa.record_batch([pa.array(range(4096))], names=["ints"])
    return batch, 1024


@dataclass
class Figure:
    """Every run of one operation against one server."""

    op: str
    server: str
    seconds: list[float] = field(default_factory=list)
    peak_rss: int = 0  # bytes, the largest VmHWM seen over the runs
    notes: dict[str, float] = field(default_factory=dict)  # e.g. batches, first-batch ms

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def worst(self) -> float:
        return max(self.seconds)

    def quantile(self, q: float) -> float:
        """The q-quantile (0.5 is the median) of the runs, in seconds."""
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measured(server: Server, figure: Figure, run: Callable[[], None]) -> None:
    """Runs run once against server, adding its time and the server's peak RSS to figure."""
    server.reset_peak_rss()
    start = time.perf_counter()
    run()
    figure.seconds.append(time.perf_counter() - start)
    figure.peak_rss = max(figure.peak_rss, server.peak_rss())


def interleaved(servers: list[Server], op: str, run: Callable[[Server], None], repeat: int = REPEAT) -> dict[str, Figure]:
    """Runs run(server) repeat times for every server, interleaved; one Figure per server."""
    figures = {s.kind: Figure(op, s.kind) for s in servers}
    for _ in range(repeat):
        for s in servers:
            measured(s, figures[s.kind], lambda s=s: run(s))
    return figures


def latencies(servers: list[Server], op: str, call: Callable[[Server, int], None], runs: int) -> dict[str, Figure]:
    """Times call(server, i) for i in range(runs), servers taking turns call by call.

    One Figure per server, a time per call: read its quantiles."""
    figures = {s.kind: Figure(op, s.kind) for s in servers}
    for s in servers:
        s.reset_peak_rss()
    for i in range(runs):
        for s in servers:
            start = time.perf_counter()
            call(s, i)
            figures[s.kind].seconds.append(time.perf_counter() - start)
    for s in servers:
        figures[s.kind].peak_rss = s.peak_rss()
    return figures


def throughput_row(f: Figure, megabytes: float, rows: int, ours: Figure | None) -> str:
    """One line: best and worst seconds, MB/s and Mrows/s of the best, peak RSS, ratio."""
    ratio = ""
    if ours is not None and ours is not f:
        # Above 1: Quiver is faster. Best over best, and the range from
        # Quiver's worst against the peer's best to Quiver's best against the peer's worst.
        ratio = f"{f.best / ours.best:.2f} ({f.best / ours.worst:.2f}-{f.worst / ours.best:.2f})"
    notes = " ".join(f"{k}={v:g}" for k, v in f.notes.items())
    return (
        f"{f.op:<22} {f.server:<19} {f.best:>7.3f} {f.worst:>7.3f} {megabytes / f.best:>7.0f} "
        f"{rows / f.best / 1e6:>7.2f} {f.peak_rss / MIB:>8.0f} {ratio:>19}  {notes}"
    )


THROUGHPUT_HEADER = (
    f"{'operation':<22} {'server':<19} {'best s':>7} {'worst s':>7} {'MB/s':>7} {'Mrows/s':>7} "
    f"{'peak MiB':>8} {'peer/quiver time':>19}  client-side notes"
)


def latency_row(f: Figure, ours: Figure | None) -> str:
    """One line: p50, p99 and max in ms, peak RSS, and the peer's p50 over Quiver's."""
    p50, p99 = f.quantile(0.5) * 1e3, f.quantile(0.99) * 1e3
    ratio = ""
    if ours is not None and ours is not f:
        ratio = f"{f.quantile(0.5) / ours.quantile(0.5):.2f}"
    return (
        f"{f.op:<22} {f.server:<19} {len(f.seconds):>5} {p50:>8.2f} {p99:>8.2f} {f.worst * 1e3:>8.2f} "
        f"{statistics.mean(f.seconds) * 1e3:>8.2f} {f.peak_rss / MIB:>8.0f} {ratio:>12}"
    )


LATENCY_HEADER = (
    f"{'operation':<22} {'server':<19} {'runs':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
    f"{'mean ms':>8} {'peak MiB':>8} {'peer/quiver':>12}"
)
