package console

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// putTypes stores types.parquet: a column of each kind the console writes
// differently (nested, temporal, decimal, binary, boolean).
func putTypes(t *testing.T, e *env) {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "price", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
		{Name: "raw", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "point", Type: arrow.StructOf(arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true}), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.BooleanBuilder).AppendValues([]bool{true, false}, nil)
	b.Field(1).(*array.Date32Builder).AppendValues([]arrow.Date32{19782, 0}, nil)
	b.Field(2).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1_700_000_000_000_000, 0}, nil)
	b.Field(3).(*array.Decimal128Builder).AppendValues([]decimal128.Num{decimal128.FromI64(12345), decimal128.FromI64(-5)}, nil)
	b.Field(4).(*array.BinaryBuilder).AppendValues([][]byte{{0xAB, 0x00}, nil}, []bool{true, false})
	lb := b.Field(5).(*array.ListBuilder)
	lb.Append(true)
	lb.ValueBuilder().(*array.StringBuilder).AppendValues([]string{"a", "b"}, nil)
	lb.AppendNull()
	sb := b.Field(6).(*array.StructBuilder)
	sb.Append(true)
	sb.FieldBuilder(0).(*array.Float64Builder).Append(1.5)
	sb.AppendNull()
	rec := b.NewRecordBatch()
	defer rec.Release()
	put(t, e.store, "types.parquet", rec)
}

func TestTypesDescribeAndDownload(t *testing.T) {
	e := newEnv(t, envOptions{})
	putTypes(t, e)
	c := e.client()
	var d datasetDetail
	r := c.do("GET", "/api/datasets/types.parquet", "")
	if r.status != 200 {
		t.Fatalf("describe: %d %s", r.status, r.body)
	}
	decode(t, r, &d)
	var types []string
	for _, col := range d.Schema {
		types = append(types, col.Type)
	}
	if got := strings.Join(types, ","); got != `BOOLEAN,DATE,TIMESTAMP WITH TIME ZONE,DECIMAL(10,2),BLOB,VARCHAR[],STRUCT("x" DOUBLE)` {
		t.Fatalf("types %s", got)
	}
	if len(d.Stats) != 7 {
		t.Fatalf("stats %s", mustJSON(d.Stats))
	}
	day, tags := d.Stats[1], d.Stats[5]
	if day.Min == nil || *day.Min != "1970-01-01" || *day.Max != "2024-02-29" || day.Nulls == nil || *day.Nulls != 0 {
		t.Fatalf("day stats %s", mustJSON(day))
	}
	if tags.Nulls != nil || tags.Min != nil || tags.DistinctEstimate != nil {
		t.Fatalf("nested column stats %s", mustJSON(tags))
	}
	if raw := d.Stats[4]; raw.Nulls == nil || *raw.Nulls != 1 {
		t.Fatalf("raw stats %s", mustJSON(raw))
	}
	r = c.do("GET", "/api/datasets/types.parquet/rows", "")
	if r.status != 200 {
		t.Fatalf("rows: %d %s", r.status, r.body)
	}
	want := `[[true,"2024-02-29","2023-11-14T22:13:20Z","123.45","qwA=",["a","b"],{"x":1.5}],[false,"1970-01-01","1970-01-01T00:00:00Z","-0.05",null,null,null]]`
	if !strings.Contains(string(r.body), `"rows":`+want) {
		t.Fatalf("rows %s\nwant %s", r.body, want)
	}
	for _, f := range []string{"csv", "arrow", "parquet"} {
		r := c.do("POST", "/api/query?format="+f, `{"sql":"SELECT * FROM types"}`)
		if r.status != 200 || len(r.body) == 0 {
			t.Fatalf("%s download: %d %s", f, r.status, r.body)
		}
	}
	csvRows := queryRowsCSV(t, c, "SELECT * FROM types")
	if csvRows[1] != `true,2024-02-29,2023-11-14T22:13:20Z,123.45,qwA=,"[""a"",""b""]","{""x"":1.5}"` {
		t.Fatalf("CSV row %q", csvRows[1])
	}
}

func queryRowsCSV(t *testing.T, c *client, sql string) []string {
	t.Helper()
	r := c.do("POST", "/api/query?format=csv", `{"sql":"`+sql+`"}`)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	return strings.Split(strings.TrimSpace(string(r.body)), "\n")
}
