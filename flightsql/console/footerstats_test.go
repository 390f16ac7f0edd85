package console

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver "duckdb", to write files as DuckDB does

	"github.com/quiverdata/quiver/catalog"
)

// allTypesSchema is every type Quiver promises (as integration/types_test.go) plus
// the timestamp units and a NaN-free float spread that prints in each of DuckDB's
// float forms.
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
		f("dec30", &arrow.Decimal128Type{Precision: 30, Scale: 5}),
		f("date", arrow.FixedWidthTypes.Date32),
		f("time", arrow.FixedWidthTypes.Time64us),
		f("ts", &arrow.TimestampType{Unit: arrow.Microsecond}),
		f("tstz", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}),
		f("tsms", &arrow.TimestampType{Unit: arrow.Millisecond}),
		f("tsns", &arrow.TimestampType{Unit: arrow.Nanosecond}),
		f("str", arrow.BinaryTypes.String),
		f("lstr", arrow.BinaryTypes.LargeString),
		f("bin", arrow.BinaryTypes.Binary),
		f("bin2", arrow.BinaryTypes.Binary),
		f("list", arrow.ListOfField(arrow.Field{Name: "element", Type: arrow.PrimitiveTypes.Int32, Nullable: true})),
		f("struct", arrow.StructOf(f("a", arrow.PrimitiveTypes.Int32), f("b", arrow.BinaryTypes.String))),
		f("map", arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int32)),
	}, nil)
}

// Two parts with different ranges, so the merge over parts matters; the last row of
// each is all nulls.
const allTypesPart1 = `[
{"bool": true, "i8": -8, "i16": -16, "i32": -32, "i64": -64, "u8": 8, "u16": 16, "u32": 32, "u64": 18446744073709551615,
 "f32": 1.5, "f64": -2.25, "dec": "12345.67", "dec30": "-1234567890123456789012.34567", "date": "2024-02-29", "time": "13:45:30.123456",
 "ts": "2024-02-29 13:45:30.123456", "tstz": "2024-02-29 13:45:30.123456Z", "tsms": "2024-02-29 13:45:30.120", "tsns": "2024-02-29 13:45:30.123456789",
 "str": "héllo", "lstr": "large", "bin": "AAEC", "bin2": "XFwnIkE=", "list": [1, 2, null], "struct": {"a": 1, "b": "x"},
 "map": [{"key": "k1", "value": 1}, {"key": "k2", "value": null}]},
{"bool": true, "i8": 127, "i16": 32767, "i32": 2147483647, "i64": 9223372036854775807, "u8": 255, "u16": 65535, "u32": 4294967295, "u64": 0,
 "f32": -0.125, "f64": 1e300, "dec": "-0.01", "dec30": "0.00001", "date": "1970-01-01", "time": "00:00:00",
 "ts": "1900-01-01 00:00:00", "tstz": "2262-04-11 23:47:16.854775Z", "tsms": "1969-12-31 23:59:59.999", "tsns": "1970-01-01 00:00:00",
 "str": "", "lstr": "", "bin": "XFwn", "bin2": "QSB+", "list": [], "struct": {"a": null, "b": null}, "map": []},
{}
]`

const allTypesPart2 = `[
{"bool": false, "i8": -128, "i16": -32768, "i32": -2147483648, "i64": -9223372036854775808, "u8": 0, "u16": 0, "u32": 0, "u64": 9223372036854775808,
 "f32": 3.4028235e38, "f64": 1e-7, "dec": "99999999.99", "dec30": "9999999999999999999999999.99999", "date": "0001-01-01", "time": "23:59:59.999999",
 "ts": "9999-12-31 23:59:59.999999", "tstz": "1677-09-21 00:12:43.145225Z", "tsms": "2000-01-01 00:00:00.001", "tsns": "2262-04-11 23:47:16.854775807",
 "str": "zzz", "lstr": "a", "bin": "/w==", "bin2": "Ig==", "list": [3], "struct": {"a": 2, "b": "y"}, "map": []},
{"f64": 123456789012345680, "f32": 100}
]`

func putJSON(t *testing.T, store *catalog.Store, name string, mode catalog.PutMode, schema *arrow.Schema, js string) {
	t.Helper()
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, schema, strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	rdr, err := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	if _, err := store.Put(context.Background(), name, mode, rdr); err != nil {
		t.Fatal(err)
	}
}

// sqlStats is what the console answered before it read footers: one full scan,
// min(c)::VARCHAR and max(c)::VARCHAR as DuckDB prints them.
func sqlStats(t *testing.T, e *env, table string, schema *arrow.Schema) map[string][3]string {
	t.Helper()
	var sel []string
	var names []string
	for _, f := range schema.Fields() {
		if nested(f.Type) {
			continue
		}
		c := quoteIdent(f.Name)
		sel = append(sel, "(count(*) - count("+c+"))::VARCHAR", "min("+c+")::VARCHAR", "max("+c+")::VARCHAR")
		names = append(names, f.Name)
	}
	res, err := e.console.run(context.Background(), "test", "SELECT "+strings.Join(sel, ", ")+" FROM "+quoteIdent(table))
	if err != nil {
		t.Fatal(err)
	}
	defer res.close()
	rec, err := res.next()
	if err != nil || rec == nil {
		t.Fatalf("%v %v", rec, err)
	}
	out := map[string][3]string{}
	for i, n := range names {
		out[n] = [3]string{strings.Clone(textValue(rec.Column(3*i), 0)), strings.Clone(textValue(rec.Column(3*i+1), 0)), strings.Clone(textValue(rec.Column(3*i+2), 0))}
	}
	return out
}

// TestFooterStatsMatchScan: for every flat type, the footers' nulls, min and max,
// merged over two parts, print exactly what the full scan printed.
func TestFooterStatsMatchScan(t *testing.T) {
	e := newEnv(t, envOptions{})
	schema := allTypesSchema()
	putJSON(t, e.store, "alltypes.parquet", catalog.Create, schema, allTypesPart1)
	putJSON(t, e.store, "alltypes.parquet", catalog.Append, schema, allTypesPart2)
	var d datasetDetail
	r := e.client().do("GET", "/api/datasets/alltypes.parquet", "")
	if r.status != 200 {
		t.Fatalf("describe: %d %s", r.status, r.body)
	}
	decode(t, r, &d)
	if d.Parts != 2 || d.Rows != 5 {
		t.Fatalf("parts %d rows %d", d.Parts, d.Rows)
	}
	want := sqlStats(t, e, "alltypes", schema)
	str := func(p *string) string {
		if p == nil {
			return "<unknown>"
		}
		return *p
	}
	for i, st := range d.Stats {
		col := d.Schema[i]
		w, flat := want[st.Column]
		if !flat {
			if st.Nulls != nil || st.Min != nil || st.Max != nil || st.DistinctEstimate != nil {
				t.Errorf("nested %s (%s): %s, want all unknown", st.Column, col.Type, mustJSON(st))
			}
			continue
		}
		got := [3]string{"<unknown>", str(st.Min), str(st.Max)}
		if st.Nulls != nil {
			got[0] = fmt.Sprint(*st.Nulls)
		}
		if got != w {
			t.Errorf("%s (%s): footers say %q, the scan %q", st.Column, col.Type, got, w)
		}
		if st.DistinctEstimate == nil || st.DistinctSampleRows == nil || *st.DistinctSampleRows != 5 {
			t.Errorf("%s: distinct %s", st.Column, mustJSON(st))
		}
	}
}

// dropParquet writes a Parquet file straight into the store's root, as a user
// dropping a file there would, in row groups of two rows.
func dropParquet(t *testing.T, e *env, name string, schema *arrow.Schema, js string, props ...parquet.WriterProperty) {
	t.Helper()
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, schema, strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	dropRecord(t, e, name, rec, props...)
}

func dropRecord(t *testing.T, e *env, name string, rec arrow.RecordBatch, props ...parquet.WriterProperty) {
	t.Helper()
	schema := rec.Schema()
	f, err := os.Create(filepath.Join(e.store.Root(), name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
	defer tbl.Release()
	if err := pqarrow.WriteTable(tbl, f, 2, parquet.NewWriterProperties(props...), pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
}

func describe(t *testing.T, e *env, name string) datasetDetail {
	t.Helper()
	var d datasetDetail
	r := e.client().do("GET", "/api/datasets/"+name, "")
	if r.status != 200 {
		t.Fatalf("describe %s: %d %s", name, r.status, r.body)
	}
	decode(t, r, &d)
	return d
}

// TestFooterStatsUnknown: where footers lack a statistic, or hold one that cannot be
// trusted, the answer is null, never a wrong value or a scan.
func TestFooterStatsUnknown(t *testing.T) {
	e := newEnv(t, envOptions{})
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	const rows = `[{"n": 5, "s": "b", "f": 1}, {"n": null, "s": "a", "f": 2}, {"n": -3, "s": null, "f": null}, {"n": 9, "s": "c", "f": 0.5}, {"n": null, "s": null, "f": null}]`

	// Written without statistics: nothing is known but the distinct sample.
	dropParquet(t, e, "nostats.parquet", schema, rows, parquet.WithStats(false))
	for _, st := range describe(t, e, "nostats.parquet").Stats {
		if st.Nulls != nil || st.Min != nil || st.Max != nil || st.DistinctEstimate == nil {
			t.Errorf("no statistics written, %s: %s", st.Column, mustJSON(st))
		}
	}

	// A writer that may truncate string statistics: numbers are known, strings not.
	dropParquet(t, e, "rs.parquet", schema, rows, parquet.WithStats(true), parquet.WithCreatedBy("parquet-rs version 53.0.0"))
	d := describe(t, e, "rs.parquet")
	if n := d.Stats[0]; n.Nulls == nil || *n.Nulls != 2 || n.Min == nil || *n.Min != "-3" || *n.Max != "9" {
		t.Errorf("n merged over three row groups: %s", mustJSON(n))
	}
	if s := d.Stats[1]; s.Nulls == nil || *s.Nulls != 2 || s.Min != nil || s.Max != nil {
		t.Errorf("s from an untrusted writer: %s", mustJSON(s))
	}

	// The same from our own writer: a row group of nulls only changes neither bound.
	dropParquet(t, e, "ours.parquet", schema, rows, parquet.WithStats(true))
	d = describe(t, e, "ours.parquet")
	if s := d.Stats[1]; s.Min == nil || *s.Min != "a" || *s.Max != "c" {
		t.Errorf("s: %s", mustJSON(s))
	}
	if f := d.Stats[2]; f.Nulls == nil || *f.Nulls != 2 || f.Min == nil || *f.Min != "0.5" || *f.Max != "2.0" {
		t.Errorf("f: %s", mustJSON(f))
	}

	// A zero bound is stored as -0.0 (min) or +0.0 (max); it prints as DuckDB prints 0.
	dropParquet(t, e, "zero.parquet", schema, `[{"n": 1, "f": 0}, {"n": 2, "f": 3}, {"n": 3, "f": -1}, {"n": 4, "f": 0}]`)
	d = describe(t, e, "zero.parquet")
	if f := d.Stats[2]; f.Min == nil || *f.Min != "-1.0" || *f.Max != "3.0" {
		t.Errorf("f with zeros: %s", mustJSON(f))
	}
	dropParquet(t, e, "zeros.parquet", schema, `[{"n": 1, "f": 0}, {"n": 2, "f": 0}]`)
	if f := describe(t, e, "zeros.parquet").Stats[2]; f.Min == nil || *f.Min != "0.0" || *f.Max != "0.0" {
		t.Errorf("f of zeros: %s", mustJSON(f))
	}

	// Names that a lookup by name would confuse: a dotted name, a duplicate that
	// DuckDB renames. Each column keeps its own statistics or none.
	odd := arrow.NewSchema([]arrow.Field{
		{Name: "x.y", Type: arrow.PrimitiveTypes.Int64},
		{Name: "a", Type: arrow.PrimitiveTypes.Int64},
		{Name: "a", Type: arrow.PrimitiveTypes.Int64},
		{Name: "a_1", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	ob := array.NewRecordBuilder(memory.DefaultAllocator, odd)
	defer ob.Release()
	for i, base := range []int64{1, 10, 100, 1000} {
		ob.Field(i).(*array.Int64Builder).AppendValues([]int64{base, 2 * base}, nil)
	}
	oddRec := ob.NewRecordBatch()
	defer oddRec.Release()
	dropRecord(t, e, "odd.parquet", oddRec)
	d = describe(t, e, "odd.parquet")
	for i, st := range d.Stats {
		if st.Min == nil {
			continue
		}
		if want := []string{"1", "10", "100", "1000"}[i]; *st.Min != want {
			t.Errorf("odd names: column %d %q has min %s, want %s or unknown: %s", i, st.Column, *st.Min, want, mustJSON(d.Stats))
		}
	}
	if d.Stats[0].Min == nil || *d.Stats[0].Min != "1" {
		t.Errorf("dotted name: %s", mustJSON(d.Stats[0]))
	}

	// Only some columns with statistics: each column stands on its own.
	dropParquet(t, e, "some.parquet", schema, rows, parquet.WithStats(false), parquet.WithStatsFor("n", true))
	d = describe(t, e, "some.parquet")
	if n, s := d.Stats[0], d.Stats[1]; n.Min == nil || *n.Min != "-3" || s.Min != nil || s.Nulls != nil {
		t.Errorf("partial statistics: %s", mustJSON(d.Stats))
	}
}

// TestDuckFloat: floats print as DuckDB's CAST(x AS VARCHAR) prints them, around
// every switch between plain and exponent forms.
func TestDuckFloat(t *testing.T) {
	e := newEnv(t, envOptions{})
	doubles := []float64{0, math.Copysign(0, -1), 0.5, -2.25, 100, 1234567, 1e15, 1e16, 1e17, 123456789012345680,
		1e20, 1e21, 1e22, 0.001, 0.0001, 1e-5, 1.5e-7, 1e300, -1e-300, math.MaxFloat64, math.SmallestNonzeroFloat64, 0.1, 1.0 / 3, math.Inf(1), math.Inf(-1)}
	floats := []float32{0, 1.5, 100, 1234567, 16777216, 1e10, 3.4028235e38, 1e-45, 0.1, 1e-5, 123456.7}
	var sel []string
	for _, f := range doubles {
		lit := strconv.FormatFloat(f, 'g', -1, 64)
		if math.IsInf(f, 0) {
			lit = "'" + strings.TrimPrefix(strings.ToLower(lit), "+") + "'"
		}
		sel = append(sel, fmt.Sprintf("(%s::DOUBLE)::VARCHAR", lit))
	}
	for _, f := range floats {
		sel = append(sel, fmt.Sprintf("(%s::FLOAT)::VARCHAR", strconv.FormatFloat(float64(f), 'g', -1, 32)))
	}
	res, err := e.console.run(context.Background(), "test", "SELECT "+strings.Join(sel, ", "))
	if err != nil {
		t.Fatal(err)
	}
	defer res.close()
	rec, err := res.next()
	if err != nil || rec == nil {
		t.Fatalf("%v %v", rec, err)
	}
	for i, f := range doubles {
		if got, want := duckFloat(f, false), textValue(rec.Column(i), 0); got != want {
			t.Errorf("DOUBLE %v: %q, DuckDB %q", f, got, want)
		}
	}
	for i, f := range floats {
		if got, want := duckFloat(float64(f), true), textValue(rec.Column(len(doubles)+i), 0); got != want {
			t.Errorf("FLOAT %v: %q, DuckDB %q", f, got, want)
		}
	}
}

// TestFooterStatsDuckDBWriter: a file DuckDB wrote (in row groups of two rows) and
// dropped into the root: every statistic the footers give prints what the full scan
// prints, and the plain types are all known.
func TestFooterStatsDuckDBWriter(t *testing.T) {
	e := newEnv(t, envOptions{})
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := `COPY (SELECT * FROM (VALUES
		(true, -8::TINYINT, -16::SMALLINT, -32, -64::BIGINT, 200::UTINYINT, 60000::USMALLINT, 4000000000::UINTEGER, 18446744073709551615::UBIGINT,
		 1.5::FLOAT, -2.25::DOUBLE, 123.4::DECIMAL(4,1), -123456789012.345::DECIMAL(18,3), 12345678901234567890.0123456789::DECIMAL(38,10),
		 DATE '2024-02-29', TIME '13:45:30.123456', TIMESTAMP '2024-02-29 13:45:30.123456', TIMESTAMPTZ '2024-02-29 13:45:30.123456+00',
		 '2024-02-29 13:45:30.123456789'::TIMESTAMP_NS, '2024-02-29 13:45:30.12'::TIMESTAMP_MS, '2024-02-29 13:45:30'::TIMESTAMP_S,
		 'héllo', '\xAB\x00zz'::BLOB, uuid '00000000-0000-0000-0000-000000000001', INTERVAL 3 DAY, [1, 2], {'a': 1}),
		(false, 127::TINYINT, 32767::SMALLINT, 2147483647, 9223372036854775807::BIGINT, 0::UTINYINT, 0::USMALLINT, 0::UINTEGER, 5::UBIGINT,
		 -0.125::FLOAT, 1e300::DOUBLE, -0.5::DECIMAL(4,1), 0.001::DECIMAL(18,3), -0.0000000001::DECIMAL(38,10),
		 DATE '1970-01-01', TIME '00:00:00', TIMESTAMP '1900-01-01 00:00:00', TIMESTAMPTZ '1970-01-01 00:00:00+00',
		 '1970-01-01 00:00:00.000000001'::TIMESTAMP_NS, '1969-12-31 23:59:59.999'::TIMESTAMP_MS, '2100-01-01 00:00:01'::TIMESTAMP_S,
		 '', ''::BLOB, uuid 'ffffffff-0000-0000-0000-000000000000', INTERVAL 1 SECOND, [], {'a': NULL}),
		(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
		) t(bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, dec4, dec18, dec38, date, time, ts, tstz, tsns, tsms, tss,
		    str, bin, uuid, iv, list, struct))
		TO '` + filepath.Join(e.store.Root(), "duck.parquet") + `' (FORMAT parquet, ROW_GROUP_SIZE 2)`
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
	d := describe(t, e, "duck.parquet")
	var flat []arrow.Field
	for _, c := range d.Schema {
		if !strings.Contains(c.Type, "[]") && !strings.HasPrefix(c.Type, "STRUCT") {
			flat = append(flat, arrow.Field{Name: c.Name, Type: arrow.PrimitiveTypes.Int64})
		}
	}
	want := sqlStats(t, e, "duck", arrow.NewSchema(flat, nil))
	// DuckDB writes UUID and INTERVAL as FIXED_LEN_BYTE_ARRAY: the interval's sort
	// order is undefined, so its chunk statistics are ignored, nulls included.
	mayBeUnknown := map[string]bool{"uuid": true, "iv": true}
	for i, st := range d.Stats {
		w, ok := want[st.Column]
		if !ok {
			continue
		}
		typ := d.Schema[i].Type
		if (st.Nulls == nil && !mayBeUnknown[st.Column]) || (st.Nulls != nil && fmt.Sprint(*st.Nulls) != w[0]) {
			t.Errorf("%s (%s): nulls %s, the scan %s", st.Column, typ, mustJSON(st.Nulls), w[0])
		}
		if st.Min == nil || st.Max == nil {
			if !mayBeUnknown[st.Column] {
				t.Errorf("%s (%s): min and max unknown, the scan %q", st.Column, typ, w[1:])
			}
			continue
		}
		if *st.Min != w[1] || *st.Max != w[2] {
			t.Errorf("%s (%s): footers say %q %q, the scan %q", st.Column, typ, *st.Min, *st.Max, w[1:])
		}
	}
}

// TestFooterStatsCorruptPart: a part whose footer cannot be read is an error naming
// the part (describe then shows the statistics as unknown), never a panic.
func TestFooterStatsCorruptPart(t *testing.T) {
	dir := t.TempDir()
	fields := []arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}
	for name, body := range map[string][]byte{
		"empty.parquet":      {},
		"magic.parquet":      []byte("PAR1PAR1"),
		"bad-footer.parquet": append([]byte("PAR1\x01\x02\x03\x04\x05\x06\x07\x08"), []byte("\x08\x00\x00\x00PAR1")...),
		"huge-len.parquet":   append([]byte("PAR1"), []byte("\xff\xff\xff\x7fPAR1")...),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = footerStats(context.Background(), []footerPart{{name: name, r: f}}, fields)
		f.Close()
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err %v, want one naming the part", name, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := footerStats(ctx, []footerPart{{name: "never read"}}, fields); err != context.Canceled {
		t.Errorf("cancelled: %v", err)
	}
}
