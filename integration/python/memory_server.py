"""A pyarrow Flight server that keeps uploads in memory: the ceiling for the benchmarks.

No Parquet, no disk: DoPut reads the stream into a table (`read_all`) and
keeps it under its name, DoGet sends that table's batches as they came. What
a client measures against it is pyarrow's Flight transport (gRPC and Arrow
IPC over loopback) and nothing else, so a server that stores data cannot
beat it; bench_pyarrow.py prints each server's time against it.

Run as a script, it serves until SIGTERM or SIGINT:

    python memory_server.py grpc://127.0.0.1:PORT

and prints "listening on grpc://127.0.0.1:PORT" once clients can connect
(the same line as cookbook_server.py, so conftest.py starts both alike).
"""

import argparse
import sys
import threading

import pyarrow as pa
import pyarrow.flight as flight


class MemoryServer(flight.FlightServerBase):
    """Tables by dataset name, whole in memory."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self._lock = threading.Lock()
        self._tables: dict[str, pa.Table] = {}

    def do_put(self, context, descriptor, reader, writer) -> None:
        table = reader.read_all()
        with self._lock:
            self._tables[descriptor.path[0].decode()] = table

    def do_get(self, context, ticket) -> flight.RecordBatchStream:
        name = ticket.ticket.decode()
        with self._lock:
            table = self._tables.get(name)
        if table is None:
            raise KeyError(f"dataset {name!r} not found")
        return flight.RecordBatchStream(table)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("location", help="e.g. grpc://127.0.0.1:8815")
    args = parser.parse_args(argv)
    server = MemoryServer(args.location)
    # The constructor has bound the port, so clients can connect from now on.
    print("listening on", args.location, flush=True)
    server.serve()


if __name__ == "__main__":
    main(sys.argv[1:])
