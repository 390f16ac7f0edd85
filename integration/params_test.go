package integration

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-adbc/go/adbc"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// adbcQueryWith prepares sql, binds params (may be nil) and runs it with the ADBC Go
// driver, which checks each stream's schema against the FlightInfo's. It returns the
// result's schema, its rows as strings (one per row, columns joined by "|"), and
// the first error.
func adbcQueryWith(t testing.TB, conn adbc.Connection, sql string, params arrow.RecordBatch) (*arrow.Schema, []string, error) {
	t.Helper()
	ctx := context.Background()
	stmt, err := conn.NewStatement()
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	if err := stmt.SetSqlQuery(sql); err != nil {
		return nil, nil, err
	}
	if err := stmt.Prepare(ctx); err != nil {
		return nil, nil, err
	}
	if params != nil {
		if err := stmt.Bind(ctx, params); err != nil {
			return nil, nil, err
		}
	}
	rdr, _, err := stmt.ExecuteQuery(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer rdr.Release()
	var rows []string
	for rdr.Next() {
		rec := rdr.RecordBatch()
		for r := 0; r < int(rec.NumRows()); r++ {
			var cols []string
			for c := 0; c < int(rec.NumCols()); c++ {
				cols = append(cols, rec.Column(c).ValueStr(r))
			}
			rows = append(rows, strings.Join(cols, "|"))
		}
	}
	return rdr.Schema(), rows, rdr.Err()
}

// paramRecord is a parameter batch of one column of type dt with vals (nil = NULL).
func paramRecord(t testing.TB, dt arrow.DataType, vals ...any) arrow.RecordBatch {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{{Name: "p", Type: dt, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, v := range vals {
		switch v := v.(type) {
		case nil:
			b.Field(0).AppendNull()
		case string:
			b.Field(0).(*array.StringBuilder).Append(v)
		case float64:
			b.Field(0).(*array.Float64Builder).Append(v)
		case int64:
			b.Field(0).(*array.Int64Builder).Append(v)
		}
	}
	rec := b.NewRecordBatch()
	t.Cleanup(rec.Release)
	return rec
}

// TestADBCParameterTypesAResultColumn: where a result column's type comes from a
// parameter, the prepared statement's schema cannot say it before binding ("SELECT ?"
// is DuckDB's 'unknown: null'); after binding, the FlightInfo reports the type the
// stream has, or the ADBC driver rejects the stream as "inconsistent schema".
func TestADBCParameterTypesAResultColumn(t *testing.T) {
	srv := startServer(t)
	putNumbers(t, srv.client(t), "numbers.parquet", 3)
	conn := srv.adbcConn(t)
	utf8, f64 := arrow.BinaryTypes.String, arrow.PrimitiveTypes.Float64
	cases := []struct {
		name   string
		sql    string
		params arrow.RecordBatch
		typ    arrow.DataType // of the first result column
		rows   []string
	}{
		{"select list", "SELECT ? AS greeting", paramRecord(t, utf8, "hi"), utf8, []string{"hi"}},
		{"arithmetic", "SELECT id + ? AS n FROM numbers ORDER BY id", paramRecord(t, f64, 0.5), f64, []string{"0.5", "1.5", "2.5"}},
		{"typed before, widened by binding", "SELECT coalesce(id, ?) AS n FROM numbers WHERE id = 0", paramRecord(t, f64, 0.5), f64, []string{"0"}},
		{"rows share the first row's schema", "SELECT ? AS g", paramRecord(t, utf8, "a", nil, "c"), utf8, []string{"a", "(null)", "c"}},
		{"unaffected", "SELECT id FROM numbers WHERE name = ?", paramRecord(t, utf8, "n2"), arrow.PrimitiveTypes.Int64, []string{"2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			schema, rows, err := adbcQueryWith(t, conn, c.sql, c.params)
			if err != nil {
				t.Fatal(err)
			}
			if got := schema.Field(0).Type; !arrow.TypeEqual(got, c.typ) {
				t.Errorf("column type %s, want %s", got, c.typ)
			}
			if strings.Join(rows, ",") != strings.Join(c.rows, ",") {
				t.Errorf("rows %q, want %q", rows, c.rows)
			}
		})
	}

	// Parameter rows of different types for one column would change the column's type
	// mid-stream: refused, naming the column.
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{
		{Name: "p", Type: arrow.DenseUnionOf([]arrow.Field{
			{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
			{Name: "s", Type: utf8, Nullable: true},
		}, []arrow.UnionTypeCode{0, 1})},
	}, nil))
	defer b.Release()
	ub := b.Field(0).(*array.DenseUnionBuilder)
	ub.Append(0)
	ub.Child(0).(*array.Int64Builder).Append(1)
	ub.Append(1)
	ub.Child(1).(*array.StringBuilder).Append("x")
	mixed := b.NewRecordBatch()
	defer mixed.Release()
	_, _, err := adbcQueryWith(t, conn, "SELECT ? AS v", mixed)
	var ae adbc.Error
	if !errors.As(err, &ae) || ae.Code != adbc.StatusInvalidArgument || !strings.Contains(ae.Msg, `"v"`) {
		t.Fatalf("mixed parameter types: err %v, want InvalidArgument naming column \"v\"", err)
	}
}

// TestADBCQueryDuckDBFailsDoesNotBreakSQL: DuckDB 1.5.6 fails this statement with a
// VARCHAR bound (INTERNAL "Invalid PhysicalType for GetTypeIdSize", a bug of its C
// API), which used to invalidate the database: every later query of every client
// failed with FATAL until quiver restarted, and later cost a rebuild of every view.
// Now it fails alone as InvalidArgument saying how to write it: a query streaming on
// another connection meanwhile finishes, and later queries run.
func TestADBCQueryDuckDBFailsDoesNotBreakSQL(t *testing.T) {
	srv := startServer(t)
	putNumbers(t, srv.client(t), "numbers.parquet", 200000)
	ctx := context.Background()

	other := srv.adbcConn(t)
	stmt, err := other.NewStatement()
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	if err := stmt.SetSqlQuery("SELECT id FROM numbers"); err != nil {
		t.Fatal(err)
	}
	running, _, err := stmt.ExecuteQuery(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer running.Release()
	if !running.Next() {
		t.Fatal(running.Err())
	}
	read := running.RecordBatch().NumRows()

	conn := srv.adbcConn(t)
	_, _, err = adbcQueryWith(t, conn, "SELECT typeof($1) AS a, $1::VARCHAR AS b", paramRecord(t, arrow.BinaryTypes.String, "x"))
	var ae adbc.Error
	if !errors.As(err, &ae) || ae.Code != adbc.StatusInvalidArgument || !strings.Contains(ae.Msg, "GetTypeIdSize") ||
		!strings.Contains(ae.Msg, "cast it at its first use") {
		t.Fatalf("the statement DuckDB fails: err %v, want InvalidArgument with DuckDB's message and the way round it", err)
	}

	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, rows, err := adbcQueryWith(t, srv.adbcConn(t), "SELECT count(*) FROM numbers", nil)
			if err != nil || len(rows) != 1 || rows[0] != "200000" {
				t.Errorf("count after the failure: %v, %v", rows, err)
			}
		}()
	}
	wg.Wait()
	_, rows, err := adbcQueryWith(t, conn, "SELECT $1::VARCHAR AS b, typeof($1) AS a", paramRecord(t, arrow.BinaryTypes.String, "x"))
	if err != nil || len(rows) != 1 || rows[0] != "x|VARCHAR" {
		t.Fatalf("same connection, parameter typed first: %v, %v", rows, err)
	}

	for running.Next() {
		read += running.RecordBatch().NumRows()
	}
	if err := running.Err(); err != nil || read != 200000 {
		t.Fatalf("query streaming meanwhile: %d rows, err %v; want 200000", read, err)
	}
}
