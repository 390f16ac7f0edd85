package integration

import (
	"context"
	"testing"

	"github.com/apache/arrow-adbc/go/adbc"
	adbcflightsql "github.com/apache/arrow-adbc/go/adbc/driver/flightsql"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// adbcConn opens an ADBC Flight SQL connection (the driver Python's and R's ADBC
// packages load) to the server, closed when the test ends.
func (s *testServer) adbcConn(t testing.TB, opts ...map[string]string) adbc.Connection {
	t.Helper()
	drv := adbcflightsql.NewDriver(memory.DefaultAllocator)
	dbOpts := map[string]string{adbc.OptionKeyURI: "grpc://" + s.Addr}
	for _, o := range opts {
		for k, v := range o {
			dbOpts[k] = v
		}
	}
	db, err := drv.NewDatabase(dbOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// adbcQuery runs sql and returns all its rows as records (released at test end).
func adbcQuery(t testing.TB, conn adbc.Connection, sql string) (*arrow.Schema, []arrow.RecordBatch, error) {
	t.Helper()
	stmt, err := conn.NewStatement()
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	if err := stmt.SetSqlQuery(sql); err != nil {
		return nil, nil, err
	}
	rdr, _, err := stmt.ExecuteQuery(context.Background())
	if err != nil {
		return nil, nil, err
	}
	defer rdr.Release()
	var recs []arrow.RecordBatch
	for rdr.Next() {
		rec := rdr.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	t.Cleanup(func() {
		for _, r := range recs {
			r.Release()
		}
	})
	return rdr.Schema(), recs, rdr.Err()
}

func TestADBCQueryOfPutDataset(t *testing.T) {
	srv := startServer(t)
	c := srv.client(t)
	rec := characters(memory.DefaultAllocator)
	defer rec.Release()
	putRecords(t, c, "uploaded.parquet", rec.Schema(), rec)

	conn := srv.adbcConn(t)
	_, recs, err := adbcQuery(t, conn, `SELECT "Character" FROM uploaded ORDER BY "Character"`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		col := r.Column(0).(*array.String)
		for i := 0; i < col.Len(); i++ {
			got = append(got, col.Value(i))
		}
	}
	if want := []string{"Luigi", "Mario", "Peach"}; !equalStrings(got, want) {
		t.Errorf("query = %q, want %q", got, want)
	}
}
