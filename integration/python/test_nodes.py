"""Two quiver nodes on one dataset root, each naming the other in --peers: a
multi-part dataset's FlightInfo spreads its endpoints over both, and pyarrow,
which does not pick an endpoint's location by itself, reads each endpoint from
its first location. The cookbook's client, which reads endpoints[0] from the
connection it has, still works on such a node.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from conftest import QUIVER, Server, free_port
from test_cookbook import CHARACTERS, expected_streamed_table, run_first_flow, run_streamed_flow

StartServer = Callable[..., Server]
PARTS = 5
PER_PART = 1000


def two_nodes(start_server: StartServer, tmp_path) -> tuple[Server, Server]:
    ports = free_port(), free_port()
    addrs = [f"127.0.0.1:{p}" for p in ports]
    root = tmp_path / "shared-root"
    root.mkdir()
    a = start_server(QUIVER, ("--addr", addrs[0], "--peers", addrs[1]), name="node-a", root=root)
    b = start_server(QUIVER, ("--addr", addrs[1], "--peers", addrs[0]), name="node-b", root=root)
    return a, b


def ids(first: int, n: int) -> pa.Table:
    return pa.table({"id": pa.array(range(first, first + n), pa.int64())})


def test_pyarrow_reads_every_endpoint_from_its_location(start_server: StartServer, tmp_path) -> None:
    a, b = two_nodes(start_server, tmp_path)
    a.put("ids.parquet", ids(0, PER_PART))
    with a.adbc() as conn, conn.cursor() as cur:
        for p in range(1, PARTS):
            assert cur.adbc_ingest("ids", ids(p * PER_PART, PER_PART), mode="append") == PER_PART
    whole = a.get("ids.parquet")
    assert whole.num_rows == PARTS * PER_PART

    with a.connect() as client:
        info = client.get_flight_info(flight.FlightDescriptor.for_path("ids.parquet"))
    assert len(info.endpoints) == PARTS
    firsts = [ep.locations[0] for ep in info.endpoints]
    assert {loc.uri.decode() for loc in firsts} == {a.location, b.location}
    tables = []
    for ep in info.endpoints:
        assert len(ep.locations) == 2
        with flight.connect(ep.locations[0]) as client:
            tables.append(client.do_get(ep.ticket).read_all())
    got = pa.concat_tables(tables)
    assert got.equals(whole)
    assert got.column("id").to_pylist() == list(range(PARTS * PER_PART))


def test_cookbook_client_on_a_node_with_peers(start_server: StartServer, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    a, _ = two_nodes(start_server, tmp_path)
    first = run_first_flow(a, capsys)
    assert len(first.info.endpoints) == 1
    assert first.info.endpoints[0].ticket == flight.Ticket(b"uploaded.parquet")
    assert first.table.equals(CHARACTERS, check_metadata=True)
    streamed = run_streamed_flow(a, capsys)
    assert streamed.total_rows == 1024 * 4096
    assert streamed.table.equals(expected_streamed_table(), check_metadata=True)
