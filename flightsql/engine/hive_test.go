//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// PartitionTypes types partition values as DuckDB's read_parquet(hive_partitioning
// = true) does over real files named key=value: the test compares with exactly that.
func TestPartitionTypesAsDuckDB(t *testing.T) {
	e, root := testEngine(t, Config{})
	cases := []struct {
		values []string
		want   arrow.Type
	}{
		{[]string{"2024", "2025"}, arrow.INT64},
		{[]string{"01", "02"}, arrow.STRING}, // DuckDB keeps the leading zero
		{[]string{"2024-01-02", "2024-02-03"}, arrow.DATE32},
		{[]string{"2024-01-02 10:00:00"}, arrow.TIMESTAMP},
		{[]string{"1", "x"}, arrow.STRING},
		{[]string{"eu west", "us'east"}, arrow.STRING},
		{[]string{"-7"}, arrow.INT64},
	}
	for i, c := range cases {
		t.Run(strings.Join(c.values, ","), func(t *testing.T) {
			got, err := e.PartitionTypes(context.Background(), "k", c.values)
			if err != nil {
				t.Fatalf("PartitionTypes: %v", err)
			}
			defer got.Release()
			if got.DataType().ID() != c.want || got.Len() != len(c.values) {
				t.Fatalf("PartitionTypes(%q) = %s len %d, want %s", c.values, got.DataType(), got.Len(), c.want)
			}
			// DuckDB itself over real files in the root.
			var files []string
			for j, v := range c.values {
				dir := filepath.Join(root, fmt.Sprintf("case%d", i), "k="+v)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				files = append(files, writePeople(t, dir, "p.parquet", int64(j), int64(j+1)))
			}
			var list []string
			for _, f := range files {
				list = append(list, quoteLiteral(f))
			}
			rows := queryAll(t, e, "SELECT CAST(k AS VARCHAR), typeof(k) FROM read_parquet(["+strings.Join(list, ",")+"], hive_partitioning = true) ORDER BY id", nil)
			for j := range c.values {
				sc, err := scalar.GetScalar(got, j)
				if err != nil {
					t.Fatal(err)
				}
				lit, err := sqlLiteral(sc)
				if err != nil {
					t.Fatal(err)
				}
				back := queryAll(t, e, "SELECT CAST("+lit+" AS VARCHAR), typeof("+lit+")", nil)
				if fmt.Sprint(back[0]) != fmt.Sprint(rows[j]) {
					t.Errorf("value %q: ours %v, DuckDB's %v", c.values[j], back[0], rows[j])
				}
			}
		})
	}
	// An empty value ("k=") is the empty string, and escapes are DuckDB's to decode.
	got, err := e.PartitionTypes(context.Background(), "k", []string{"", "a%2Fb", "__HIVE_DEFAULT_PARTITION__"})
	if err != nil {
		t.Fatalf("PartitionTypes(empty, escaped, null): %v", err)
	}
	if s := fmt.Sprint(got); s != `["" "a/b" (null)]` {
		t.Errorf("PartitionTypes(empty, escaped, null) = %s", s)
	}
	got.Release()
	for _, bad := range []string{"..", "a/b", "a\x00b", "a=b", strings.Repeat("x", 300)} {
		if _, err := e.PartitionTypes(context.Background(), "k", []string{bad}); err == nil {
			t.Errorf("PartitionTypes(%q): no error", bad)
		}
	}
	if _, err := e.PartitionTypes(context.Background(), "k;drop", []string{"1"}); err == nil {
		t.Errorf("PartitionTypes with a bad key: no error")
	}
}

// partitionedTable writes a dataset of 4 files in 3 partition groups, under
// key=value directories when hive is set (the view reads them with DuckDB's
// hive_partitioning) or under directories that say nothing (a UNION of groups).
func partitionedTable(t *testing.T, e *Engine, root string, hive bool) Table {
	t.Helper()
	tbl := Table{Name: "ev", Version: "1", Partitions: []string{"year", "region"}}
	for _, p := range []struct {
		year   int64
		region string
		from   int64
	}{{2024, "eu", 0}, {2024, "eu", 10}, {2024, "us", 20}, {2025, "eu", 30}} {
		dir := filepath.Join(root, "ev", fmt.Sprintf("p%d", p.from))
		if hive {
			dir = filepath.Join(root, "ev", fmt.Sprintf("year=%d", p.year), "region="+p.region)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		tbl.Files = append(tbl.Files, writePeople(t, dir, fmt.Sprintf("part%d.parquet", p.from), p.from, p.from+5))
		tbl.PartitionValues = append(tbl.PartitionValues, []scalar.Scalar{scalar.NewInt64Scalar(p.year), scalar.NewStringScalar(p.region)})
	}
	return tbl
}

func TestPartitionedView(t *testing.T) {
	for _, hive := range []bool{false, true} {
		t.Run(map[bool]string{false: "union", true: "hivepaths"}[hive], func(t *testing.T) {
			e, root := testEngine(t, Config{})
			tbl := partitionedTable(t, e, root, hive)
			if err := e.SyncTables(context.Background(), []Table{tbl}); err != nil {
				t.Fatalf("SyncTables: %v", err)
			}
			got := queryAll(t, e, "SELECT year, region, count(*), min(id) FROM ev GROUP BY ALL ORDER BY ALL", nil)
			want := "[[2024 eu 10 0] [2024 us 5 20] [2025 eu 5 30]]"
			if fmt.Sprint(got) != want {
				t.Errorf("got %v, want %s", got, want)
			}
			types := queryAll(t, e, "SELECT typeof(year), typeof(region) FROM ev LIMIT 1", nil)
			if fmt.Sprint(types) != "[[BIGINT VARCHAR]]" {
				t.Errorf("types %v, want BIGINT VARCHAR", types)
			}
			// The view's file list stays hidden, as for other views.
			views := queryAll(t, e, "SELECT sql FROM duckdb_views() WHERE view_name = 'ev'", nil)
			if strings.Contains(fmt.Sprint(views), root) {
				t.Errorf("view SQL shows the root: %v", views)
			}
			// A drop takes every group's files macro with it.
			macros := func() int64 {
				col, err := queryColumn(e.admin, "SELECT count(*) FROM duckdb_functions() WHERE starts_with(function_name, '"+filesMacroPrefix+"')")
				if err != nil {
					t.Fatal(err)
				}
				defer col.Release()
				return col.(*array.Int64).Value(0)
			}
			wantMacros := int64(3) // one per partition group
			if hive {
				wantMacros = 1 // DuckDB reads the partitions from the paths
			}
			if n := macros(); n != wantMacros {
				t.Errorf("%d files macros, want %d", n, wantMacros)
			}
			if got := e.views["ev"].hivePaths; got != hive {
				t.Errorf("view reads partitions from paths: %v, want %v", got, hive)
			}
			rows, err := e.Query(context.Background(), "SELECT * FROM ev", nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range rows.Schema().Fields() {
				names = append(names, f.Name)
			}
			rows.Release()
			if strings.Join(names, ",") != "id,name,score,year,region" {
				t.Errorf("SELECT * columns %v, want the files' then the partitions in order", names)
			}
			if err := e.SyncTables(context.Background(), nil); err != nil {
				t.Fatalf("SyncTables: %v", err)
			}
			if n := macros(); n != 0 {
				t.Errorf("%d files macros left after the drop", n)
			}
		})
	}
}

// A filter on a partition column keeps DuckDB from reading the other partitions'
// files: with the second file of the (2024, eu) group garbage (DuckDB reads the first
// file of a list when it binds, and the others when it scans), a query of 2025 runs.
func TestPartitionedViewPrunes(t *testing.T) {
	for _, hive := range []bool{false, true} {
		t.Run(map[bool]string{false: "union", true: "hivepaths"}[hive], func(t *testing.T) {
			e, root := testEngine(t, Config{})
			tbl := partitionedTable(t, e, root, hive)
			if err := e.SyncTables(context.Background(), []Table{tbl}); err != nil {
				t.Fatalf("SyncTables: %v", err)
			}
			if err := os.WriteFile(tbl.Files[1], []byte("not parquet"), 0o644); err != nil {
				t.Fatal(err)
			}
			got := queryAll(t, e, "SELECT count(*) FROM ev WHERE year = 2025", nil)
			if fmt.Sprint(got) != "[[5]]" {
				t.Errorf("got %v, want [[5]]", got)
			}
			got = queryAll(t, e, "SELECT count(*) FROM ev WHERE region = 'us'", nil)
			if fmt.Sprint(got) != "[[5]]" {
				t.Errorf("got %v, want [[5]]", got)
			}
			rows, err := e.Query(context.Background(), "SELECT count(*) FROM ev WHERE year = 2024 AND region = 'eu'", nil, 0)
			if err == nil {
				_, _, err = drain(t, rows)
			}
			if err == nil {
				t.Errorf("a query of the group with a missing file succeeded; the test proves nothing")
			}
		})
	}
}

func TestPartitionedViewRefusesBadValues(t *testing.T) {
	e, root := testEngine(t, Config{})
	hive := false
	tbl := partitionedTable(t, e, root, hive)
	tbl.PartitionValues[0] = tbl.PartitionValues[0][:1]
	if err := e.SyncTables(context.Background(), []Table{tbl}); err == nil || !strings.Contains(err.Error(), "partition values") {
		t.Errorf("SyncTables: %v, want a refusal naming the partition values", err)
	}
	tbl = partitionedTable(t, e, root, hive)
	tbl.PartitionValues[0][0] = scalar.NewFloat32Scalar(1)
	if err := e.SyncTables(context.Background(), []Table{tbl}); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("SyncTables: %v, want a refusal naming the type", err)
	}
}

// A partitioned view made again on a fresh database after DuckDB invalidated the
// old one keeps its partition columns.
func TestPartitionedViewSurvivesRecovery(t *testing.T) {
	root := t.TempDir()
	e, err := open(context.Background(), Config{Root: root, TempDir: t.TempDir()},
		func(e *Engine) { e.invalidateOnInternal = true })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	tbl := partitionedTable(t, e, root, false)
	if err := e.SyncTables(context.Background(), []Table{tbl}); err != nil {
		t.Fatalf("SyncTables: %v", err)
	}
	if _, err := e.Query(context.Background(), untypedThenTyped, strings1(t, "x"), 0); !errors.Is(err, ErrDatabaseFailed) {
		t.Fatalf("provoked query: err %v, want ErrDatabaseFailed", err)
	}
	settle(t, e)
	if e.gen != 1 {
		t.Fatalf("database replaced %d times, want 1", e.gen)
	}
	got := queryAll(t, e, "SELECT year, count(*) FROM ev GROUP BY ALL ORDER BY ALL", nil)
	if fmt.Sprint(got) != "[[2024 15] [2025 5]]" {
		t.Errorf("after recovery: %v, want [[2024 15] [2025 5]]", got)
	}
}
