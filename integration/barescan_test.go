package integration

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/status"
)

// sqlResult is what a client sees of one statement: the stream's schema (metadata
// and all), its rows rendered as JSON and sorted (a multiset), or the error's code
// and message.
type sqlResult struct {
	schema *arrow.Schema
	rows   []string
	err    string
}

// runSQL plans sql and reads its one endpoint with arrow-go's Flight SQL client.
func runSQL(t testing.TB, cl *fsql.Client, sql string) sqlResult {
	t.Helper()
	ctx := context.Background()
	info, err := cl.Execute(ctx, sql)
	if err != nil {
		return sqlResult{err: status.Convert(err).Code().String() + ": " + status.Convert(err).Message()}
	}
	return readResult(t, cl, info.Endpoint[0].Ticket)
}

// readResult reads one ticket as runSQL does.
func readResult(t testing.TB, cl *fsql.Client, ticket *flight.Ticket) sqlResult {
	t.Helper()
	rdr, err := cl.DoGet(context.Background(), ticket)
	if err != nil {
		return sqlResult{err: status.Convert(err).Code().String() + ": " + status.Convert(err).Message()}
	}
	defer rdr.Release()
	res := sqlResult{schema: rdr.Schema()}
	for rdr.Next() {
		res.rows = append(res.rows, rowJSON(t, rdr.RecordBatch())...)
	}
	if err := rdr.Err(); err != nil {
		return sqlResult{err: status.Convert(err).Code().String() + ": " + status.Convert(err).Message()}
	}
	slices.Sort(res.rows)
	return res
}

// rowJSON renders each row of rec as one JSON array.
func rowJSON(t testing.TB, rec arrow.RecordBatch) []string {
	t.Helper()
	out := make([]string, rec.NumRows())
	for i := range out {
		row := make([]any, rec.NumCols())
		for j, c := range rec.Columns() {
			row[j] = c.GetOneForMarshal(i)
		}
		b, err := json.Marshal(row)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = string(b)
	}
	return out
}

// sameResult fails t unless got and want are the same result.
func sameResult(t testing.TB, what string, got, want sqlResult) {
	t.Helper()
	if got.err != want.err {
		t.Errorf("%s: error %q, want %q", what, got.err, want.err)
		return
	}
	if want.err != "" {
		return
	}
	if !got.schema.Equal(want.schema) {
		t.Errorf("%s: schema\n%s\nwant (DuckDB's)\n%s", what, got.schema, want.schema)
	}
	if !slices.Equal(got.rows, want.rows) {
		t.Errorf("%s: %d rows differ from DuckDB's %d; first %.300v, want %.300v", what, len(got.rows), len(want.rows), got.rows, want.rows)
	}
}

// bareScanDatasets puts the datasets the equality test reads and returns the SQL
// table names that must take the shortcut and those that must not (a type DuckDB
// gives back differently).
func bareScanDatasets(t testing.TB, srv *testServer) (takes, runsInDuckDB []string) {
	t.Helper()
	ctx := context.Background()
	c := srv.client(t)
	mem := memory.DefaultAllocator

	// Every stored type DuckDB gives back as stored, a row of nulls among them.
	all := allTypesRecord(t)
	defer all.Release()
	var fields []arrow.Field
	var cols []arrow.Array
	for i, f := range all.Schema().Fields() {
		if f.Name != "lstr" {
			fields, cols = append(fields, f), append(cols, all.Column(i))
		}
	}
	types := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, all.NumRows())
	defer types.Release()
	putRecords(t, c, "types.parquet", types.Schema(), types)
	// large_string comes back from DuckDB as utf8: DuckDB runs it.
	putRecords(t, c, "alltypes.parquet", all.Schema(), all)

	// Several parts, and hive-style partitions.
	r1, r2, r3 := partRecord(mem, 0, 40), partRecord(mem, 40, 30), partRecord(mem, 70, 25)
	defer r1.Release()
	defer r2.Release()
	defer r3.Release()
	must(t, putWithHeaders(ctx, c, "parts.parquet", nil, r1))
	must(t, putWithHeaders(ctx, c, "parts.parquet", []string{"quiver-put-mode", "append"}, r2, r3))
	must(t, putWithHeaders(ctx, c, "hive", []string{"quiver-partition-by", "year"}, r1, r2))

	// Empty.
	empty := partRecord(mem, 0, 0)
	defer empty.Release()
	must(t, putWithHeaders(ctx, c, "empty.parquet", nil, empty))
	return []string{"types", "parts", "empty", "hive"}, []string{"alltypes"}
}

// A bare scan served from the dataset stream is, to the client, exactly what DuckDB
// sends: schema with its Flight SQL column metadata, and rows (as a multiset), for
// every stored type, several parts, hive partitions, no rows and nulls. With
// QUIVER_TEST_BACKEND=s3 the same on object storage.
func TestBareScanEqualsDuckDB(t *testing.T) {
	srv := startServer(t)
	takes, runsInDuckDB := bareScanDatasets(t, srv)
	cl := srv.sqlClient(t)
	q := srv.Service.SQL
	for _, table := range slices.Concat(takes, runsInDuckDB) {
		t.Run(table, func(t *testing.T) {
			sql := "SELECT * FROM " + table
			q.SetBareScans(false)
			want := runSQL(t, cl, sql)
			q.SetBareScans(true)
			before := q.BareScansServed()
			got := runSQL(t, cl, sql)
			served := q.BareScansServed() - before
			if want.err != "" {
				t.Fatalf("DuckDB: %s", want.err)
			}
			sameResult(t, sql, got, want)
			wantServed := int64(1)
			if slices.Contains(runsInDuckDB, table) {
				wantServed = 0
			}
			if served != wantServed {
				t.Errorf("%s: %d bare scans served, want %d", sql, served, wantServed)
			}
		})
	}
}
