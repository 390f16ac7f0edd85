"""The Arrow cookbook's Flight client code, verbatim, against Quiver and the
cookbook's own pyarrow server, and the two compared.

Each flow runs the cookbook's blocks unchanged but for the address and checks
what they print against the cookbook's expected output; the namespace the
blocks leave behind is then inspected more closely. Where Quiver deliberately
answers differently from the cookbook's server, a test below names the
difference and pins both answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight
import pyarrow.parquet as pq
import pytest

import cookbook_client
from conftest import ALL_SERVERS, COOKBOOK, COOKBOOK_STREAMING, QUIVER, Server

StartServer = Callable[[str], Server]

CHARACTERS = pa.table([["Mario", "Luigi", "Peach"]], names=["Character"])
CHARACTER_SCHEMA = pa.schema([("Character", pa.string())])
STREAMED_SCHEMA = pa.schema([("ints", pa.int64())])
STREAMED_ROWS = 1024 * 4096

# What the cookbook's blocks print, from its testoutput (the size varies).
INFO_OUTPUT = re.compile(
    r"Path: uploaded\.parquet Rows: 3 Size: ([0-9]+)\n"
    r"=== Schema ===\n"
    r"Character: string\n"
    r"==============\n"
)
READ_OUTPUT = "  Character\n0     Mario\n1     Luigi\n2     Peach\n"
STREAMED_OUTPUT = "Got 4194304 rows total, expected 4194304\n"


@dataclass
class FirstFlow:
    """What the cookbook's first flow saw."""

    info: flight.FlightInfo  # get_flight_info after the put
    table: pa.Table  # do_get(...).read_all()
    listed_before_drop: list[flight.FlightInfo]
    drop_results: list[flight.Result]


@dataclass
class StreamedFlow:
    """What the cookbook's streamed flow saw."""

    info: flight.FlightInfo
    total_rows: int
    table: pa.Table  # a second do_get, read whole, to compare the data


def run_first_flow(server: Server, capsys: pytest.CaptureFixture[str]) -> FirstFlow:
    ns: dict[str, Any] = {}

    def block(code: str) -> str:
        cookbook_client.run(code, ns, server.location)
        return capsys.readouterr().out

    capsys.readouterr()
    assert block(cookbook_client.CONNECT) == ""
    assert block(cookbook_client.UPLOAD) == ""
    assert INFO_OUTPUT.fullmatch(block(cookbook_client.GET_FLIGHT_INFO))
    info = ns["flight"]
    assert block(cookbook_client.READ) == READ_OUTPUT
    table = ns["read_table"]

    client: flight.FlightClient = ns["client"]
    listed = list(client.list_flights())
    # The cookbook drops without reading the action's results, so a failed
    # drop would go unnoticed there; the listing after it is what tells.
    assert block(cookbook_client.DROP) == ""
    assert block(cookbook_client.LIST) == ""  # nothing left to list
    assert list(client.list_flights()) == []
    # A drop of another, fresh dataset with its results read: there are none.
    put(client, "again.parquet", CHARACTERS)
    drop_results = list(client.do_action(flight.Action("drop_dataset", b"again.parquet")))
    assert list(client.list_flights()) == []
    client.close()
    return FirstFlow(info, table, listed, drop_results)


def run_streamed_flow(server: Server, capsys: pytest.CaptureFixture[str]) -> StreamedFlow:
    ns: dict[str, Any] = {}
    capsys.readouterr()
    cookbook_client.run(cookbook_client.STREAMED_UPLOAD, ns, server.location)
    assert capsys.readouterr().out == ""
    cookbook_client.run(cookbook_client.STREAMED_READ, ns, server.location)
    assert capsys.readouterr().out == STREAMED_OUTPUT
    client: flight.FlightClient = ns["client"]
    table = client.do_get(ns["flight"].endpoints[0].ticket).read_all()
    client.close()
    return StreamedFlow(ns["flight"], ns["total_rows"], table)


def put(client: flight.FlightClient, name: str, table: pa.Table) -> None:
    writer, _ = client.do_put(flight.FlightDescriptor.for_path(name), table.schema)
    with writer:
        writer.write_table(table)


def expected_streamed_table() -> pa.Table:
    batch = pa.record_batch([pa.array(range(4096))], names=["ints"])
    return pa.Table.from_batches([batch] * 1024)


@pytest.mark.parametrize("server", ALL_SERVERS, indirect=True)
def test_first_flow(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    got = run_first_flow(server, capsys)

    assert got.info.descriptor == flight.FlightDescriptor.for_path("uploaded.parquet")
    assert got.info.total_records == 3
    assert got.info.total_bytes > 0
    assert got.info.schema.equals(CHARACTER_SCHEMA, check_metadata=True)
    assert len(got.info.endpoints) == 1
    assert got.info.endpoints[0].ticket == flight.Ticket(b"uploaded.parquet")
    assert got.table.equals(CHARACTERS, check_metadata=True)
    assert got.table.to_pandas()["Character"].tolist() == ["Mario", "Luigi", "Peach"]

    assert [i.descriptor for i in got.listed_before_drop] == [got.info.descriptor]
    assert [i.total_records for i in got.listed_before_drop] == [3]
    assert got.drop_results == []


@pytest.mark.parametrize("server", ALL_SERVERS, indirect=True)
def test_streamed_flow(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    got = run_streamed_flow(server, capsys)

    assert got.total_rows == STREAMED_ROWS
    assert got.info.descriptor == flight.FlightDescriptor.for_path("streamed.parquet")
    assert got.info.total_records == STREAMED_ROWS
    assert got.info.schema.equals(STREAMED_SCHEMA, check_metadata=True)
    assert got.table.equals(expected_streamed_table(), check_metadata=True)


@pytest.mark.parametrize("server", ALL_SERVERS, indirect=True)
def test_list_actions_offers_drop_dataset(server: Server) -> None:
    with server.connect() as client:
        types = [a.type for a in client.list_actions()]
    assert types.count("drop_dataset") == 1


def test_quiver_agrees_with_cookbook(start_server: StartServer, capsys: pytest.CaptureFixture[str]) -> None:
    """Both flows against both servers in one run: the same answers.

    The reference is the cookbook's server for each flow: the first one for
    the first flow, the streaming one for the streamed flow.
    """
    quiver = start_server(QUIVER)
    first = {kind: run_first_flow(s, capsys) for kind, s in [(COOKBOOK, start_server(COOKBOOK)), (QUIVER, quiver)]}
    streamed = {
        kind: run_streamed_flow(s, capsys)
        for kind, s in [(COOKBOOK_STREAMING, start_server(COOKBOOK_STREAMING)), (QUIVER, quiver)]
    }

    ref, got = first[COOKBOOK], first[QUIVER]
    assert got.info.descriptor == ref.info.descriptor
    assert got.info.total_records == ref.info.total_records
    assert got.info.schema.equals(ref.info.schema, check_metadata=True)
    assert [e.ticket for e in got.info.endpoints] == [e.ticket for e in ref.info.endpoints]
    assert got.table.equals(ref.table, check_metadata=True)
    assert [i.descriptor for i in got.listed_before_drop] == [i.descriptor for i in ref.listed_before_drop]
    assert got.drop_results == ref.drop_results == []

    ref_s, got_s = streamed[COOKBOOK_STREAMING], streamed[QUIVER]
    assert got_s.total_rows == ref_s.total_rows == STREAMED_ROWS
    assert got_s.info.total_records == ref_s.info.total_records
    assert got_s.info.schema.equals(ref_s.info.schema, check_metadata=True)
    assert got_s.table.equals(ref_s.table, check_metadata=True)


# Deliberate differences. Each test runs on both servers and pins each answer.


@pytest.mark.parametrize("server", [COOKBOOK, QUIVER], indirect=True)
def test_difference_endpoint_has_no_location(server: Server) -> None:
    """The cookbook's endpoints carry the server's own listen location (its
    default is grpc://0.0.0.0:8815, an address no client can dial). Quiver's
    carry none, which in Flight means "fetch from this same server"."""
    with server.connect() as client:
        put(client, "uploaded.parquet", CHARACTERS)
        info = client.get_flight_info(flight.FlightDescriptor.for_path("uploaded.parquet"))
    locations = [list(e.locations) for e in info.endpoints]
    if server.is_quiver:
        assert locations == [[]]
    else:
        assert locations == [[flight.Location(server.location)]]


@pytest.mark.parametrize("server", [COOKBOOK, QUIVER], indirect=True)
def test_difference_total_bytes_is_file_size(server: Server) -> None:
    """The cookbook reports the Parquet footer's size as total_bytes; Quiver
    reports the size of the Parquet data on disk."""
    with server.connect() as client:
        put(client, "uploaded.parquet", CHARACTERS)
        info = client.get_flight_info(flight.FlightDescriptor.for_path("uploaded.parquet"))
    if server.is_quiver:
        files = [p for p in server.root.rglob("*.parquet") if p.is_file()]
        assert files, f"no Parquet file under {server.root}"
        assert info.total_bytes == sum(p.stat().st_size for p in files)
    else:
        path = server.root / "uploaded.parquet"
        assert info.total_bytes == pq.read_metadata(path).serialized_size
        assert info.total_bytes < path.stat().st_size


def tree(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


@pytest.mark.parametrize("server", [COOKBOOK, QUIVER], indirect=True)
def test_difference_names_that_escape_the_root_are_refused(server: Server) -> None:
    """The cookbook joins the client's name to its directory as it comes, so
    `../escaped.parquet` writes outside it. Quiver refuses such a name with
    InvalidArgument (pyarrow: ArrowInvalid) before touching any file."""
    outside = server.root.parent
    before = tree(outside)
    with server.connect() as client:
        if server.is_quiver:
            with pytest.raises(pa.ArrowInvalid, match=r"Flight returned invalid argument error"):
                put(client, "../escaped.parquet", CHARACTERS)
            assert tree(outside) == before
        else:
            put(client, "../escaped.parquet", CHARACTERS)
            assert tree(outside) - before == {"escaped.parquet"}
            assert pq.read_table(outside / "escaped.parquet").equals(CHARACTERS)


MISSING = "missing.parquet"


@pytest.mark.parametrize("server", [COOKBOOK, QUIVER], indirect=True)
@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.get_flight_info(flight.FlightDescriptor.for_path(MISSING)), id="get_flight_info"),
        pytest.param(lambda c: c.do_get(flight.Ticket(MISSING.encode())).read_all(), id="do_get"),
        pytest.param(lambda c: list(c.do_action(flight.Action("drop_dataset", MISSING.encode()))), id="drop_dataset"),
    ],
)
def test_difference_missing_dataset_is_not_found(server: Server, call: Callable[[flight.FlightClient], object]) -> None:
    """The cookbook's server lets Python's FileNotFoundError escape, which
    reaches the client as gRPC UNKNOWN (pyarrow: FlightServerError) with a
    server traceback. Quiver answers NOT_FOUND (pyarrow: ArrowKeyError) naming
    the dataset."""
    with server.connect() as client:
        if server.is_quiver:
            with pytest.raises(pa.ArrowKeyError, match=r"Flight returned not found error") as err:
                call(client)
            assert MISSING in str(err.value)
        else:
            with pytest.raises(flight.FlightServerError, match=r"FileNotFoundError") as err:
                call(client)
            assert "Traceback" in str(err.value)


@pytest.mark.parametrize("server", [COOKBOOK, QUIVER], indirect=True)
def test_unknown_action_is_unimplemented(server: Server) -> None:
    """Same on both: UNIMPLEMENTED, which pyarrow raises as
    ArrowNotImplementedError. Quiver's message also names the action."""
    with server.connect() as client:
        with pytest.raises(pa.ArrowNotImplementedError) as err:
            list(client.do_action(flight.Action("frobnicate", b"")))
    if server.is_quiver:
        assert "Flight returned unimplemented error" in str(err.value)
        assert "frobnicate" in str(err.value)
