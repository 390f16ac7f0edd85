"""The Arrow cookbook's Flight client code, verbatim, as runnable blocks.

Each constant is one code block of seed/flight-cookbook.rst, byte for byte
after removing the reStructuredText indentation (test_seed.py checks this).
run() executes a block in a namespace shared by the blocks of one flow, as the
cookbook's reader would in one interpreter; the only change it makes is the
server address. The cookbook's hidden blocks (starting its server, a retry for
ARROW-14255 fixed in pyarrow 6, shutting down) are not client code and are left
out.
"""

from typing import Any

COOKBOOK_ADDRESS = "grpc://0.0.0.0:8815"

# First flow: a small table, whole.

# Connect (the client for the first flow).
CONNECT = """\
import pyarrow as pa
import pyarrow.flight

client = pa.flight.connect("grpc://0.0.0.0:8815")
"""

# Put the 3-row Character table to uploaded.parquet.
UPLOAD = """\
# Upload a new dataset
data_table = pa.table(
    [["Mario", "Luigi", "Peach"]],
    names=["Character"]
)
upload_descriptor = pa.flight.FlightDescriptor.for_path("uploaded.parquet")
writer, _ = client.do_put(upload_descriptor, data_table.schema)
writer.write_table(data_table)
writer.close()
"""

# Print path, rows, size and schema.
GET_FLIGHT_INFO = """\
# Retrieve metadata of newly uploaded dataset
flight = client.get_flight_info(upload_descriptor)
descriptor = flight.descriptor
print("Path:", descriptor.path[0].decode('utf-8'), "Rows:", flight.total_records, "Size:", flight.total_bytes)
print("=== Schema ===")
print(flight.schema)
print("==============")
"""

# do_get and read_all, printed through pandas.
READ = """\
# Read content of the dataset
reader = client.do_get(flight.endpoints[0].ticket)
read_table = reader.read_all()
print(read_table.to_pandas().head())
"""

# The drop_dataset action (its results are never read).
DROP = """\
# Drop the newly uploaded dataset
client.do_action(pa.flight.Action("drop_dataset", "uploaded.parquet".encode('utf-8')))
"""

# Print every dataset list_flights reports.
LIST = """\
# List existing datasets.
for flight in client.list_flights():
    descriptor = flight.descriptor
    print("Path:", descriptor.path[0].decode('utf-8'), "Rows:", flight.total_records, "Size:", flight.total_bytes)
    print("=== Schema ===")
    print(flight.schema)
    print("==============")
    print("")
"""

# Second flow: 1024 batches of 4096 rows, streamed both ways.

# Connect and put streamed.parquet batch by batch.
STREAMED_UPLOAD = """\
import pyarrow as pa
import pyarrow.flight

client = pa.flight.connect("grpc://0.0.0.0:8815")

# Upload a new dataset
NUM_BATCHES = 1024
ROWS_PER_BATCH = 4096
upload_descriptor = pa.flight.FlightDescriptor.for_path("streamed.parquet")
batch = pa.record_batch([
    pa.array(range(ROWS_PER_BATCH)),
], names=["ints"])
writer, _ = client.do_put(upload_descriptor, batch.schema)
with writer:
    for _ in range(NUM_BATCHES):
        writer.write_batch(batch)
"""

# Read it back batch by batch and count the rows.
STREAMED_READ = """\
# Read content of the dataset
flight = client.get_flight_info(upload_descriptor)
reader = client.do_get(flight.endpoints[0].ticket)
total_rows = 0
for chunk in reader:
    total_rows += chunk.data.num_rows
print("Got", total_rows, "rows total, expected", NUM_BATCHES * ROWS_PER_BATCH)
"""

FIRST_FLOW = (CONNECT, UPLOAD, GET_FLIGHT_INFO, READ, DROP, LIST)
STREAMED_FLOW = (STREAMED_UPLOAD, STREAMED_READ)


def run(block: str, namespace: dict[str, Any], address: str) -> None:
    """Executes one cookbook block against address instead of the cookbook's."""
    assert block.count(COOKBOOK_ADDRESS) <= 1
    code = compile(block.replace(COOKBOOK_ADDRESS, address), "<cookbook>", "exec")
    exec(code, namespace)
