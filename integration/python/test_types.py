"""One dataset with every type Quiver promises, read back value by value.

Put with plain pyarrow Flight, it must come back through plain Flight as it
went in, and through SQL (ADBC Python) with the same values. Where a type
changes on the way, the change is listed here (PLAIN_FLIGHT_CHANGES,
SQL_TYPE_CHANGES) and in README.md: that is what a user gets.

Each column has a null in its last row.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from conftest import COOKBOOK_STREAMING, QUIVER, Server

UTC = dt.timezone.utc

# name -> (type, values); the last row of every column is null.
COLUMNS: dict[str, tuple[pa.DataType, list]] = {
    "bool": (pa.bool_(), [True, False, None]),
    "i8": (pa.int8(), [-128, 127, None]),
    "i16": (pa.int16(), [-32768, 32767, None]),
    "i32": (pa.int32(), [-(2**31), 2**31 - 1, None]),
    "i64": (pa.int64(), [-(2**63), 2**63 - 1, None]),
    "u8": (pa.uint8(), [0, 255, None]),
    "u16": (pa.uint16(), [0, 65535, None]),
    "u32": (pa.uint32(), [0, 2**32 - 1, None]),
    "u64": (pa.uint64(), [2**64 - 1, 0, None]),
    "f32": (pa.float32(), [1.5, -0.0, None]),
    "f64": (pa.float64(), [-2.25, 1e300, None]),
    "dec": (pa.decimal128(10, 2), [Decimal("12345678.91"), Decimal("-0.01"), None]),
    "date": (pa.date32(), [dt.date(2024, 2, 29), dt.date(1970, 1, 1), None]),
    "time": (pa.time64("us"), [dt.time(13, 45, 30, 123456), dt.time(0, 0), None]),
    "ts": (pa.timestamp("us"), [dt.datetime(2024, 2, 29, 13, 45, 30, 123456), dt.datetime(1900, 1, 1), None]),
    "tstz": (
        pa.timestamp("us", tz="UTC"),
        [dt.datetime(2024, 2, 29, 13, 45, 30, 123456, tzinfo=UTC), dt.datetime(2262, 4, 11, 23, 47, 16, 854775, tzinfo=UTC), None],
    ),
    "str": (pa.string(), ["héllo ✓", "", None]),
    "lstr": (pa.large_string(), ["large", "", None]),
    "bin": (pa.binary(), [b"\x00\x01\xff", b"", None]),
    "list": (pa.list_(pa.int32()), [[1, 2, None], [], None]),
    "struct": (pa.struct([("a", pa.int32()), ("b", pa.string())]), [{"a": 1, "b": "x"}, {"a": None, "b": None}, None]),
    "map": (pa.map_(pa.string(), pa.int32()), [[("k1", 1), ("k2", None)], [], None]),
}

ALL_TYPES = pa.table({name: pa.array(values, type=t) for name, (t, values) in COLUMNS.items()})

# Parquet names a list's element "element", whatever it was called: Quiver and
# the cookbook's pyarrow server both return list<element: int32> for the
# list<item: int32> that was put. Values are the same.
PLAIN_FLIGHT_CHANGES = {"list": pa.list_(pa.field("element", pa.int32()))}

# What a type becomes through SQL (DuckDB), where it differs from what was put.
# Values stay the same. Unsigned integers, decimal, struct and map keep their types.
SQL_TYPE_CHANGES = {
    "lstr": pa.string(),  # DuckDB has one VARCHAR
    "tstz": pa.timestamp("us", tz="Etc/UTC"),  # DuckDB's name for UTC
    "list": pa.list_(pa.field("l", pa.int32())),  # DuckDB names the element "l"
}


def expected_schema(changes: dict[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(f.name, changes.get(f.name, f.type)) for f in ALL_TYPES.schema])


def assert_same_values(got: pa.Table) -> None:
    assert got.num_rows == ALL_TYPES.num_rows
    for name, (_, values) in COLUMNS.items():
        column = got.column(name).to_pylist()
        if name == "map":  # to_pylist gives a map as a list of (key, value)
            column = [None if v is None else [tuple(kv) for kv in v] for v in column]
        assert column == values, name
        assert got.column(name).null_count == 1, name


# The SQL type name Quiver's Flight SQL column metadata gives each column
# (ARROW:FLIGHT:SQL:TYPE_NAME, what JDBC's getColumnTypeName shows).
SQL_TYPE_NAMES = {
    "bool": "BOOLEAN", "i8": "TINYINT", "i16": "SMALLINT", "i32": "INTEGER", "i64": "BIGINT",
    "u8": "UTINYINT", "u16": "USMALLINT", "u32": "UINTEGER", "u64": "UBIGINT",
    "f32": "FLOAT", "f64": "DOUBLE", "dec": "DECIMAL(10,2)", "date": "DATE", "time": "TIME",
    "ts": "TIMESTAMP", "tstz": "TIMESTAMP WITH TIME ZONE", "str": "VARCHAR", "lstr": "VARCHAR",
    "bin": "BLOB", "list": "INTEGER[]", "struct": "STRUCT(a INTEGER, b VARCHAR)",
    # As DuckDB's DESCRIBE and GetTables name them.
    "map": "MAP(VARCHAR, INTEGER)",
}  # fmt: skip


def assert_schema_is(got: pa.Schema, want: pa.Schema, check_metadata: bool = True) -> None:
    # Compared as text as well: pyarrow's type equality ignores a list's
    # element name, and users see the name.
    if not check_metadata:
        got = got.remove_metadata()
        got = pa.schema([f.remove_metadata() for f in got])
    assert got.equals(want, check_metadata=True), f"{got}\n!=\n{want}"
    assert str(got) == str(want)


@pytest.mark.parametrize("server", [QUIVER, COOKBOOK_STREAMING], indirect=True)
def test_every_type_through_plain_flight(server: Server) -> None:
    server.put("alltypes.parquet", ALL_TYPES)
    want = expected_schema(PLAIN_FLIGHT_CHANGES)
    with server.connect() as client:
        info = client.get_flight_info(flight.FlightDescriptor.for_path("alltypes.parquet"))
        assert info.total_records == 3
        got = client.do_get(info.endpoints[0].ticket).read_all()
    if server.is_quiver:
        assert_schema_is(info.schema, want)
        assert_schema_is(got.schema, want)
    else:
        # The reference renames the list's element too; it also names a map's
        # entries after the column ("map") where Quiver keeps "entries".
        assert str(got.schema.field("list").type) == "list<element: int32>"
        assert got.schema.field("map").type.key_type == pa.string()
    assert_same_values(got)
    # Value for value, as Arrow compares them.
    for name in COLUMNS:
        assert got.column(name).cast(got.schema.field(name).type).to_pylist() == ALL_TYPES.column(name).to_pylist()


@pytest.mark.parametrize("server", [QUIVER], indirect=True)
def test_every_type_through_sql(server: Server) -> None:
    server.put("alltypes.parquet", ALL_TYPES)
    with server.adbc() as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM alltypes ORDER BY i8")
        got = cur.fetch_arrow_table()
        assert_schema_is(got.schema, expected_schema(SQL_TYPE_CHANGES), check_metadata=False)
        names = {f.name: f.metadata[b"ARROW:FLIGHT:SQL:TYPE_NAME"].decode() for f in got.schema}
        assert names == SQL_TYPE_NAMES
        dec = got.schema.field("dec").metadata
        assert (dec[b"ARROW:FLIGHT:SQL:PRECISION"], dec[b"ARROW:FLIGHT:SQL:SCALE"]) == (b"10", b"2")
        assert [d[1] for d in cur.description] == got.schema.types
        assert_same_values(got)

        # Each type also filters and compares in SQL as its own type.
        cur.execute(
            "SELECT count(*) AS n FROM alltypes WHERE u64 = 18446744073709551615 AND dec = 12345678.91 "
            "AND tstz = TIMESTAMPTZ '2024-02-29 13:45:30.123456+00' AND map['k1'] = 1 AND struct.b = 'x' "
            "AND list[2] = 2 AND bin = '\\x00\\x01\\xFF'::BLOB AND lstr = 'large'"
        )
        assert cur.fetchall() == [(1,)]


@pytest.mark.parametrize("server", [QUIVER], indirect=True)
def test_every_type_as_pandas_through_adbc(server: Server) -> None:
    # What pandas makes of the SQL result: pyarrow's to_pandas rules, not
    # Quiver's. Integers with a null become float64, so u64's 2**64-1 loses
    # precision; decimals, dates, times, bytes and nested values become objects.
    server.put("alltypes.parquet", ALL_TYPES)
    with server.adbc() as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM alltypes ORDER BY i8")
        df = cur.fetch_df()
    dtypes = {name: str(t) for name, t in df.dtypes.items()}
    assert dtypes == {
        "bool": "object", "i8": "float64", "i16": "float64", "i32": "float64", "i64": "float64",
        "u8": "float64", "u16": "float64", "u32": "float64", "u64": "float64",
        "f32": "float32", "f64": "float64", "dec": "object", "date": "object", "time": "object",
        "ts": "datetime64[us]", "tstz": "datetime64[us, Etc/UTC]", "str": "str", "lstr": "str",
        "bin": "object", "list": "object", "struct": "object", "map": "object",
    }  # fmt: skip
    first = df.iloc[0]
    assert first["dec"] == Decimal("12345678.91")
    assert first["tstz"].isoformat() == "2024-02-29T13:45:30.123456+00:00"
    assert first["map"] == [("k1", 1.0), ("k2", None)]
    assert float(first["u64"]) == float(2**64 - 1)
    assert df.iloc[2].isna().all()
