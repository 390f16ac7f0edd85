package integration

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// allTypesJSON is the dataset with every type Quiver promises, three rows, the last
// all nulls. Arrow's JSON reader builds it, so the values are easy to read.
const allTypesJSON = `[
{"bool": true, "i8": -8, "i16": -16, "i32": -32, "i64": -64, "u8": 8, "u16": 16, "u32": 32, "u64": 18446744073709551615,
 "f32": 1.5, "f64": -2.25, "dec": "12345.67", "date": "2024-02-29", "time": "13:45:30.123456",
 "ts": "2024-02-29 13:45:30.123456", "tstz": "2024-02-29 13:45:30.123456Z",
 "str": "héllo", "lstr": "large", "bin": "AAEC", "list": [1, 2, null], "struct": {"a": 1, "b": "x"},
 "map": [{"key": "k1", "value": 1}, {"key": "k2", "value": null}]},
{"bool": false, "i8": 127, "i16": 32767, "i32": 2147483647, "i64": 9223372036854775807, "u8": 255, "u16": 65535, "u32": 4294967295, "u64": 0,
 "f32": -0.0, "f64": 1e300, "dec": "-0.01", "date": "1970-01-01", "time": "00:00:00",
 "ts": "1900-01-01 00:00:00", "tstz": "2262-04-11 23:47:16.854775Z",
 "str": "", "lstr": "", "bin": "", "list": [], "struct": {"a": null, "b": null}, "map": []},
{}
]`

func allTypesSchema() *arrow.Schema {
	f := func(name string, t arrow.DataType) arrow.Field {
		return arrow.Field{Name: name, Type: t, Nullable: true}
	}
	return arrow.NewSchema([]arrow.Field{
		f("bool", arrow.FixedWidthTypes.Boolean),
		f("i8", arrow.PrimitiveTypes.Int8), f("i16", arrow.PrimitiveTypes.Int16),
		f("i32", arrow.PrimitiveTypes.Int32), f("i64", arrow.PrimitiveTypes.Int64),
		f("u8", arrow.PrimitiveTypes.Uint8), f("u16", arrow.PrimitiveTypes.Uint16),
		f("u32", arrow.PrimitiveTypes.Uint32), f("u64", arrow.PrimitiveTypes.Uint64),
		f("f32", arrow.PrimitiveTypes.Float32), f("f64", arrow.PrimitiveTypes.Float64),
		f("dec", &arrow.Decimal128Type{Precision: 10, Scale: 2}),
		f("date", arrow.FixedWidthTypes.Date32),
		f("time", arrow.FixedWidthTypes.Time64us),
		f("ts", &arrow.TimestampType{Unit: arrow.Microsecond}),
		f("tstz", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}),
		f("str", arrow.BinaryTypes.String),
		f("lstr", arrow.BinaryTypes.LargeString),
		f("bin", arrow.BinaryTypes.Binary),
		f("list", arrow.ListOf(arrow.PrimitiveTypes.Int32)),
		f("struct", arrow.StructOf(f("a", arrow.PrimitiveTypes.Int32), f("b", arrow.BinaryTypes.String))),
		f("map", arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int32)),
	}, nil)
}

func allTypesRecord(t testing.TB) arrow.RecordBatch {
	t.Helper()
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, allTypesSchema(), stringsReader(allTypesJSON))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// columnJSON renders every column of recs as JSON values, by column name.
func columnJSON(t testing.TB, recs []arrow.RecordBatch) map[string]string {
	t.Helper()
	values := map[string][]any{}
	for _, r := range recs {
		for i, col := range r.Columns() {
			name := r.Schema().Field(i).Name
			for j := 0; j < col.Len(); j++ {
				values[name] = append(values[name], col.GetOneForMarshal(j))
			}
		}
	}
	out := map[string]string{}
	for k, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = string(b)
	}
	return out
}

func TestEveryTypeThroughPlainFlight(t *testing.T) {
	srv := startServer(t)
	c := srv.client(t)
	rec := allTypesRecord(t)
	defer rec.Release()
	putRecords(t, c, "alltypes.parquet", rec.Schema(), rec)

	info, err := c.GetFlightInfo(context.Background(), pathDescriptor("alltypes.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	schema, recs := getAll(t, c, info.Endpoint[0].Ticket)
	if !schema.Equal(rec.Schema()) {
		t.Errorf("DoGet schema\n%s\nwant\n%s", schema, rec.Schema())
	}
	want := columnJSON(t, []arrow.RecordBatch{rec})
	got := columnJSON(t, recs)
	for _, f := range rec.Schema().Fields() {
		if got[f.Name] != want[f.Name] {
			t.Errorf("column %s: DoGet %s, want %s", f.Name, got[f.Name], want[f.Name])
		}
	}
}

// sqlTypeChanges documents what a type becomes through SQL (DuckDB), where it
// differs from what was put. Values stay the same.
var sqlTypeChanges = map[string]string{
	"lstr": "utf8",                      // DuckDB has one VARCHAR type
	"tstz": "timestamp[us, tz=Etc/UTC]", // DuckDB's name for UTC
	"list": "list<l: int32, nullable>",  // DuckDB names a list's element "l"
}

func TestEveryTypeThroughSQL(t *testing.T) {
	srv := startServer(t)
	rec := allTypesRecord(t)
	defer rec.Release()
	putRecords(t, srv.client(t), "alltypes.parquet", rec.Schema(), rec)

	conn := srv.adbcConn(t)
	schema, recs, err := adbcQuery(t, conn, "SELECT * FROM alltypes")
	if err != nil {
		t.Fatal(err)
	}
	want := columnJSON(t, []arrow.RecordBatch{rec})
	got := columnJSON(t, recs)
	for i, f := range rec.Schema().Fields() {
		gotType := schema.Field(i).Type.String()
		wantType := f.Type.String()
		if changed, ok := sqlTypeChanges[f.Name]; ok {
			wantType = changed
		}
		if gotType != wantType {
			t.Errorf("column %s: SQL type %s, want %s", f.Name, gotType, wantType)
		}
		if got[f.Name] != want[f.Name] {
			t.Errorf("column %s: SQL %s, want %s", f.Name, got[f.Name], want[f.Name])
		}
	}
}
