//go:build duckdb_arrow

package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// BenchmarkPartitionedView compares a query of one partition through the engine's
// two kinds of partitioned view (hiveview.go: hive_partitioning over paths that carry
// the partitions, or a UNION ALL of one branch per partition) with DuckDB's own
// read_parquet(hive_partitioning = true) over the same files, in the same run.
func BenchmarkPartitionedView(b *testing.B) {
	for _, parts := range []int{10, 100, 365} {
		e, root := testEngine(b, Config{})
		tbl := Table{Name: "ev", Version: "1", Partitions: []string{"day"}}
		// The same data where the paths say nothing (as part-cache copies): a UNION.
		union := Table{Name: "evu", Version: "1", Partitions: []string{"day"}}
		var lits []string
		for d := 0; d < parts; d++ {
			dir := filepath.Join(root, "ev", fmt.Sprintf("day=%d", d))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			f := writePeople(b, dir, "p.parquet", int64(d)*1000, int64(d+1)*1000)
			tbl.Files = append(tbl.Files, f)
			tbl.PartitionValues = append(tbl.PartitionValues, []scalar.Scalar{scalar.NewInt64Scalar(int64(d))})
			udir := filepath.Join(root, "evu", fmt.Sprintf("g%d", d))
			if err := os.MkdirAll(udir, 0o755); err != nil {
				b.Fatal(err)
			}
			union.Files = append(union.Files, writePeople(b, udir, "p.parquet", int64(d)*1000, int64(d+1)*1000))
			union.PartitionValues = append(union.PartitionValues, tbl.PartitionValues[d])
			lits = append(lits, quoteLiteral(f))
		}
		if err := e.SyncTables(context.Background(), []Table{tbl, union}); err != nil {
			b.Fatal(err)
		}
		peer := "SELECT count(*), sum(score) FROM read_parquet([" + strings.Join(lits, ",") + "], hive_partitioning = true) WHERE day = 7"
		for _, q := range []struct{ name, sql string }{
			{"view-hivepaths", "SELECT count(*), sum(score) FROM ev WHERE day = 7"},
			{"view-union", "SELECT count(*), sum(score) FROM evu WHERE day = 7"},
			{"duckdb-hive", peer},
		} {
			b.Run(fmt.Sprintf("%s/parts=%d", q.name, parts), func(b *testing.B) {
				for b.Loop() {
					if got := fmt.Sprint(queryAll(b, e, q.sql, nil)); got != "[[1000 3.4975e+06]]" && !strings.HasPrefix(got, "[[1000 ") {
						b.Fatalf("got %s", got)
					}
				}
			})
		}
	}
}
