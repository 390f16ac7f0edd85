"""The Arrow types pyarrow 26 and polars 2.1 produce, on every upload path.

Each type goes in through plain Flight DoPut, through Flight SQL bulk ingest
(ADBC's adbc_ingest) and as a bound parameter, and must come back with the same
values. Encodings with no Parquet form of their own (views, dictionaries, run-end
encoding, list views, decimal32/64) are stored as their plain values; STORED
lists the type plain Flight then returns for each, and README.md says the same.
polars' own read_database / write_database (engine="adbc") round-trip a frame
of every polars type.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import adbc_driver_manager
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from conftest import QUIVER, Server

pytestmark = pytest.mark.parametrize("server", [QUIVER], indirect=True)

UTC = dt.timezone.utc
STRINGS = ["a", "a string longer than twelve bytes", None]
DICT = pa.array(["red", "green", "red", None]).dictionary_encode()


def ree(values: pa.Array) -> pa.Array:
    return pc.run_end_encode(values)


# name -> (array as the client sends it, the type plain Flight returns, or None
# when it is the type sent). Values come back equal (after a cast to the stored
# type where it differs).
TYPES: dict[str, tuple[pa.Array, pa.DataType | None]] = {
    "string_view": (pa.array(STRINGS, pa.string_view()), pa.string()),
    "binary_view": (pa.array([b"\x00\x01", b"a binary longer than twelve bytes", None], pa.binary_view()), pa.binary()),
    "large_string": (pa.array(STRINGS, pa.large_string()), None),
    "large_binary": (pa.array([b"\x00", b"", None], pa.large_binary()), None),
    "large_list": (pa.array([[1, 2], [], None], pa.large_list(pa.int32())), pa.large_list(pa.field("element", pa.int32()))),
    "list_view": (pa.array([[1, 2], [], None], pa.list_view(pa.int32())), pa.list_(pa.field("element", pa.int32()))),
    "large_list_view": (pa.array([[1, 2], [], None], pa.large_list_view(pa.int32())), pa.large_list(pa.field("element", pa.int32()))),
    "fixed_size_list": (pa.array([[1, 2], [3, None], None], pa.list_(pa.int32(), 2)), pa.list_(pa.field("element", pa.int32()), 2)),
    "dictionary": (DICT, pa.string()),
    "dictionary_string_view": (
        pa.DictionaryArray.from_arrays(pa.array([0, 1, 0, None], pa.int32()), pa.array(["red", "green"], pa.string_view())),
        pa.string(),
    ),
    "run_end_encoded": (ree(pa.array(["a", "a", "b", None])), pa.string()),
    "float16": (pa.array([1.5, -0.25, None], pa.float16()), None),
    "time32_s": (pa.array([dt.time(13, 45, 30), dt.time(0, 0), None], pa.time32("s")), pa.time32("ms")),
    "time32_ms": (pa.array([dt.time(13, 45, 30, 123000), dt.time(0, 0), None], pa.time32("ms")), None),
    "time64_ns": (pa.array([49530123456789, 0, None], pa.time64("ns")), None),
    "date64": (pa.array([dt.date(2024, 2, 29), dt.date(1969, 12, 31), None], pa.date64()), pa.date32()),
    "timestamp_s": (pa.array([dt.datetime(2024, 2, 29, 13, 45, 30), None], pa.timestamp("s")), pa.timestamp("ms")),
    "timestamp_ns_tz": (
        pa.array([dt.datetime(2024, 2, 29, 13, 45, 30, tzinfo=UTC), None], pa.timestamp("ns", tz="America/New_York")),
        None,
    ),
    "duration": (pa.array([1, -2, None], pa.duration("us")), None),
    "decimal32": (pa.array([Decimal("12345.67"), Decimal("-0.01"), None], pa.decimal32(7, 2)), pa.decimal128(7, 2)),
    "decimal64": (pa.array([Decimal("123456789012.345"), None], pa.decimal64(15, 3)), pa.decimal128(15, 3)),
    "decimal256": (pa.array([Decimal("123456789012345678.90"), None], pa.decimal256(20, 2)), None),
    "null": (pa.nulls(3), None),
    "struct_of_views": (
        pa.array([{"s": "x", "h": 0.5}, None], pa.struct([("s", pa.string_view()), ("h", pa.float16())])),
        pa.struct([("s", pa.string()), ("h", pa.float16())]),
    ),
}


def one_column(arr: pa.Array) -> pa.Table:
    return pa.table({"v": arr})


def stored(name: str) -> tuple[pa.DataType, list]:
    """The type plain Flight returns for TYPES[name], and its values."""
    arr, as_type = TYPES[name]
    return (as_type or arr.type), arr.to_pylist()


@pytest.mark.parametrize("name", TYPES.keys())
def test_every_client_type_through_plain_flight(server: Server, name: str) -> None:
    arr, _ = TYPES[name]
    server.put(f"{name}.parquet", one_column(arr))
    got = server.get(f"{name}.parquet")
    want_type, want_values = stored(name)
    assert got.schema.field("v").type == want_type
    assert got.column("v").to_pylist() == want_values


@pytest.mark.parametrize("name", TYPES.keys())
def test_every_client_type_through_bulk_ingest(server: Server, name: str) -> None:
    arr, _ = TYPES[name]
    with server.adbc() as conn, conn.cursor() as cur:
        assert cur.adbc_ingest(name, one_column(arr), mode="create") == len(arr)
        cur.execute(f'SELECT count(*) AS n, count(v) AS filled FROM "{name}"')
        values = arr.to_pylist()
        assert cur.fetchone() == (len(values), sum(v is not None for v in values))
    got = server.get(f"{name}.parquet")
    want_type, want_values = stored(name)
    assert got.schema.field("v").type == want_type
    assert got.column("v").to_pylist() == want_values


# Bound as parameters: the flat types (DuckDB binds one value per placeholder).
PARAMS = ["string_view", "binary_view", "large_string", "dictionary", "dictionary_string_view", "run_end_encoded",
          "float16", "time64_ns", "date64", "decimal32", "decimal64", "decimal256"]


@pytest.mark.parametrize("name", PARAMS)
def test_every_flat_client_type_as_a_parameter(server: Server, name: str) -> None:
    arr, _ = TYPES[name]
    _, want = stored(name)
    with server.adbc() as conn, conn.cursor() as cur:
        for i, value in enumerate(want):
            cur.execute("SELECT ? AS v", parameters=pa.record_batch([arr.slice(i, 1)], names=["p"]))
            assert cur.fetchone()[0] == value


def test_interval_is_refused_naming_the_column(server: Server) -> None:
    table = pa.table({"id": [1], "gap": pa.array([pa.scalar((1, 2, 3000), pa.month_day_nano_interval())])})
    with server.adbc() as conn, conn.cursor() as cur:
        with pytest.raises(adbc_driver_manager.ProgrammingError) as err:
            cur.adbc_ingest("gaps", table, mode="create")
    assert err.value.vendor_code == 3  # INVALID_ARGUMENT
    assert 'column "gap"' in str(err.value) and "month_day_nano_interval" in str(err.value)


# ---------------------------------------------------------------------------
# polars 2.1: write_database(engine="adbc") sends string_view, read_database reads.

FRAME = pl.DataFrame(
    {
        "id": pl.Series([1, 2, 3], dtype=pl.Int64),
        "small": pl.Series([1, -2, None], dtype=pl.Int8),
        "unsigned": pl.Series([1, 2, 3], dtype=pl.UInt32),
        "ratio": pl.Series([0.5, None, 2.0], dtype=pl.Float32),
        "name": pl.Series(["ada", None, "a name longer than twelve"], dtype=pl.String),
        "raw": pl.Series([b"\x00", b"", None], dtype=pl.Binary),
        "flag": pl.Series([True, False, None], dtype=pl.Boolean),
        "day": pl.Series([dt.date(2024, 2, 29), None, dt.date(1969, 12, 31)], dtype=pl.Date),
        "at": pl.Series([dt.datetime(2024, 2, 29, 13, 45, 30, 123456), None, dt.datetime(1900, 1, 1)], dtype=pl.Datetime("us")),
        "at_utc": pl.Series([dt.datetime(2024, 2, 29, 13, 45, 30, tzinfo=UTC), None, None], dtype=pl.Datetime("ns", "UTC")),
        "clock": pl.Series([dt.time(13, 45, 30), None, dt.time(0, 0)], dtype=pl.Time),
        "price": pl.Series([Decimal("1.25"), None, Decimal("-3.50")], dtype=pl.Decimal(10, 2)),
        "color": pl.Series(["red", "green", None], dtype=pl.Categorical),
        "size": pl.Series(["s", "m", "s"], dtype=pl.Enum(["s", "m", "l"])),
        "tags": pl.Series([["a", "b"], [], None], dtype=pl.List(pl.String)),
        "point": pl.Series([{"x": 1, "y": "p"}, None, {"x": None, "y": None}], dtype=pl.Struct({"x": pl.Int64, "y": pl.String})),
    }
)

# What read_database gives back, where it is not the type written: categoricals
# and enums are stored as their strings; nanosecond zoned timestamps come back in
# microseconds (DuckDB's TIMESTAMPTZ) and named as DuckDB names UTC.
READ_BACK = {
    "color": pl.String,
    "size": pl.String,
    "at_utc": pl.Datetime("us", "Etc/UTC"),
}


def read_back(conn, table: str) -> pl.DataFrame:
    return pl.read_database(f'SELECT * FROM "{table}" ORDER BY id', connection=conn)


def expected(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col(name).cast(t) for name, t in READ_BACK.items())


def test_polars_write_database_create_append_replace(server: Server) -> None:
    first, second = FRAME.slice(0, 2), FRAME.slice(2, 1)
    with server.adbc() as conn:
        assert first.write_database("frames", connection=conn, engine="adbc", if_table_exists="fail") == 2
        got = read_back(conn, "frames")
        assert got.schema == expected(first).schema
        assert got.equals(expected(first))

        assert second.write_database("frames", connection=conn, engine="adbc", if_table_exists="append") == 1
        assert read_back(conn, "frames").equals(expected(FRAME))

        assert second.write_database("frames", connection=conn, engine="adbc", if_table_exists="replace") == 1
        assert read_back(conn, "frames").equals(expected(second))

        # fail: the table exists.
        with pytest.raises(adbc_driver_manager.ProgrammingError) as err:
            first.write_database("frames", connection=conn, engine="adbc", if_table_exists="fail")
        assert err.value.vendor_code == 6  # ALREADY_EXISTS

    # Plain Flight sees the plain types Quiver stored.
    schema = server.get("frames.parquet").schema
    assert schema.field("name").type == pa.string()
    assert schema.field("color").type == pa.string()
    assert schema.field("tags").type.value_type == pa.string()


def test_polars_read_database_with_parameters(server: Server) -> None:
    with server.adbc() as conn:
        FRAME.write_database("frames", connection=conn, engine="adbc")
        df = pl.read_database(
            "SELECT id, name FROM frames WHERE name = ? OR id = ? ORDER BY id",
            connection=conn,
            execute_options={"parameters": pa.record_batch([pa.array(["ada"], pa.string_view()), pa.array([3])], names=["a", "b"])},
        )
    assert df.to_dict(as_series=False) == {"id": [1, 3], "name": ["ada", "a name longer than twelve"]}
