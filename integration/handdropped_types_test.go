package integration

import (
	"context"
	"database/sql"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	_ "github.com/duckdb/duckdb-go/v2"
	"google.golang.org/grpc/codes" // database/sql driver "duckdb", to write files as DuckDB does
)

// TestHandDroppedTypesThroughDoGet drops files with unsigned, duration and
// fixed-size-binary columns into the root, written as pyarrow and DuckDB write them,
// and reads each back through plain DoGet (which failed for durations: pqarrow cannot
// read the column its stored schema calls a duration) and through SQL.
func TestHandDroppedTypesThroughDoGet(t *testing.T) {
	skipOnS3(t, "writes files into the root directory with pyarrow and DuckDB's COPY, by path")
	srv := startServer(t)
	c := srv.client(t)
	cl := srv.sqlClient(t)
	ctx := context.Background()

	// As pyarrow writes pa.table({"u": uint64, "d": duration("ms"), "f": binary(4)}):
	// the duration is an INT64 column, "duration" only in the ARROW:schema key.
	writePyarrowDurations(t, filepath.Join(srv.Root, "pyarrow.parquet"))

	// As DuckDB writes UBIGINT, INTERVAL (FIXED_LEN_BYTE_ARRAY(12)) and UUID
	// (FIXED_LEN_BYTE_ARRAY(16)).
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := `COPY (SELECT 18446744073709551615::UBIGINT AS u, INTERVAL 3 DAY AS i,
		'00000000-0000-0000-0000-000000000001'::UUID AS g
		UNION ALL SELECT NULL, NULL, NULL) TO '` + filepath.Join(srv.Root, "duck.parquet") + `' (FORMAT parquet)`
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		dataset string
		types   []arrow.DataType
		first   []string // the first row's values, as ValueStr shows them
	}{
		{"pyarrow.parquet",
			[]arrow.DataType{arrow.PrimitiveTypes.Uint64, arrow.FixedWidthTypes.Duration_ms, &arrow.FixedSizeBinaryType{ByteWidth: 4}},
			[]string{"18446744073709551615", "1500ms", "AQIDBA=="}},
		{"duck.parquet",
			[]arrow.DataType{arrow.PrimitiveTypes.Uint64, &arrow.FixedSizeBinaryType{ByteWidth: 12}, extensions.NewUUIDType()},
			[]string{"18446744073709551615", "AAAAAAMAAAAAAAAA", "00000000-0000-0000-0000-000000000001"}},
	}
	for _, tc := range cases {
		t.Run(tc.dataset, func(t *testing.T) {
			stream, err := c.DoGet(ctx, &flight.Ticket{Ticket: []byte(tc.dataset)})
			if err != nil {
				t.Fatal(err)
			}
			rdr, err := flight.NewRecordReader(stream)
			if err != nil {
				t.Fatalf("DoGet %s: %v", tc.dataset, err)
			}
			defer rdr.Release()
			var rows int64
			for rdr.Next() {
				rec := rdr.RecordBatch()
				if rows == 0 {
					for i, want := range tc.types {
						col := rec.Column(i)
						if !arrow.TypeEqual(col.DataType(), want) {
							t.Errorf("DoGet column %q is %s, want %s", rec.ColumnName(i), col.DataType(), want)
						} else if got := col.ValueStr(0); got != tc.first[i] {
							t.Errorf("DoGet column %q row 0 = %s, want %s", rec.ColumnName(i), got, tc.first[i])
						}
						if !col.IsNull(1) {
							t.Errorf("DoGet column %q row 1 = %s, want null", rec.ColumnName(i), col.ValueStr(1))
						}
					}
				}
				rows += rec.NumRows()
			}
			if err := rdr.Err(); err != nil {
				t.Fatalf("DoGet %s: %v", tc.dataset, err)
			}
			if rows != 2 {
				t.Errorf("DoGet %s: %d rows, want 2", tc.dataset, rows)
			}

			table := tc.dataset[:len(tc.dataset)-len(".parquet")]
			n, err := countSQLRows(ctx, cl, "SELECT * FROM "+table)
			if err != nil || n != 2 {
				t.Errorf("SQL %s: %d rows, %v; want 2", table, n, err)
			}
		})
	}
}

// TestHandDroppedFileArrowCannotRead drops a file DuckDB wrote with a fixed-size
// ARRAY column holding a NULL, which pqarrow decodes into list offsets past its
// values: plain DoGet fails with FailedPrecondition naming the column, not with
// Internal "index out of range"; SQL, through DuckDB's own reader, serves it.
func TestHandDroppedFileArrowCannotRead(t *testing.T) {
	skipOnS3(t, "writes a file into the root directory with DuckDB's COPY, by path")
	srv := startServer(t)
	c := srv.client(t)
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := `COPY (SELECT [1, 2]::INTEGER[2] AS pair UNION ALL SELECT NULL) TO '` + filepath.Join(srv.Root, "arrays.parquet") + `' (FORMAT parquet)`
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
	_, err = tryGet(context.Background(), c, []byte("arrays.parquet"))
	wantStatus(t, err, codes.FailedPrecondition, `"arrays.parquet"`, `column "pair"`, "SQL")
	if n, err := countSQLRows(context.Background(), srv.sqlClient(t), "SELECT * FROM arrays"); err != nil || n != 2 {
		t.Errorf("SQL arrays: %d rows, %v; want 2", n, err)
	}
}

// writePyarrowDurations writes what pyarrow writes for one row of uint64 2^64-1,
// duration 1500 ms and fixed-size binary 01020304, then a row of nulls.
func writePyarrowDurations(t testing.TB, path string) {
	t.Helper()
	mem := memory.NewGoAllocator()
	announced := arrow.NewSchema([]arrow.Field{
		{Name: "u", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Duration_ms, Nullable: true},
		{Name: "f", Type: &arrow.FixedSizeBinaryType{ByteWidth: 4}, Nullable: true},
	}, nil)
	md := arrow.NewMetadata([]string{"ARROW:schema"},
		[]string{base64.StdEncoding.EncodeToString(flight.SerializeSchema(announced, mem))})
	stored := arrow.NewSchema([]arrow.Field{
		{Name: "u", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "d", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: &arrow.FixedSizeBinaryType{ByteWidth: 4}, Nullable: true},
	}, &md)
	b := array.NewRecordBuilder(mem, stored)
	defer b.Release()
	b.Field(0).(*array.Uint64Builder).AppendValues([]uint64{1<<64 - 1, 0}, []bool{true, false})
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{1500, 0}, []bool{true, false})
	b.Field(2).(*array.FixedSizeBinaryBuilder).AppendValues([][]byte{{1, 2, 3, 4}, nil}, []bool{true, false})
	rec := b.NewRecordBatch()
	defer rec.Release()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(stored, f, parquet.NewWriterProperties(), pqarrow.NewArrowWriterProperties())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// countSQLRows runs query through Flight SQL and counts the rows of its result.
func countSQLRows(ctx context.Context, cl *flightsql.Client, query string) (int64, error) {
	info, err := cl.Execute(ctx, query)
	if err != nil {
		return 0, err
	}
	rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		return 0, err
	}
	defer rdr.Release()
	var n int64
	for rdr.Next() {
		n += rdr.RecordBatch().NumRows()
	}
	return n, rdr.Err()
}
