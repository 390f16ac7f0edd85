package catalog

import (
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// writeHivePart writes ids [start, start+n) to root/name/<dirs>/part.parquet.
func writeHivePart(t *testing.T, root, name, dirs string, start, n int64) {
	t.Helper()
	dir := filepath.Join(root, name, filepath.FromSlash(dirs))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeIDsFile(t, filepath.Join(dir, "part-0.parquet"), start, n)
}

// readPartitionRows reads the dataset and returns, per id, its partition columns
// rendered as strings.
func readPartitionRows(t *testing.T, s *Store, name string) (map[int64][]string, *arrow.Schema) {
	t.Helper()
	r, err := s.Open(context.Background(), name)
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	defer r.Release()
	out := map[int64][]string{}
	for r.Next() {
		rec := r.RecordBatch()
		if !rec.Schema().Equal(r.Schema()) {
			t.Fatalf("batch schema %v differs from reader schema %v", rec.Schema(), r.Schema())
		}
		ids := rec.Column(0).(*array.Int64)
		for i := 0; i < int(rec.NumRows()); i++ {
			var vals []string
			for c := 2; c < int(rec.NumCols()); c++ {
				vals = append(vals, rec.Column(c).ValueStr(i))
			}
			out[ids.Value(i)] = vals
		}
	}
	if err := r.Err(); err != nil {
		t.Fatalf("read %q: %v", name, err)
	}
	return out, r.Schema()
}

func TestHivePartitionsServedAsOneDataset(t *testing.T) {
	root := t.TempDir()
	writeHivePart(t, root, "events", "year=2024/month=01", 0, 3)
	writeHivePart(t, root, "events", "year=2024/month=02", 3, 2)
	writeHivePart(t, root, "events", "year=2025/month=01", 5, 1)
	// What writers leave beside the data is not data.
	if err := os.WriteFile(filepath.Join(root, "events", "_SUCCESS"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "events", "_temporary", "0"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, _ := openTestStore(t, root, Options{})

	info, err := s.Stat(context.Background(), "events")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if got := strings.Join(info.Partitions, ","); got != "year,month" {
		t.Errorf("Partitions = %q, want year,month", got)
	}
	if info.Rows != 6 || len(info.Keys) != 3 {
		t.Errorf("Rows = %d, Keys = %v; want 6 rows in 3 parts", info.Rows, info.Keys)
	}
	wantFields := "id:int64 label:utf8 year:utf8 month:utf8"
	var got []string
	for _, f := range info.Schema.Fields() {
		got = append(got, f.Name+":"+f.Type.String())
	}
	if strings.Join(got, " ") != wantFields {
		t.Errorf("schema %v, want %s (strings without a typer)", got, wantFields)
	}

	rows, _ := readPartitionRows(t, s, "events")
	want := map[int64]string{0: "2024 01", 2: "2024 01", 3: "2024 02", 4: "2024 02", 5: "2025 01"}
	if len(rows) != 6 {
		t.Fatalf("read %d rows, want 6", len(rows))
	}
	for id, w := range want {
		if g := strings.Join(rows[id], " "); g != w {
			t.Errorf("row %d partitions %q, want %q", id, g, w)
		}
	}
}

func TestHivePartitionTyper(t *testing.T) {
	root := t.TempDir()
	writeHivePart(t, root, "ev", "year=2024", 0, 2)
	writeHivePart(t, root, "ev", "year=2025", 2, 2)
	s, _ := openTestStore(t, root, Options{})
	var asked []string
	s.SetPartitionTyper(func(ctx context.Context, key string, values []string) (arrow.Array, error) {
		asked = append(asked, key+"="+strings.Join(values, "|"))
		b := array.NewInt64Builder(memory.DefaultAllocator)
		defer b.Release()
		for _, v := range values {
			switch v {
			case "2024":
				b.Append(2024)
			case "2025":
				b.AppendNull()
			}
		}
		return b.NewArray(), nil
	})
	rows, schema := readPartitionRows(t, s, "ev")
	if f := schema.Field(2); f.Name != "year" || f.Type.ID() != arrow.INT64 || !f.Nullable {
		t.Errorf("partition field %v, want nullable year int64", f)
	}
	if strings.Join(asked, ";") != "year=2024|2025" {
		t.Errorf("typer asked %q, want each key once with its distinct values", asked)
	}
	if rows[0][0] != "2024" || rows[1][0] != "2024" || rows[2][0] != "(null)" || rows[3][0] != "(null)" {
		t.Errorf("rows %v: want 2024 for ids 0-1, null for 2-3", rows)
	}
}

func TestHiveManifestListsPartitionPaths(t *testing.T) {
	root := t.TempDir()
	writeHivePart(t, root, "m", "region=eu", 0, 2)
	writeHivePart(t, root, "m", "region=us", 2, 2)
	writeHivePart(t, root, "m", "region=xx", 4, 2) // not in the manifest: invisible
	manifest := `{"parts": ["region=us/part-0.parquet", "region=eu/part-0.parquet"]}`
	if err := os.WriteFile(filepath.Join(root, "m", manifestName), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ := openTestStore(t, root, Options{})
	rows, _ := readPartitionRows(t, s, "m")
	if len(rows) != 4 || rows[0][0] != "eu" || rows[2][0] != "us" {
		t.Errorf("rows %v: want ids 0-3 from eu and us only", rows)
	}
}

// Partition names are file-system or manifest bytes: a bad one makes the dataset
// unreadable with a message naming it, never a path outside the dataset.
func TestHiveHostilePartitionNames(t *testing.T) {
	long := strings.Repeat("v", maxPartitionValue+1)
	cases := []struct {
		name     string
		dirs     string // a directory to create holding a part ("" none)
		also     string // another one
		manifest string // manifest content ("" none)
		want     string // in the error
	}{
		{"not key value", "notapartition", "", "", "is not key=value"},
		{"empty key", "=2024", "", "", "key"},
		{"digit key", "1year=2024", "", "", "key"},
		{"bad key char", "ye-ar=2024", "", "", "key"},
		{"empty value", "year=", "", "", ""}, // fine: '' to DuckDB, pyarrow and Spark
		{"equals in value", "year=a=b", "", "", "value"},
		{"dotdot value", "year=..", "", "", "value"},
		{"long value", "year=" + long[:250], "", "", ""}, // fine: within bounds
		{"mixed keys", "year=2024", "month=1", "", "partition keys"},
		{"part beside partitions", "year=2024", ".", "", "partition keys"},
		{"manifest dotdot", "", "", `{"parts": ["year=../../etc/passwd"]}`, "names part"},
		{"manifest traversal", "", "", `{"parts": ["../other/part-0.parquet"]}`, "names part"},
		{"manifest NUL", "", "", "{\"parts\": [\"year=a\\u0000b/part-0.parquet\"]}", "names part"},
		{"manifest long", "", "", `{"parts": ["year=` + long + `/part-0.parquet"]}`, "names part"},
		{"manifest deep", "", "", `{"parts": ["` + strings.Repeat("k=v/", MaxPartitionDepth+1) + `part-0.parquet"]}`, "names part"},
		{"repeated key", "k=1/k=2", "", "", "repeats key"},
		{"too deep", strings.Repeat("k=v/", MaxPartitionDepth+1), "", "", "partition levels"},
		{"key is a column", "id=5", "", "", "also a column"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "d"), 0o755); err != nil {
				t.Fatal(err)
			}
			if c.dirs != "" {
				writeHivePart(t, root, "d", c.dirs, 0, 1)
			}
			if c.also != "" {
				writeHivePart(t, root, "d", c.also, 0, 1)
			}
			if c.manifest != "" {
				if err := os.WriteFile(filepath.Join(root, "d", manifestName), []byte(c.manifest), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, _ := openTestStore(t, root, Options{})
			_, err := s.Stat(context.Background(), "d")
			if c.want == "" {
				if err != nil {
					t.Fatalf("Stat: %v, want success", err)
				}
				return
			}
			if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Stat: %v, want ErrUnreadable containing %q", err, c.want)
			}
		})
	}
}

func TestHiveAppendRefused(t *testing.T) {
	root := t.TempDir()
	writeHivePart(t, root, "ev", "year=2024", 0, 2)
	s, _ := openTestStore(t, root, Options{})
	rec := makeBatch(memory.DefaultAllocator, 10, 2)
	defer rec.Release()
	rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	_, err = s.Put(context.Background(), "ev", Append, rdr)
	if !errors.Is(err, ErrInvalidData) || !strings.Contains(err.Error(), "partitioned by year") {
		t.Fatalf("Append: %v, want ErrInvalidData naming the partitions", err)
	}
	assertIDs(t, s, "ev", seq(0, 2))
}

// A part path checkPartPath accepts (a manifest's, from anyone who can write the
// bucket) stays inside its dataset directory and parses as partitions.
func FuzzCheckPartPath(f *testing.F) {
	for _, s := range []string{"part-0.parquet", "year=2024/month=01/p.parquet", "../x", "a=../p", "k=v/../../p", "k=\x00/p", "/abs", "k=v//p", "k=v/k=w/p"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if checkPartPath(p) != nil {
			return
		}
		if strings.Contains(p, "..") && strings.Contains(p, "/") {
			for _, seg := range strings.Split(p, "/") {
				if seg == ".." || seg == "." || seg == "" {
					t.Fatalf("accepted %q with segment %q", p, seg)
				}
			}
		}
		if path.IsAbs(p) || path.Clean(p) != p || strings.ContainsRune(p, 0) || strings.Contains(p, "\\") {
			t.Fatalf("accepted %q: not a clean relative path", p)
		}
		if _, _, err := partitionsOf([]string{p}); err != nil {
			t.Fatalf("accepted %q but partitionsOf refuses it: %v", p, err)
		}
	})
}
