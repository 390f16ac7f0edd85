"""The suite's servers run where QUIVER_TEST_BACKEND says: on an S3 run every
quiver keeps its datasets in a bucket, never silently in a local directory."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from conftest import QUIVER, Server, on_s3


def test_quiver_keeps_its_datasets_where_the_run_says(start_server: Callable[[str], Server]) -> None:
    server = start_server(QUIVER)
    server.put("where.parquet", pa.table({"n": [1, 2, 3]}))
    log = server.log.read_text(errors="replace")
    stored = sorted(str(p.relative_to(server.root)) for p in server.root.rglob("*") if p.is_file())
    if on_s3():
        assert server.url.startswith("s3://"), server.url
        assert f"dataset root on object storage\" root={server.url} " in log
        # An S3 root commits through the manifest: one part object and the manifest.
        assert "where.parquet/_quiver_manifest.json" in stored, stored
        assert [p for p in stored if p.endswith(".parquet")], stored
    else:
        assert server.url == str(server.root)
        assert "dataset root on object storage" not in log
        assert stored == ["where.parquet"]
    assert server.get("where.parquet").column("n").to_pylist() == [1, 2, 3]
