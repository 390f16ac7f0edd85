package integration

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quiverdata/quiver/catalog"
)

// putConstant stores n rows of column v = value, in batches of 64Ki rows.
func putConstant(t testing.TB, srv *testServer, name string, n int, value int64) {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	const batch = 1 << 16
	var recs []arrow.RecordBatch
	for done := 0; done < n; done += batch {
		for i := 0; i < min(batch, n-done); i++ {
			b.Field(0).(*array.Int64Builder).Append(value)
		}
		recs = append(recs, b.NewRecordBatch())
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	putRecords(t, srv.client(t), name, schema, recs...)
}

// A query that started before a replace finishes on the version it started with; the
// next query sees the new one. Checked for a single-file dataset (replaced by rename
// over the same path) and a multi-part one (replaced through its manifest).
func TestQueryFinishesOnTheVersionItStartedWith(t *testing.T) {
	for _, multipart := range []bool{false, true} {
		name := "single"
		if multipart {
			name = "multipart"
		}
		t.Run(name, func(t *testing.T) {
			srv := startServer(t)
			const rows = 2_000_000
			if !multipart {
				putConstant(t, srv, "v.parquet", rows, 1)
			} else {
				putConstant(t, srv, "v.parquet", rows/2, 1)
				// An append makes it a directory of two parts.
				rec := constantRecord(rows/2, 1)
				defer rec.Release()
				rr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
				if err != nil {
					t.Fatal(err)
				}
				defer rr.Release()
				if _, err := srv.Store.Put(context.Background(), "v.parquet", catalog.Append, rr); err != nil {
					t.Fatal(err)
				}
			}
			conn := srv.adbcConn(t)
			stmt, err := conn.NewStatement()
			if err != nil {
				t.Fatal(err)
			}
			defer stmt.Close()
			if err := stmt.SetSqlQuery("SELECT v FROM v"); err != nil {
				t.Fatal(err)
			}
			rdr, _, err := stmt.ExecuteQuery(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer rdr.Release()
			if !rdr.Next() {
				t.Fatalf("no first batch: %v", rdr.Err())
			}
			var count, sum int64
			add := func(rec arrow.RecordBatch) {
				for _, x := range rec.Column(0).(*array.Int64).Int64Values() {
					sum += x
				}
				count += rec.NumRows()
			}
			add(rdr.RecordBatch())

			// Replace mid-query with other values and another row count.
			putConstant(t, srv, "v.parquet", rows/4, 7)

			for rdr.Next() {
				add(rdr.RecordBatch())
			}
			if err := rdr.Err(); err != nil {
				t.Fatalf("query across a replace: %v", err)
			}
			if count != rows || sum != rows {
				t.Errorf("query that started before the replace read %d rows summing to %d, want %d rows of 1", count, sum, rows)
			}
			_, recs, err := adbcQuery(t, conn, "SELECT count(*)::BIGINT, sum(v)::BIGINT FROM v")
			if err != nil {
				t.Fatal(err)
			}
			if got := int64s(recs, 0)[0]; got != rows/4 {
				t.Errorf("next query sees %d rows, want %d", got, rows/4)
			}
		})
	}
}

func constantRecord(n int, value int64) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := 0; i < n; i++ {
		b.Field(0).(*array.Int64Builder).Append(value)
	}
	return b.NewRecordBatch()
}
