"""Quiver's answers to bad requests, as a pyarrow client sees them.

Quiver reports every failure as a gRPC status code; pyarrow turns each code
into its own exception class (see ERRORS). These tests pin the class, the
"Flight returned ..." prefix that shows which code arrived, and that the
message names the dataset or action concerned.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from conftest import QUIVER, Server

# gRPC code -> (pyarrow exception class, message prefix), as pyarrow 26 maps them.
ERRORS: dict[str, tuple[type[Exception], str]] = {
    "NOT_FOUND": (pa.ArrowKeyError, "Flight returned not found error"),
    "INVALID_ARGUMENT": (pa.ArrowInvalid, "Flight returned invalid argument error"),
    "UNIMPLEMENTED": (pa.ArrowNotImplementedError, "Flight returned unimplemented error"),
}

TABLE = pa.table({"n": pa.array([1, 2, 3], pa.int64())})

# Names a dataset may not have (design.md, "Names"). With the reason as test id.
BAD_NAMES = {
    "parent": "../x",
    "absolute": "/etc/passwd",
    "slash": "a/b",
    "hidden": ".hidden",
    "dot": ".",
    "dotdot": "..",
    "empty": "",
    "nul": "a\x00b",
    "overlong": "a" * 300,
}

Call = Callable[[flight.FlightClient, str], object]


def put(client: flight.FlightClient, name: str) -> None:
    writer, _ = client.do_put(flight.FlightDescriptor.for_path(name), TABLE.schema)
    with writer:
        writer.write_table(TABLE)


def drop(client: flight.FlightClient, name: str) -> list[flight.Result]:
    # The results must be read: pyarrow raises a failed action's error only then.
    return list(client.do_action(flight.Action("drop_dataset", name.encode())))


CALLS: dict[str, Call] = {
    "get_flight_info": lambda c, name: c.get_flight_info(flight.FlightDescriptor.for_path(name)),
    "do_get": lambda c, name: c.do_get(flight.Ticket(name.encode())).read_all(),
    "do_put": put,
    "drop_dataset": drop,
}


def expect(code: str, call: Callable[[], object]) -> str:
    """Runs call, which must fail with code; returns the error message."""
    cls, prefix = ERRORS[code]
    with pytest.raises(cls) as err:
        call()
    assert type(err.value) is cls
    message = str(err.value)
    assert message.startswith(prefix), message
    return message


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


@pytest.mark.parametrize("server", [QUIVER], indirect=True)
@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_bad_name_is_invalid_argument(server: Server, call: Call, name: str) -> None:
    # Another dataset is there, and must be there unchanged afterwards.
    with server.connect() as client:
        put(client, "kept.parquet")
        tmp = server.root.parent
        before = files_under(tmp)

        message = expect("INVALID_ARGUMENT", lambda: call(client, name))
        if name.isprintable() and 0 < len(name) < 100:
            assert name in message

        assert files_under(tmp) == before
        assert [i.descriptor.path for i in client.list_flights()] == [[b"kept.parquet"]]
        assert client.do_get(flight.Ticket(b"kept.parquet")).read_all().equals(TABLE)


@pytest.mark.parametrize("server", [QUIVER], indirect=True)
def test_ticket_and_action_body_that_are_not_utf8_are_invalid_argument(server: Server) -> None:
    # Tickets and action bodies are bytes on the wire, so these reach Quiver.
    with server.connect() as client:
        expect("INVALID_ARGUMENT", lambda: client.do_get(flight.Ticket(b"\xff.parquet")).read_all())
        expect("INVALID_ARGUMENT", lambda: list(client.do_action(flight.Action("drop_dataset", b"\xff.parquet"))))


@pytest.mark.parametrize("server", [QUIVER], indirect=True)
@pytest.mark.parametrize(
    "descriptor",
    [
        pytest.param(flight.FlightDescriptor.for_path("a.parquet", "b.parquet"), id="two-elements"),
        pytest.param(flight.FlightDescriptor.for_path(), id="no-elements"),
    ],
)
def test_path_descriptor_must_have_one_element(server: Server, descriptor: flight.FlightDescriptor) -> None:
    with server.connect() as client:
        expect("INVALID_ARGUMENT", lambda: client.get_flight_info(descriptor))

        def put_to_descriptor() -> None:
            writer, _ = client.do_put(descriptor, TABLE.schema)
            with writer:
                writer.write_table(TABLE)

        expect("INVALID_ARGUMENT", put_to_descriptor)
        assert list(client.list_flights()) == []


@pytest.mark.parametrize("server", [QUIVER], indirect=True)
@pytest.mark.parametrize("call", [c for n, c in CALLS.items() if n != "do_put"], ids=[n for n in CALLS if n != "do_put"])
def test_unknown_dataset_is_not_found(server: Server, call: Call) -> None:
    with server.connect() as client:
        message = expect("NOT_FOUND", lambda: call(client, "missing.parquet"))
    assert "missing.parquet" in message


@pytest.mark.parametrize("server", [QUIVER], indirect=True)
def test_dropped_dataset_is_not_found(server: Server) -> None:
    with server.connect() as client:
        put(client, "gone.parquet")
        assert drop(client, "gone.parquet") == []
        for name, call in CALLS.items():
            if name != "do_put":
                assert "gone.parquet" in expect("NOT_FOUND", lambda: call(client, "gone.parquet"))


@pytest.mark.parametrize("server", [QUIVER], indirect=True)
@pytest.mark.parametrize("action", ["frobnicate", "DROP_DATASET", ""])
def test_unknown_action_is_unimplemented(server: Server, action: str) -> None:
    with server.connect() as client:
        put(client, "kept.parquet")
        message = expect("UNIMPLEMENTED", lambda: list(client.do_action(flight.Action(action, b"kept.parquet"))))
        if action:
            assert action in message
        assert [i.total_records for i in client.list_flights()] == [3]
