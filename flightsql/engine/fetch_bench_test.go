//go:build duckdb_arrow

package engine

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"slices"
	"testing"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/quiverdata/quiver/flightsql/memtier"
)

// BenchmarkQueryPaths runs queries that go through DuckDB (a projection with a
// filter that keeps almost every row, SELECT *, a GROUP BY of 100 groups) over the
// 10M-row file, on Parquet and on the memory tier's in-memory copy, three ways taking
// turns in every iteration: the engine building batches straight from DuckDB's chunks
// (flat), the engine through DuckDB's Arrow conversion and a concatenation (conv:
// what it did before), and duckdb-go's in-process Arrow result of the same query on
// the same data (a Parquet view, or a table loaded from the file). It reports each
// one's rows/s and the flat path's ratio to the others.
func BenchmarkQueryPaths(b *testing.B) {
	root, file := benchParquet(b)
	ctx := context.Background()
	tbl := Table{Name: "bench", Files: []string{file}, Version: "1"}

	onParquet, _ := testEngine(b, Config{Root: root})
	if err := onParquet.SyncTables(ctx, []Table{tbl}); err != nil {
		b.Fatal(err)
	}
	inMemory, _ := testEngine(b, Config{Root: root, MemoryTier: memtier.New(4 << 30)})
	if err := inMemory.SyncTables(ctx, []Table{tbl}); err != nil {
		b.Fatal(err)
	}
	if _, err := drainRows(inMemory, "SELECT count(*) FROM bench"); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); !slices.Contains(inMemory.HotTables(), "bench"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("bench not in memory after 2 minutes")
		}
	}

	ar := inProcessArrow(b, viewSQL(tbl), "CREATE TABLE bench_mem AS SELECT * FROM bench")
	queries := []struct{ name, sql string }{
		{"filter", "SELECT id, s FROM %s WHERE x > 1000"},
		{"select_star", "SELECT * FROM %s"},
		{"group_by", "SELECT k %% 100 AS g, count(*), sum(x), min(s), max(id) FROM %s GROUP BY g"},
	}
	sources := []struct {
		name  string
		e     *Engine
		table string // duckdb-go's copy of the same data
	}{{"parquet", onParquet, "bench"}, {"tier", inMemory, "bench_mem"}}
	for _, src := range sources {
		for _, q := range queries {
			b.Run(src.name+"/"+q.name, func(b *testing.B) {
				engineSQL, peerSQL := fmt.Sprintf(q.sql, "bench"), fmt.Sprintf(q.sql, src.table)
				var flat, conv, peer time.Duration
				var rows int64
				for i := 0; i < b.N; i++ {
					for _, way := range []struct {
						noFlat bool
						total  *time.Duration
					}{{false, &flat}, {true, &conv}} {
						src.e.noFlat = way.noFlat
						start := time.Now()
						n, err := drainRows(src.e, engineSQL)
						if err != nil {
							b.Fatal(err)
						}
						*way.total += time.Since(start)
						rows = n
					}
					src.e.noFlat = false
					start := time.Now()
					rdr, err := ar.QueryContext(ctx, peerSQL)
					if err != nil {
						b.Fatal(err)
					}
					n := int64(0)
					for rdr.Next() {
						n += rdr.RecordBatch().NumRows()
					}
					err = rdr.Err()
					rdr.Release()
					if err != nil {
						b.Fatal(err)
					}
					peer += time.Since(start)
					if n != rows {
						b.Fatalf("duckdb-go read %d rows, the engine %d", n, rows)
					}
				}
				iters := float64(b.N)
				b.ReportMetric(float64(rows)*iters/flat.Seconds(), "rows/s")
				b.ReportMetric(flat.Seconds()/iters*1000, "flat-ms")
				b.ReportMetric(conv.Seconds()/iters*1000, "conv-ms")
				b.ReportMetric(peer.Seconds()/iters*1000, "duckdbgo-ms")
				b.ReportMetric(conv.Seconds()/flat.Seconds(), "speedup-over-conv")
				b.ReportMetric(peer.Seconds()/flat.Seconds(), "ratio-to-duckdbgo")
			})
		}
	}
}

// drainRows runs sql on e and counts its rows.
func drainRows(e *Engine, sql string) (int64, error) {
	rows, err := e.Query(context.Background(), sql, nil, 0)
	if err != nil {
		return 0, err
	}
	defer rows.Release()
	var n int64
	for rows.Next() {
		n += rows.RecordBatch().NumRows()
	}
	return n, rows.Err()
}

// inProcessArrow opens duckdb-go in process, runs setup, and returns its Arrow API.
func inProcessArrow(b *testing.B, setup ...string) *duckdb.Arrow {
	ctx := context.Background()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	for _, q := range setup {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	var ar *duckdb.Arrow
	if err := conn.Raw(func(dc any) error {
		ar, err = duckdb.NewArrowFromConn(dc.(driver.Conn))
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return ar
}
