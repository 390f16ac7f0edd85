package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// putNumbers stores a dataset with columns id (int64) and name (string): rows
// (i, "n<i>") for i in [0, n).
func putNumbers(t testing.TB, c flight.Client, name string, n int) {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := 0; i < n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("n%d", i))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	putRecords(t, c, name, schema, rec)
}

// int64s flattens column col of recs.
func int64s(recs []arrow.RecordBatch, col int) []int64 {
	var out []int64
	for _, r := range recs {
		out = append(out, r.Column(col).(*array.Int64).Int64Values()...)
	}
	return out
}

func TestADBCPreparedStatementWithParameters(t *testing.T) {
	srv := startServer(t)
	putNumbers(t, srv.client(t), "numbers.parquet", 100)
	conn := srv.adbcConn(t)
	ctx := context.Background()

	stmt, err := conn.NewStatement()
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	if err := stmt.SetSqlQuery("SELECT id, name FROM numbers WHERE id = ? OR name = ? ORDER BY id"); err != nil {
		t.Fatal(err)
	}
	if err := stmt.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	params, err := stmt.GetParameterSchema()
	if err != nil {
		t.Fatal(err)
	}
	if params.NumFields() != 2 {
		t.Fatalf("parameter schema = %s, want 2 parameters", params)
	}

	// Two parameter rows: the query runs once per row, results concatenated.
	pschema := arrow.NewSchema([]arrow.Field{
		{Name: "p1", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "p2", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, pschema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{7, 40}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"n3", "none"}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	if err := stmt.Bind(ctx, rec); err != nil {
		t.Fatal(err)
	}
	rdr, _, err := stmt.ExecuteQuery(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	var got []int64
	for rdr.Next() {
		got = append(got, rdr.RecordBatch().Column(0).(*array.Int64).Int64Values()...)
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []int64{3, 7, 40}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("prepared query with rows (7,'n3') and (40,'none') = %v, want %v", got, want)
	}
}

func TestSQLSchemaWithoutRunning(t *testing.T) {
	srv := startServer(t)
	putNumbers(t, srv.client(t), "numbers.parquet", 10)
	c := srv.sqlClient(t)
	ctx := context.Background()

	info, err := c.Execute(ctx, "SELECT id * 2 AS doubled, name FROM numbers")
	if err != nil {
		t.Fatal(err)
	}
	schema, err := flight.DeserializeSchema(info.Schema, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	if schema.NumFields() != 2 || schema.Field(0).Name != "doubled" || schema.Field(0).Type.ID() != arrow.INT64 ||
		schema.Field(1).Name != "name" || schema.Field(1).Type.ID() != arrow.STRING {
		t.Errorf("FlightInfo schema = %s, want doubled: int64, name: utf8", schema)
	}
	if info.TotalRecords != -1 {
		t.Errorf("total_records = %d, want -1 (unknown before the query runs)", info.TotalRecords)
	}
	res, err := c.GetExecuteSchema(ctx, "SELECT name FROM numbers")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := flight.DeserializeSchema(res.Schema, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	if s2.NumFields() != 1 || s2.Field(0).Name != "name" {
		t.Errorf("GetSchema = %s, want name", s2)
	}
	rdr, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	var n int64
	for rdr.Next() {
		n += rdr.RecordBatch().NumRows()
	}
	if err := rdr.Err(); err != nil || n != 10 {
		t.Errorf("DoGet rows = %d, err %v; want 10", n, err)
	}
}

func TestPlainFlightPutIsQueryableAtOnceAndReplaceIsSeen(t *testing.T) {
	srv := startServer(t)
	fc := srv.client(t)
	conn := srv.adbcConn(t)
	putNumbers(t, fc, "numbers.parquet", 10)
	_, recs, err := adbcQuery(t, conn, "SELECT count(*)::BIGINT FROM numbers")
	if err != nil || int64s(recs, 0)[0] != 10 {
		t.Fatalf("count = %v, err %v; want 10", int64s(recs, 0), err)
	}
	putNumbers(t, fc, "numbers.parquet", 25)
	_, recs, err = adbcQuery(t, conn, "SELECT count(*)::BIGINT FROM numbers")
	if err != nil || int64s(recs, 0)[0] != 25 {
		t.Fatalf("count after replace = %v, err %v; want 25", int64s(recs, 0), err)
	}
	if _, err := fc.DoAction(context.Background(), &flight.Action{Type: "drop_dataset", Body: []byte("numbers.parquet")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, err := srv.Store.Stat(context.Background(), "numbers.parquet"); return err != nil })
	if _, _, err := adbcQuery(t, conn, "SELECT count(*) FROM numbers"); err == nil {
		t.Fatal("query of a dropped dataset succeeded")
	}
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSandboxRefusalsThroughClients(t *testing.T) {
	srv := startServer(t)
	putNumbers(t, srv.client(t), "numbers.parquet", 10)
	conn := srv.adbcConn(t)
	c := srv.sqlClient(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.csv"), []byte("a\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		sql  string
		code codes.Code
		says string // the error names this
	}{
		{"copy into root", "COPY (SELECT * FROM numbers) TO '" + filepath.Join(srv.Root, "x.parquet") + "' (FORMAT parquet)", codes.PermissionDenied, "COPY"},
		{"copy outside", "COPY numbers TO '" + filepath.Join(outside, "y.csv") + "'", codes.PermissionDenied, "COPY"},
		{"insert", "INSERT INTO numbers VALUES (1, 'x')", codes.PermissionDenied, "INSERT"},
		{"create table", "CREATE TABLE t AS SELECT 1", codes.PermissionDenied, "CREATE"},
		{"create view", "CREATE OR REPLACE VIEW numbers AS SELECT 1", codes.PermissionDenied, "CREATE"},
		{"drop view", "DROP VIEW numbers", codes.PermissionDenied, "DROP"},
		{"attach", "ATTACH '" + filepath.Join(outside, "db.duckdb") + "' AS other", codes.PermissionDenied, "ATTACH"},
		{"set", "SET enable_external_access = true", codes.PermissionDenied, "SET"},
		{"install", "INSTALL httpfs", codes.PermissionDenied, "INSTALL"},
		{"load", "LOAD httpfs", codes.PermissionDenied, "LOAD"},
		{"two statements", "SELECT 1; COPY numbers TO '" + filepath.Join(srv.Root, "z.csv") + "'", codes.PermissionDenied, "statements"},
		{"read outside root", "SELECT * FROM read_csv('" + filepath.Join(outside, "secret.csv") + "')", codes.PermissionDenied, ""},
		{"read /etc/passwd", "SELECT * FROM read_csv('/etc/passwd')", codes.PermissionDenied, ""},
		{"traversal", "SELECT * FROM read_parquet('" + srv.Root + "/../x.parquet')", codes.PermissionDenied, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := adbcQuery(t, conn, tc.sql)
			if err == nil {
				t.Fatalf("ADBC ran %q", tc.sql)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("ADBC error %q does not name %q", err, tc.says)
			}
			_, err = c.Execute(context.Background(), tc.sql)
			if got := status.Code(err); got != tc.code && !(tc.code == codes.PermissionDenied && got == codes.InvalidArgument && tc.says == "") {
				t.Errorf("Flight SQL client: code %v (%v), want %v", got, err, tc.code)
			}
		})
	}
	// Nothing was written anywhere.
	for _, dir := range []string{srv.Root, outside} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.Name() != "numbers.parquet" && e.Name() != "secret.csv" {
				t.Errorf("sandbox let %s be written in %s", e.Name(), dir)
			}
		}
	}
	// Still serving.
	if _, recs, err := adbcQuery(t, conn, "SELECT count(*)::BIGINT FROM numbers"); err != nil || int64s(recs, 0)[0] != 10 {
		t.Fatalf("after refusals: %v %v", int64s(recs, 0), err)
	}
}

func TestSQLUpdatesAreRefused(t *testing.T) {
	srv := startServer(t)
	c := srv.sqlClient(t)
	_, err := c.ExecuteUpdate(context.Background(), "DELETE FROM numbers")
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("ExecuteUpdate: %v, want PermissionDenied saying read-only", err)
	}
}

// slowQuery runs for many seconds in DuckDB unless interrupted.
const slowQuery = "SELECT count(*) FROM range(100000000000) t(i) WHERE i % 7 = 3"

func TestCancelRunningQuery(t *testing.T) {
	srv := startServer(t)
	conn := srv.adbcConn(t)

	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		stmt, err := conn.NewStatement()
		if err != nil {
			t.Fatal(err)
		}
		defer stmt.Close()
		if err := stmt.SetSqlQuery(slowQuery); err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			rdr, _, err := stmt.ExecuteQuery(ctx)
			if err == nil {
				for rdr.Next() {
				}
				err = rdr.Err()
				rdr.Release()
			}
			errc <- err
		}()
		time.Sleep(300 * time.Millisecond)
		cancel()
		select {
		case err := <-errc:
			if err == nil {
				t.Fatal("cancelled query succeeded")
			}
		case <-time.After(30 * time.Second):
			t.Fatal("query still running 30s after cancel")
		}
	})

	t.Run("CancelFlightInfo", func(t *testing.T) {
		c := srv.sqlClient(t)
		ctx := context.Background()
		info, err := c.Execute(ctx, slowQuery)
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() {
			rdr, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
			if err == nil {
				for rdr.Next() {
				}
				err = rdr.Err()
				rdr.Release()
			}
			errc <- err
		}()
		time.Sleep(300 * time.Millisecond)
		res, err := c.CancelFlightInfo(ctx, &flight.CancelFlightInfoRequest{Info: info})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != flight.CancelStatusCancelled {
			t.Errorf("cancel status = %v, want CANCELLED", res.Status)
		}
		select {
		case err := <-errc:
			if status.Code(err) != codes.Canceled {
				t.Errorf("DoGet after CancelFlightInfo: %v, want Canceled", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("query still running 30s after CancelFlightInfo")
		}
		// A cancelled ticket does not run again.
		rdr, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
		if err == nil {
			for rdr.Next() {
			}
			err = rdr.Err()
			rdr.Release()
		}
		if status.Code(err) != codes.Canceled {
			t.Errorf("DoGet of a cancelled ticket: %v, want Canceled", err)
		}
	})
}

// A query that fails while it runs reports DuckDB's error, not a cancellation.
func TestRuntimeErrorIsReported(t *testing.T) {
	srv := startServer(t)
	putNumbers(t, srv.client(t), "numbers.parquet", 10)
	conn := srv.adbcConn(t)
	for _, q := range []string{"SELECT error('boom')", "SELECT CAST(name AS INTEGER) FROM numbers"} {
		_, _, err := adbcQuery(t, conn, q)
		if err == nil {
			t.Fatalf("%s succeeded", q)
		}
		if strings.Contains(err.Error(), "cancel") || !(strings.Contains(err.Error(), "boom") || strings.Contains(err.Error(), "Conversion")) {
			t.Errorf("%s: %v, want DuckDB's error", q, err)
		}
	}
}

// Query results carry the Flight SQL column metadata JDBC's ResultSetMetaData is
// built from, in FlightInfo and in the DoGet stream alike.
func TestResultColumnMetadata(t *testing.T) {
	srv := startServer(t)
	c := srv.sqlClient(t)
	ctx := context.Background()
	info, err := c.Execute(ctx, "SELECT CAST(1.5 AS DECIMAL(10,2)) AS d, 'x' AS s")
	if err != nil {
		t.Fatal(err)
	}
	planned, err := flight.DeserializeSchema(info.Schema, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	for rdr.Next() {
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	for name, schema := range map[string]*arrow.Schema{"FlightInfo": planned, "DoGet": rdr.Schema()} {
		fieldMD := schema.Field(0).Metadata
		md := flightsql.ColumnMetadata{Data: &fieldMD}
		p, okP := md.Precision()
		sc, okS := md.Scale()
		if !okP || !okS || p != 10 || sc != 2 {
			t.Errorf("%s: decimal column precision %d (%v), scale %d (%v); want 10, 2", name, p, okP, sc, okS)
		}
		if tn, _ := md.TypeName(); tn == "" {
			t.Errorf("%s: no type name on column d", name)
		}
	}
}
