"""The Arrow cookbook's own Flight server: the reference Quiver is compared to.

Both variants are copied verbatim from the cookbook (seed/flight-cookbook.rst);
test_seed.py checks they still match it. Each class sits inside a function
because both are called FlightServer and call super(FlightServer, self): the
function's scope lets each find itself without editing a token of its body.

Run as a script, it serves one variant until SIGTERM or SIGINT:

    python cookbook_server.py {first,streaming} grpc://127.0.0.1:PORT REPO_DIR

and prints "listening on grpc://127.0.0.1:PORT" once clients can connect.
Only the location and the repo come from the arguments, in place of the
cookbook's grpc://0.0.0.0:8815 and ./datasets.
"""

import argparse
import pathlib
import sys

import pyarrow as pa
import pyarrow.flight
import pyarrow.parquet


def first_server_class() -> type:
    """The cookbook's first server: reads whole tables into memory."""

    class FlightServer(pa.flight.FlightServerBase):

        def __init__(self, location="grpc://0.0.0.0:8815",
                    repo=pathlib.Path("./datasets"), **kwargs):
            super(FlightServer, self).__init__(location, **kwargs)
            self._location = location
            self._repo = repo

        def _make_flight_info(self, dataset):
            dataset_path = self._repo / dataset
            schema = pa.parquet.read_schema(dataset_path)
            metadata = pa.parquet.read_metadata(dataset_path)
            descriptor = pa.flight.FlightDescriptor.for_path(
                dataset.encode('utf-8')
            )
            endpoints = [pa.flight.FlightEndpoint(dataset, [self._location])]
            return pyarrow.flight.FlightInfo(schema,
                                            descriptor,
                                            endpoints,
                                            metadata.num_rows,
                                            metadata.serialized_size)

        def list_flights(self, context, criteria):
            for dataset in self._repo.iterdir():
                yield self._make_flight_info(dataset.name)

        def get_flight_info(self, context, descriptor):
            return self._make_flight_info(descriptor.path[0].decode('utf-8'))

        def do_put(self, context, descriptor, reader, writer):
            dataset = descriptor.path[0].decode('utf-8')
            dataset_path = self._repo / dataset
            data_table = reader.read_all()
            pa.parquet.write_table(data_table, dataset_path)

        def do_get(self, context, ticket):
            dataset = ticket.ticket.decode('utf-8')
            dataset_path = self._repo / dataset
            return pa.flight.RecordBatchStream(pa.parquet.read_table(dataset_path))

        def list_actions(self, context):
            return [
                ("drop_dataset", "Delete a dataset."),
            ]

        def do_action(self, context, action):
            if action.type == "drop_dataset":
                self.do_drop_dataset(action.body.to_pybytes().decode('utf-8'))
            else:
                raise NotImplementedError

        def do_drop_dataset(self, dataset):
            dataset_path = self._repo / dataset
            dataset_path.unlink()

    return FlightServer


def streaming_server_class() -> type:
    """The cookbook's second server: streams batches to and from Parquet."""

    class FlightServer(pa.flight.FlightServerBase):

        def __init__(self, location="grpc://0.0.0.0:8815",
                    repo=pathlib.Path("./datasets"), **kwargs):
            super(FlightServer, self).__init__(location, **kwargs)
            self._location = location
            self._repo = repo

        def _make_flight_info(self, dataset):
            dataset_path = self._repo / dataset
            schema = pa.parquet.read_schema(dataset_path)
            metadata = pa.parquet.read_metadata(dataset_path)
            descriptor = pa.flight.FlightDescriptor.for_path(
                dataset.encode('utf-8')
            )
            endpoints = [pa.flight.FlightEndpoint(dataset, [self._location])]
            return pyarrow.flight.FlightInfo(schema,
                                            descriptor,
                                            endpoints,
                                            metadata.num_rows,
                                            metadata.serialized_size)

        def list_flights(self, context, criteria):
            for dataset in self._repo.iterdir():
                yield self._make_flight_info(dataset.name)

        def get_flight_info(self, context, descriptor):
            return self._make_flight_info(descriptor.path[0].decode('utf-8'))

        def do_put(self, context, descriptor, reader, writer):
            dataset = descriptor.path[0].decode('utf-8')
            dataset_path = self._repo / dataset
            # Read the uploaded data and write to Parquet incrementally
            with dataset_path.open("wb") as sink:
                with pa.parquet.ParquetWriter(sink, reader.schema) as writer:
                    for chunk in reader:
                        writer.write_table(pa.Table.from_batches([chunk.data]))

        def do_get(self, context, ticket):
            dataset = ticket.ticket.decode('utf-8')
            # Stream data from a file
            dataset_path = self._repo / dataset
            reader = pa.parquet.ParquetFile(dataset_path)
            return pa.flight.GeneratorStream(
                reader.schema_arrow, reader.iter_batches())

        def list_actions(self, context):
            return [
                ("drop_dataset", "Delete a dataset."),
            ]

        def do_action(self, context, action):
            if action.type == "drop_dataset":
                self.do_drop_dataset(action.body.to_pybytes().decode('utf-8'))
            else:
                raise NotImplementedError

        def do_drop_dataset(self, dataset):
            dataset_path = self._repo / dataset
            dataset_path.unlink()

    return FlightServer


VARIANTS = {"first": first_server_class, "streaming": streaming_server_class}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=sorted(VARIANTS))
    parser.add_argument("location", help="e.g. grpc://127.0.0.1:8815")
    parser.add_argument("repo", type=pathlib.Path, help="dataset directory")
    args = parser.parse_args(argv)

    # As in the cookbook's __main__, with location and repo from the arguments.
    FlightServer = VARIANTS[args.variant]()
    server = FlightServer(location=args.location, repo=args.repo)
    server._repo.mkdir(exist_ok=True)
    # The constructor has bound the port, so clients can connect from now on.
    print("listening on", args.location, flush=True)
    server.serve()


if __name__ == "__main__":
    main(sys.argv[1:])
