package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-adbc/go/adbc"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
)

// clientType is one Arrow type a client library sends (pyarrow 26, polars 2.1,
// pandas through pyarrow, ADBC drivers), with three to four values as Arrow's JSON
// reader spells them, the last of them null.
type clientType struct {
	name string
	dt   arrow.DataType
	json string
	// dict, for a dictionary type, holds the dictionary's values; json then holds
	// the indices.
	dict string
}

func clientTypes() []clientType {
	utf8, i32 := arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int32
	ts := func(u arrow.TimeUnit, tz string) arrow.DataType { return &arrow.TimestampType{Unit: u, TimeZone: tz} }
	dur := func(u arrow.TimeUnit) arrow.DataType { return &arrow.DurationType{Unit: u} }
	f := func(name string, t arrow.DataType) arrow.Field {
		return arrow.Field{Name: name, Type: t, Nullable: true}
	}
	const tsJSON = `["2024-02-29 13:45:30", "1969-12-31 23:59:59", null]`
	const tzJSON = `["2024-02-29 13:45:30Z", "1969-12-31 23:59:59Z", null]`
	return []clientType{
		{"string_view", arrow.BinaryTypes.StringView, `["a", "a string longer than twelve bytes", null]`, ""},
		{"binary_view", arrow.BinaryTypes.BinaryView, `["AAEC", "YSBzdHJpbmcgbG9uZ2VyIHRoYW4gdHdlbHZlIGJ5dGVz", null]`, ""},
		{"large_string", arrow.BinaryTypes.LargeString, `["a", "ü", null]`, ""},
		{"large_binary", arrow.BinaryTypes.LargeBinary, `["AAEC", "", null]`, ""},
		{"large_list", arrow.LargeListOf(i32), `[[1, 2], [], null]`, ""},
		{"list_view", arrow.ListViewOf(i32), `[[1, 2], [], null]`, ""},
		{"large_list_view", arrow.LargeListViewOf(i32), `[[1, 2], [], null]`, ""},
		{"fixed_size_list", arrow.FixedSizeListOf(2, i32), `[[1, 2], [3, null], null]`, ""},
		{"dictionary", &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: utf8}, `[0, 1, 0, null]`, `["red", "green"]`},
		{"dictionary_large_string", &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint32, ValueType: arrow.BinaryTypes.LargeString}, `[0, 1, 0, null]`, `["red", "green"]`},
		{"dictionary_string_view", &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Uint32, ValueType: arrow.BinaryTypes.StringView}, `[0, 1, 0, null]`, `["red", "green"]`},
		{"dictionary_int64", &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.PrimitiveTypes.Int64}, `[1, 1, 0, null]`, `[-1, 7]`},
		{"run_end_encoded", arrow.RunEndEncodedOf(arrow.PrimitiveTypes.Int32, utf8), `["a", "a", "b", null]`, ""},
		{"run_end_encoded_int64", arrow.RunEndEncodedOf(arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Float64), `[1.5, 1.5, null, 2]`, ""},
		{"float16", arrow.FixedWidthTypes.Float16, `[1.5, -0.25, null]`, ""},
		{"time32_s", arrow.FixedWidthTypes.Time32s, `["13:45:30", "00:00:00", null]`, ""},
		{"time32_ms", arrow.FixedWidthTypes.Time32ms, `["13:45:30.123", "23:59:59.999", null]`, ""},
		{"time64_us", arrow.FixedWidthTypes.Time64us, `["13:45:30.123456", "00:00:00", null]`, ""},
		{"time64_ns", arrow.FixedWidthTypes.Time64ns, `["13:45:30.123456789", "00:00:00", null]`, ""},
		{"date32", arrow.FixedWidthTypes.Date32, `["2024-02-29", "1969-12-31", null]`, ""},
		{"date64", arrow.FixedWidthTypes.Date64, `["2024-02-29", "1969-12-31", null]`, ""},
		{"timestamp_s", ts(arrow.Second, ""), tsJSON, ""},
		{"timestamp_ms", ts(arrow.Millisecond, ""), `["2024-02-29 13:45:30.123", "1969-12-31 23:59:59.999", null]`, ""},
		{"timestamp_us", ts(arrow.Microsecond, ""), `["2024-02-29 13:45:30.123456", "1969-12-31 23:59:59.999999", null]`, ""},
		{"timestamp_ns", ts(arrow.Nanosecond, ""), `["2024-02-29 13:45:30.123456789", "1969-12-31 23:59:59.999999999", null]`, ""},
		{"timestamp_s_utc", ts(arrow.Second, "UTC"), tzJSON, ""},
		{"timestamp_ms_utc", ts(arrow.Millisecond, "UTC"), tzJSON, ""},
		{"timestamp_us_utc", ts(arrow.Microsecond, "UTC"), tzJSON, ""},
		{"timestamp_ns_utc", ts(arrow.Nanosecond, "UTC"), tzJSON, ""},
		{"timestamp_us_new_york", ts(arrow.Microsecond, "America/New_York"), tzJSON, ""},
		{"timestamp_ns_offset", ts(arrow.Nanosecond, "+01:00"), tzJSON, ""},
		{"duration_s", dur(arrow.Second), `[1, -2, null]`, ""},
		{"duration_ms", dur(arrow.Millisecond), `[1, -2, null]`, ""},
		{"duration_us", dur(arrow.Microsecond), `[1, -2, null]`, ""},
		{"duration_ns", dur(arrow.Nanosecond), `[1, -2, null]`, ""},
		{"interval_month_day_nano", arrow.FixedWidthTypes.MonthDayNanoInterval, `[{"months": 1, "days": 2, "nanoseconds": 3000}, {"months": -1, "days": 0, "nanoseconds": 0}, null]`, ""},
		{"interval_months", arrow.FixedWidthTypes.MonthInterval, `[{"months": 14}, {"months": -1}, null]`, ""},
		{"interval_day_time", arrow.FixedWidthTypes.DayTimeInterval, `[{"days": 1, "milliseconds": 5}, {"days": 0, "milliseconds": -1}, null]`, ""},
		{"decimal32", &arrow.Decimal32Type{Precision: 7, Scale: 2}, `["12345.67", "-0.01", null]`, ""},
		{"decimal64", &arrow.Decimal64Type{Precision: 15, Scale: 3}, `["123456789012.345", "-0.001", null]`, ""},
		{"decimal128", &arrow.Decimal128Type{Precision: 38, Scale: 10}, `["1234567890123456789012345678.0123456789", "-0.0000000001", null]`, ""},
		{"decimal256_fits", &arrow.Decimal256Type{Precision: 20, Scale: 2}, `["123456789012345678.90", "-0.01", null]`, ""},
		{"decimal256_wide", &arrow.Decimal256Type{Precision: 50, Scale: 2}, `["123456789012345678901234567890123456789012345678.90", "-0.01", null]`, ""},
		{"null", arrow.Null, `[null, null, null]`, ""},
		{"struct", arrow.StructOf(f("s", arrow.BinaryTypes.StringView), f("h", arrow.FixedWidthTypes.Float16)), `[{"s": "x", "h": 0.5}, {"s": null, "h": null}, null]`, ""},
		{"map", arrow.MapOf(arrow.BinaryTypes.String, arrow.LargeListOf(arrow.BinaryTypes.StringView)), `[[{"key": "k", "value": ["a", null]}], [], null]`, ""},
		{"list_of_views", arrow.ListOf(arrow.BinaryTypes.StringView), `[["a", "a string longer than twelve bytes"], [null], null]`, ""},
	}
}

// record is a one-column batch "v" of the type's values.
func (c clientType) record(t testing.TB) arrow.RecordBatch {
	t.Helper()
	arr := fromJSON(t, c.dt, c.json, c.dict)
	defer arr.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "v", Type: c.dt, Nullable: true}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{arr}, int64(arr.Len()))
	t.Cleanup(rec.Release)
	return rec
}

// fromJSON builds an array of type dt from its JSON values, or for a dictionary
// type from the JSON of its indices and of its dictionary.
func fromJSON(t testing.TB, dt arrow.DataType, values, dict string) arrow.Array {
	t.Helper()
	mem := memory.DefaultAllocator
	if d, ok := dt.(*arrow.DictionaryType); ok {
		idx, _, err := array.FromJSON(mem, d.IndexType, strings.NewReader(values))
		if err != nil {
			t.Fatalf("%s indices: %v", dt, err)
		}
		defer idx.Release()
		vals, _, err := array.FromJSON(mem, d.ValueType, strings.NewReader(dict))
		if err != nil {
			t.Fatalf("%s dictionary: %v", dt, err)
		}
		defer vals.Release()
		return array.NewDictionaryArray(d, idx, vals)
	}
	arr, _, err := array.FromJSON(mem, dt, strings.NewReader(values))
	if err != nil {
		t.Fatalf("%s: %v", dt, err)
	}
	return arr
}

// valueStrings is column 0 of recs, one string per row.
func valueStrings(recs []arrow.RecordBatch) []string {
	var out []string
	for _, r := range recs {
		for i := 0; i < int(r.NumRows()); i++ {
			out = append(out, r.Column(0).ValueStr(i))
		}
	}
	return out
}

// clientTypeResult is what one path gives back for a client type: the Arrow type and
// the values (arrow-go's ValueStr) as "type [values]", or "refused: <part of the
// message>".
type clientTypeResult struct {
	get   string // plain Flight DoGet of the dataset put with DoPut or ingested
	sql   string // SELECT v FROM the table, through ADBC
	param string // SELECT ? AS v with the column bound as the parameter
}

// TestClientTypesOnEveryPath sends each Arrow type client libraries produce through
// each upload path (plain Flight DoPut, Flight SQL bulk ingest through ADBC, bound
// parameters) and checks what comes back: plain Flight returns the type stored
// (views, dictionaries and run-end encoded columns as their plain values), SQL
// returns DuckDB's type, and a type Parquet cannot hold is refused with
// InvalidArgument naming the column and the type. clientTypeResults documents each.
func TestClientTypesOnEveryPath(t *testing.T) {
	srv := startServer(t)
	c := srv.client(t)
	conn := srv.adbcConn(t)
	ctx := context.Background()
	show := func(schema *arrow.Schema, vals []string) string {
		return fmt.Sprintf("%s %q", schema.Field(0).Type, vals)
	}
	for _, ct := range clientTypes() {
		t.Run(ct.name, func(t *testing.T) {
			want, ok := clientTypeResults[ct.name]
			rec := ct.record(t)
			var got clientTypeResult

			// Plain Flight DoPut, then DoGet and SQL.
			name := "put_" + ct.name
			if err := tryPut(ctx, c, name+".parquet", rec.Schema(), rec); err != nil {
				wantStatus(t, err, codes.InvalidArgument, `column "v"`, ct.dt.String(), "cannot be stored")
				got.get, got.sql = refused, refused
			} else {
				info, err := c.GetFlightInfo(ctx, pathDescriptor(name+".parquet"))
				if err != nil {
					t.Fatal(err)
				}
				schema, recs := getAll(t, c, info.Endpoint[0].Ticket)
				got.get = show(schema, valueStrings(recs))
				schema, recs, err = adbcQuery(t, conn, "SELECT v FROM "+name)
				if err != nil {
					t.Fatal(err)
				}
				got.sql = show(schema, valueStrings(recs))
			}

			// Bulk ingest gives what DoPut gives.
			table := "ing_" + ct.name
			if _, err := adbcIngest(t, conn, table, adbc.OptionValueIngestModeCreate, nil, rec); err != nil {
				if got.get != refused {
					t.Fatalf("ingest: %v; DoPut stored it", err)
				}
				if code := adbcCode(t, err); code != adbc.StatusInvalidArgument || !strings.Contains(err.Error(), `column "v"`) {
					t.Errorf("ingest refused with %v %v, want InvalidArgument naming column \"v\"", code, err)
				}
			} else {
				if got.get == refused {
					t.Fatalf("ingest stored what DoPut refused")
				}
				schema, recs := getAll(t, c, &flight.Ticket{Ticket: []byte(table + ".parquet")})
				if g := show(schema, valueStrings(recs)); g != got.get {
					t.Errorf("DoGet after ingest: %s; after DoPut: %s", g, got.get)
				}
				schema, recs, err := adbcQuery(t, conn, "SELECT v FROM "+table)
				if err != nil {
					t.Fatal(err)
				}
				if g := show(schema, valueStrings(recs)); g != got.sql {
					t.Errorf("SQL after ingest: %s; after DoPut: %s", g, got.sql)
				}
			}

			// The column as a bound parameter.
			schema, rows, err := adbcQueryWith(t, conn, "SELECT ? AS v", rec)
			if err != nil {
				if code := adbcCode(t, err); code != adbc.StatusInvalidArgument {
					t.Errorf("parameter refused with %v, want InvalidArgument", code)
				}
				got.param = refused
			} else {
				got.param = show(schema, rows)
			}
			if !ok || got != want {
				t.Errorf("got\n\t%q: {get: %q, sql: %q, param: %q},\nwant\n\t{get: %q, sql: %q, param: %q}",
					ct.name, got.get, got.sql, got.param, want.get, want.sql, want.param)
			}
		})
	}
}

// refused is a path's result for a type it does not take: InvalidArgument.
const refused = "refused"

// clientTypeResults is what comes back for each client type on each path.
var clientTypeResults = map[string]clientTypeResult{
	"string_view": {
		get:   `utf8 ["a" "a string longer than twelve bytes" "(null)"]`,
		sql:   `utf8 ["a" "a string longer than twelve bytes" "(null)"]`,
		param: `utf8 ["a" "a string longer than twelve bytes" "(null)"]`,
	},
	"binary_view": {
		get:   `binary ["AAEC" "YSBzdHJpbmcgbG9uZ2VyIHRoYW4gdHdlbHZlIGJ5dGVz" "(null)"]`,
		sql:   `binary ["AAEC" "YSBzdHJpbmcgbG9uZ2VyIHRoYW4gdHdlbHZlIGJ5dGVz" "(null)"]`,
		param: `binary ["AAEC" "YSBzdHJpbmcgbG9uZ2VyIHRoYW4gdHdlbHZlIGJ5dGVz" "(null)"]`,
	},
	"large_string": {
		get:   `large_utf8 ["a" "ü" "(null)"]`,
		sql:   `utf8 ["a" "ü" "(null)"]`,
		param: `utf8 ["a" "ü" "(null)"]`,
	},
	"large_binary": {
		get:   `large_binary ["AAEC" "" "(null)"]`,
		sql:   `binary ["AAEC" "" "(null)"]`,
		param: `binary ["AAEC" "" "(null)"]`,
	},
	"large_list": {
		get:   `large_list<element: int32, nullable> ["[1,2]" "[]" "(null)"]`,
		sql:   `list<l: int32, nullable> ["[1,2]" "[]" "(null)"]`,
		param: refused,
	},
	"list_view": {
		get:   `list<element: int32, nullable> ["[1,2]" "[]" "(null)"]`,
		sql:   `list<l: int32, nullable> ["[1,2]" "[]" "(null)"]`,
		param: refused,
	},
	"large_list_view": {
		get:   `large_list<element: int32, nullable> ["[1,2]" "[]" "(null)"]`,
		sql:   `list<l: int32, nullable> ["[1,2]" "[]" "(null)"]`,
		param: refused,
	},
	"fixed_size_list": {
		get:   `fixed_size_list<element: int32, nullable>[2] ["[1,2]" "[3,null]" "(null)"]`,
		sql:   `list<l: int32, nullable> ["[1,2]" "[3,null]" "(null)"]`,
		param: refused,
	},
	"dictionary": {
		get:   `utf8 ["red" "green" "red" "(null)"]`,
		sql:   `utf8 ["red" "green" "red" "(null)"]`,
		param: `utf8 ["red" "green" "red" "(null)"]`,
	},
	"dictionary_large_string": {
		get:   `large_utf8 ["red" "green" "red" "(null)"]`,
		sql:   `utf8 ["red" "green" "red" "(null)"]`,
		param: `utf8 ["red" "green" "red" "(null)"]`,
	},
	"dictionary_string_view": {
		get:   `utf8 ["red" "green" "red" "(null)"]`,
		sql:   `utf8 ["red" "green" "red" "(null)"]`,
		param: `utf8 ["red" "green" "red" "(null)"]`,
	},
	"dictionary_int64": {
		get:   `int64 ["7" "7" "-1" "(null)"]`,
		sql:   `int64 ["7" "7" "-1" "(null)"]`,
		param: `int64 ["7" "7" "-1" "(null)"]`,
	},
	"run_end_encoded": {
		get:   `utf8 ["a" "a" "b" "(null)"]`,
		sql:   `utf8 ["a" "a" "b" "(null)"]`,
		param: `utf8 ["a" "a" "b" "(null)"]`,
	},
	"run_end_encoded_int64": {
		get:   `float64 ["1.5" "1.5" "(null)" "2"]`,
		sql:   `float64 ["1.5" "1.5" "(null)" "2"]`,
		param: `float64 ["1.5" "1.5" "(null)" "2"]`,
	},
	"float16": {
		get:   `float16 ["1.5" "-0.25" "(null)"]`,
		sql:   `float32 ["1.5" "-0.25" "(null)"]`,
		param: `float32 ["1.5" "-0.25" "(null)"]`,
	},
	"time32_s": {
		get:   `time32[ms] ["13:45:30.000" "00:00:00.000" "(null)"]`,
		sql:   `time64[us] ["13:45:30.000000" "00:00:00.000000" "(null)"]`,
		param: `time64[us] ["13:45:30.000000" "00:00:00.000000" "(null)"]`,
	},
	"time32_ms": {
		get:   `time32[ms] ["13:45:30.123" "23:59:59.999" "(null)"]`,
		sql:   `time64[us] ["13:45:30.123000" "23:59:59.999000" "(null)"]`,
		param: `time64[us] ["13:45:30.123000" "23:59:59.999000" "(null)"]`,
	},
	"time64_us": {
		get:   `time64[us] ["13:45:30.123456" "00:00:00.000000" "(null)"]`,
		sql:   `time64[us] ["13:45:30.123456" "00:00:00.000000" "(null)"]`,
		param: `time64[us] ["13:45:30.123456" "00:00:00.000000" "(null)"]`,
	},
	"time64_ns": {
		get:   `time64[ns] ["13:45:30.123456789" "00:00:00.000000000" "(null)"]`,
		sql:   `time64[ns] ["13:45:30.123456789" "00:00:00.000000000" "(null)"]`,
		param: `time64[ns] ["13:45:30.123456789" "00:00:00.000000000" "(null)"]`,
	},
	"date32": {
		get:   `date32 ["2024-02-29" "1969-12-31" "(null)"]`,
		sql:   `date32 ["2024-02-29" "1969-12-31" "(null)"]`,
		param: `date32 ["2024-02-29" "1969-12-31" "(null)"]`,
	},
	"date64": {
		get:   `date32 ["2024-02-29" "1969-12-31" "(null)"]`,
		sql:   `date32 ["2024-02-29" "1969-12-31" "(null)"]`,
		param: `date32 ["2024-02-29" "1969-12-31" "(null)"]`,
	},
	"timestamp_s": {
		get:   `timestamp[ms] ["2024-02-29T13:45:30" "1969-12-31T23:59:59" "(null)"]`,
		sql:   `timestamp[us] ["2024-02-29T13:45:30" "1969-12-31T23:59:59" "(null)"]`,
		param: `timestamp[us] ["2024-02-29T13:45:30" "1969-12-31T23:59:59" "(null)"]`,
	},
	"timestamp_ms": {
		get:   `timestamp[ms] ["2024-02-29T13:45:30.123" "1969-12-31T23:59:59.999" "(null)"]`,
		sql:   `timestamp[us] ["2024-02-29T13:45:30.123" "1969-12-31T23:59:59.999" "(null)"]`,
		param: `timestamp[us] ["2024-02-29T13:45:30.123" "1969-12-31T23:59:59.999" "(null)"]`,
	},
	"timestamp_us": {
		get:   `timestamp[us] ["2024-02-29T13:45:30.123456" "1969-12-31T23:59:59.999999" "(null)"]`,
		sql:   `timestamp[us] ["2024-02-29T13:45:30.123456" "1969-12-31T23:59:59.999999" "(null)"]`,
		param: `timestamp[us] ["2024-02-29T13:45:30.123456" "1969-12-31T23:59:59.999999" "(null)"]`,
	},
	"timestamp_ns": {
		get:   `timestamp[ns] ["2024-02-29T13:45:30.123456789" "1969-12-31T23:59:59.999999999" "(null)"]`,
		sql:   `timestamp[ns] ["2024-02-29T13:45:30.123456789" "1969-12-31T23:59:59.999999999" "(null)"]`,
		param: `timestamp[ns] ["2024-02-29T13:45:30.123456789" "1969-12-31T23:59:59.999999999" "(null)"]`,
	},
	"timestamp_s_utc": {
		get:   `timestamp[ms, tz=UTC] ["2024-02-29T13:45:30Z" "1969-12-31T23:59:59Z" "(null)"]`,
		sql:   `timestamp[us, tz=Etc/UTC] ["2024-02-29T13:45:30Z" "1969-12-31T23:59:59Z" "(null)"]`,
		param: `timestamp[us, tz=Etc/UTC] ["2024-02-29T13:45:30Z" "1969-12-31T23:59:59Z" "(null)"]`,
	},
	"timestamp_ms_utc": {
		get:   `timestamp[ms, tz=UTC] ["2024-02-29T13:45:30Z" "1969-12-31T23:59:59Z" "(null)"]`,
		sql:   `timestamp[us, tz=Etc/UTC] ["2024-02-29T13:45:30Z" "1969-12-31T23:59:59Z" "(null)"]`,
		param: `timestamp[us, tz=Etc/UTC] ["2024-02-29T13:45:30Z" "1969-12-31T23:59:59Z" "(null)"]`,
	},
	"timestamp_us_utc": {
		get:   `timestamp[us, tz=UTC] ["2024-02-29T13:45:30Z" "1969-12-31T23:59:59Z" "(null)"]`,
		sql:   `timestamp[us, tz=Etc/UTC] ["2024-02-29T13:45:30Z" "1969-12-31T23:59:59Z" "(null)"]`,
		param: `timestamp[us, tz=Etc/UTC] ["2024-02-29T13:45:30Z" "1969-12-31T23:59:59Z" "(null)"]`,
	},
	"timestamp_ns_utc": {
		get:   `timestamp[ns, tz=UTC] ["2024-02-29T13:45:30Z" "1969-12-31T23:59:59Z" "(null)"]`,
		sql:   `timestamp[us, tz=Etc/UTC] ["2024-02-29T13:45:30Z" "1969-12-31T23:59:59Z" "(null)"]`,
		param: `timestamp[us, tz=Etc/UTC] ["2024-02-29T13:45:30Z" "1969-12-31T23:59:59Z" "(null)"]`,
	},
	"timestamp_us_new_york": {
		get:   `timestamp[us, tz=America/New_York] ["2024-02-29T08:45:30-05:00" "1969-12-31T18:59:59-05:00" "(null)"]`,
		sql:   `timestamp[us, tz=Etc/UTC] ["2024-02-29T13:45:30Z" "1969-12-31T23:59:59Z" "(null)"]`,
		param: `timestamp[us, tz=Etc/UTC] ["2024-02-29T13:45:30Z" "1969-12-31T23:59:59Z" "(null)"]`,
	},
	"timestamp_ns_offset": {
		get:   `timestamp[ns, tz=+01:00] ["2024-02-29T14:45:30+01:00" "1970-01-01T00:59:59+01:00" "(null)"]`,
		sql:   `timestamp[us, tz=Etc/UTC] ["2024-02-29T13:45:30Z" "1969-12-31T23:59:59Z" "(null)"]`,
		param: `timestamp[us, tz=Etc/UTC] ["2024-02-29T13:45:30Z" "1969-12-31T23:59:59Z" "(null)"]`,
	},
	"duration_s": {
		get:   `duration[s] ["1s" "-2s" "(null)"]`,
		sql:   `int64 ["1" "-2" "(null)"]`,
		param: `int64 ["1" "-2" "(null)"]`,
	},
	"duration_ms": {
		get:   `duration[ms] ["1ms" "-2ms" "(null)"]`,
		sql:   `int64 ["1" "-2" "(null)"]`,
		param: `int64 ["1" "-2" "(null)"]`,
	},
	"duration_us": {
		get:   `duration[us] ["1us" "-2us" "(null)"]`,
		sql:   `int64 ["1" "-2" "(null)"]`,
		param: `int64 ["1" "-2" "(null)"]`,
	},
	"duration_ns": {
		get:   `duration[ns] ["1ns" "-2ns" "(null)"]`,
		sql:   `int64 ["1" "-2" "(null)"]`,
		param: `int64 ["1" "-2" "(null)"]`,
	},
	"interval_month_day_nano": {
		get:   refused,
		sql:   refused,
		param: `month_day_nano_interval ["{\"months\":1,\"days\":2,\"nanoseconds\":3000}" "{\"months\":-1,\"days\":0,\"nanoseconds\":0}" "(null)"]`,
	},
	"interval_months": {
		get:   refused,
		sql:   refused,
		param: `month_day_nano_interval ["{\"months\":14,\"days\":0,\"nanoseconds\":0}" "{\"months\":-1,\"days\":0,\"nanoseconds\":0}" "(null)"]`,
	},
	"interval_day_time": {
		get:   refused,
		sql:   refused,
		param: `month_day_nano_interval ["{\"months\":0,\"days\":1,\"nanoseconds\":5000000}" "{\"months\":0,\"days\":0,\"nanoseconds\":-1000000}" "(null)"]`,
	},
	"decimal32": {
		get:   `decimal(7, 2) ["12345.67" "-0.01" "(null)"]`,
		sql:   `decimal(7, 2) ["12345.67" "-0.01" "(null)"]`,
		param: `decimal(7, 2) ["12345.67" "-0.01" "(null)"]`,
	},
	"decimal64": {
		get:   `decimal(15, 3) ["123456789012.345" "-0.001" "(null)"]`,
		sql:   `decimal(15, 3) ["123456789012.345" "-0.001" "(null)"]`,
		param: `decimal(15, 3) ["123456789012.345" "-0.001" "(null)"]`,
	},
	"decimal128": {
		get:   `decimal(38, 10) ["1234567890123456789012345678.0123456789" "-1e-10" "(null)"]`,
		sql:   `decimal(38, 10) ["1234567890123456789012345678.0123456789" "-1e-10" "(null)"]`,
		param: `decimal(38, 10) ["1234567890123456789012345678.0123456789" "-1e-10" "(null)"]`,
	},
	"decimal256_fits": {
		get:   `decimal256(20, 2) ["123456789012345678.9" "-0.01" "(null)"]`,
		sql:   `decimal(20, 2) ["123456789012345678.9" "-0.01" "(null)"]`,
		param: `decimal(20, 2) ["123456789012345678.9" "-0.01" "(null)"]`,
	},
	"decimal256_wide": {
		get:   `decimal256(50, 2) ["123456789012345678901234567890123456789012345678.9" "-0.01" "(null)"]`,
		sql:   `float64 ["2.07126121592655e+54" "-0.01" "(null)"]`,
		param: refused,
	},
	"null": {
		get:   `null ["(null)" "(null)" "(null)"]`,
		sql:   `int32 ["(null)" "(null)" "(null)"]`,
		param: `int32 ["(null)" "(null)" "(null)"]`,
	},
	"struct": {
		get:   `struct<s: utf8 nullable, h: float16 nullable> ["{\"h\":0.5,\"s\":\"x\"}" "{\"h\":null,\"s\":null}" "(null)"]`,
		sql:   `struct<s: utf8 nullable, h: float32 nullable> ["{\"h\":0.5,\"s\":\"x\"}" "{\"h\":null,\"s\":null}" "(null)"]`,
		param: refused,
	},
	"map": {
		get:   `map<utf8, large_list<element: utf8, nullable>, items_nullable> ["[{\"key\":\"k\",\"value\":[\"a\",null]}]" "[]" "(null)"]`,
		sql:   `map<utf8, list<l: utf8, nullable>, items_nullable> ["[{\"key\":\"k\",\"value\":[\"a\",null]}]" "[]" "(null)"]`,
		param: refused,
	},
	"list_of_views": {
		get:   `list<element: utf8, nullable> ["[\"a\",\"a string longer than twelve bytes\"]" "[null]" "(null)"]`,
		sql:   `list<l: utf8, nullable> ["[\"a\",\"a string longer than twelve bytes\"]" "[null]" "(null)"]`,
		param: refused,
	},
}

// TestClientTypeExpansionRefused: a dictionary-encoded upload whose values decode to
// more than a batch may hold (300 rows of one 1 MiB value, sent as 1 MiB) is refused
// with InvalidArgument saying to send smaller batches, and nothing is stored.
func TestClientTypeExpansionRefused(t *testing.T) {
	srv := startServer(t)
	c := srv.client(t)
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}
	vals, _, err := array.FromJSON(memory.DefaultAllocator, arrow.BinaryTypes.String, strings.NewReader(`["`+strings.Repeat("x", 1<<20)+`"]`))
	if err != nil {
		t.Fatal(err)
	}
	defer vals.Release()
	ib := array.NewInt16Builder(memory.DefaultAllocator)
	defer ib.Release()
	for range 300 {
		ib.Append(0)
	}
	idx := ib.NewArray()
	defer idx.Release()
	col := array.NewDictionaryArray(dt, idx, vals)
	defer col.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "big", Type: dt, Nullable: true}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{col}, int64(col.Len()))
	defer rec.Release()
	err = tryPut(context.Background(), c, "big.parquet", schema, rec)
	wantStatus(t, err, codes.InvalidArgument, `column "big"`, "send smaller batches")
	if names := listNames(t, c); len(names) != 0 {
		t.Errorf("datasets after a refused put: %v", names)
	}
	waitNoTempFiles(t, srv.Root)
}
