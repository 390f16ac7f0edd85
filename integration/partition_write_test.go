package integration

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// partSchema is what the partitioned-put tests send: k and year are the partition
// columns.
var partSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "year", Type: arrow.PrimitiveTypes.Int16},
	{Name: "v", Type: arrow.PrimitiveTypes.Float64},
}, nil)

// partKs are hostile partition values; the last stands for NULL.
var partKs = []string{"plain", "a/b", "..", "=", "ünï", "", "%41", "__HIVE_DEFAULT_PARTITION__", "x y", "x\x00y", "NULL"}

func partK(id int64) (string, bool) {
	i := id % int64(len(partKs))
	return partKs[i], i == int64(len(partKs))-1
}

func partRecord(mem memory.Allocator, from, n int64) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, partSchema)
	defer b.Release()
	for id := from; id < from+n; id++ {
		b.Field(0).(*array.Int64Builder).Append(id)
		if k, null := partK(id); null {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(k)
		}
		b.Field(2).(*array.Int16Builder).Append(int16(2020 + id%3))
		b.Field(3).(*array.Float64Builder).Append(float64(id) / 4)
	}
	return b.NewRecordBatch()
}

// partRow renders row id as the tests compare it: id|k|year|v.
func partRow(id int64) string {
	k, null := partK(id)
	if null {
		k = "<NULL>"
	} else {
		k = fmt.Sprintf("%q", k)
	}
	return fmt.Sprintf("%d|%s|%d|%g", id, k, 2020+id%3, float64(id)/4)
}

// putWithHeaders sends recs to dataset name with DoPut and the given headers
// (name, value pairs).
func putWithHeaders(ctx context.Context, c flight.Client, name string, headers []string, recs ...arrow.RecordBatch) error {
	ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(ctx, headers...))
	defer cancel()
	stream, err := c.DoPut(ctx)
	if err != nil {
		return err
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(partSchema))
	w.SetFlightDescriptor(pathDescriptor(name))
	for _, r := range recs {
		if err := w.Write(r); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	w.Close()
	stream.CloseSend()
	for {
		if _, err := stream.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// readPartRows reads name with a plain DoGet and returns its rows as partRow renders
// them, sorted by id, and the schema.
func readPartRows(t *testing.T, c flight.Client, name string) ([]string, *arrow.Schema) {
	t.Helper()
	info, err := c.GetFlightInfo(context.Background(), pathDescriptor(name))
	if err != nil {
		t.Fatalf("GetFlightInfo(%s): %v", name, err)
	}
	var rows []string
	var schema *arrow.Schema
	ids := map[int64]string{}
	for _, ep := range info.Endpoint {
		s, recs := getAll(t, c, ep.Ticket)
		schema = s
		for _, rec := range recs {
			col := func(n string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(n)[0]) }
			for i := 0; i < int(rec.NumRows()); i++ {
				id := col("id").(*array.Int64).Value(i)
				k := "<NULL>"
				if !col("k").IsNull(i) {
					k = fmt.Sprintf("%q", col("k").(*array.String).Value(i))
				}
				ids[id] = fmt.Sprintf("%d|%s|%d|%g", id, k, col("year").(*array.Int16).Value(i), col("v").(*array.Float64).Value(i))
			}
			rec.Release()
		}
	}
	keys := make([]int64, 0, len(ids))
	for id := range ids {
		keys = append(keys, id)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, id := range keys {
		rows = append(rows, ids[id])
	}
	return rows, schema
}

func wantPartRows(ranges ...[2]int64) []string {
	var out []string
	for _, r := range ranges {
		for id := r[0]; id < r[1]; id++ {
			out = append(out, partRow(id))
		}
	}
	return out
}

func assertPartRows(t *testing.T, c flight.Client, name string, want []string) {
	t.Helper()
	got, schema := readPartRows(t, c, name)
	if got, want := types(schema), "id:int64 v:float64 k:utf8 year:int16"; got != want {
		t.Errorf("%s: schema %s, want %s (the files' columns, then the partition columns as put)", name, got, want)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: %d rows, want %d; first differences:\n%s", name, len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("row %d: got %s, want %s", i, g, w)
		}
	}
	return ""
}

// TestPartitionedPut puts, appends and replaces a partitioned dataset through plain
// Flight's DoPut with the quiver-partition-by header (run also on S3 with
// QUIVER_TEST_BACKEND=s3), and reads back the same rows and column types with DoGet
// and SQL, partition values that need escaping included.
func TestPartitionedPut(t *testing.T) {
	srv := startServer(t)
	c := srv.client(t)
	ctx := context.Background()
	mem := memory.DefaultAllocator
	by := []string{"quiver-partition-by", "k, year"}

	r1, r2 := partRecord(mem, 0, 100), partRecord(mem, 100, 100)
	defer r1.Release()
	defer r2.Release()
	must(t, putWithHeaders(ctx, c, "ev", append(by, "quiver-put-mode", "create"), r1, r2))
	assertPartRows(t, c, "ev", wantPartRows([2]int64{0, 200}))

	dir := t.TempDir()
	sql := srv.ok(t, dir, "sql", "SELECT typeof(k) AS tk, typeof(year) AS ty, count(DISTINCT coalesce(k, '<NULL>')) AS ks, count(*) AS n, count(k) AS nk FROM ev GROUP BY ALL", "--format", "csv").stdout
	nulls := 0
	for id := int64(0); id < 200; id++ {
		if _, null := partK(id); null {
			nulls++
		}
	}
	if sql != fmt.Sprintf("tk,ty,ks,n,nk\nVARCHAR,SMALLINT,%d,200,%d\n", len(partKs), 200-nulls) {
		t.Errorf("SQL types and counts:\n%s", sql)
	}
	for _, q := range []struct{ where, want string }{
		{"k = 'a/b' AND year = 2021", fmt.Sprint(countPart(0, 200, "a/b", 2021))},
		{"k = '..'", fmt.Sprint(countPart(0, 200, "..", -1))},
		{"k = '='", fmt.Sprint(countPart(0, 200, "=", -1))},
		{"k = 'ünï'", fmt.Sprint(countPart(0, 200, "ünï", -1))},
		{"k = ''", fmt.Sprint(countPart(0, 200, "", -1))},
		{"k = '%41'", fmt.Sprint(countPart(0, 200, "%41", -1))},
		{"k = '__HIVE_DEFAULT_PARTITION__'", fmt.Sprint(countPart(0, 200, "__HIVE_DEFAULT_PARTITION__", -1))},
		{"k IS NULL", fmt.Sprint(nulls)},
		{"k = 'x' || chr(0) || 'y'", fmt.Sprint(countPart(0, 200, "x\x00y", -1))},
	} {
		got := srv.ok(t, dir, "sql", "SELECT count(*) AS n FROM ev WHERE "+q.where, "--format", "csv").stdout
		if got != "n\n"+q.want+"\n" {
			t.Errorf("WHERE %s: %q, want %s", q.where, got, q.want)
		}
	}

	// An append goes to the partitions; so does a Flight SQL ingest (the CLI's
	// --append), which names no partition columns.
	r3 := partRecord(mem, 200, 50)
	defer r3.Release()
	must(t, putWithHeaders(ctx, c, "ev", append(by, "quiver-put-mode", "append"), r3))
	must(t, os.WriteFile(filepath.Join(dir, "more.csv"), []byte("id,k,year,v\n250,plain,2020,62.5\n"), 0o600))
	srv.ok(t, dir, "put", "ev", "more.csv", "--append")
	want := append(wantPartRows([2]int64{0, 250}), `250|"plain"|2020|62.5`)
	assertPartRows(t, c, "ev", want)

	// Refused: other partition columns, a column that cannot partition, a bad mode.
	err := putWithHeaders(ctx, c, "ev", []string{"quiver-partition-by", "year", "quiver-put-mode", "append"}, r3)
	wantStatus(t, err, codes.InvalidArgument, "partitioned by k, year, not by year")
	err = putWithHeaders(ctx, c, "ev2", []string{"quiver-partition-by", "v"}, r3)
	wantStatus(t, err, codes.InvalidArgument, `partition column "v" has type float64`)
	err = putWithHeaders(ctx, c, "ev2", []string{"quiver-partition-by", "nope"}, r3)
	wantStatus(t, err, codes.InvalidArgument, `partition column "nope" is not a column`)
	err = putWithHeaders(ctx, c, "ev2", []string{"quiver-partition-by", "k", "quiver-put-mode", "upsert"}, r3)
	wantStatus(t, err, codes.InvalidArgument, "quiver-put-mode", "upsert")
	err = putWithHeaders(ctx, c, "ev", append(by, "quiver-put-mode", "create"), r3)
	wantStatus(t, err, codes.AlreadyExists)

	// A replace replaces every partition.
	must(t, putWithHeaders(ctx, c, "ev", by, r3))
	assertPartRows(t, c, "ev", wantPartRows([2]int64{200, 250}))
	got := srv.ok(t, dir, "sql", "SELECT count(*) AS n FROM ev", "--format", "csv").stdout
	if got != "n\n50\n" {
		t.Errorf("SQL after replace: %q", got)
	}
}

// countPart counts the ids in [from, to) whose k is k and (year >= 0) year is year.
func countPart(from, to int64, k string, year int) int {
	n := 0
	for id := from; id < to; id++ {
		kk, null := partK(id)
		if !null && kk == k && (year < 0 || int(2020+id%3) == year) {
			n++
		}
	}
	return n
}

// TestPartitionedPutPrunesLocal: on a local root the parts are in escaped key=value
// directories, the partition columns are not in the files, and a query filtering
// on a partition reads only that partition's files (the others are corrupted).
func TestPartitionedPutPrunesLocal(t *testing.T) {
	skipOnS3(t, "corrupts part files in the root directory")
	srv := startServer(t)
	c := srv.client(t)
	r := partRecord(memory.DefaultAllocator, 0, 200)
	defer r.Release()
	must(t, putWithHeaders(context.Background(), c, "ev", []string{"quiver-partition-by", "k,year"}, r))
	files := tree(t, filepath.Join(srv.Root, "ev"))
	var parts []string
	for _, f := range files {
		if strings.HasSuffix(f, ".parquet") {
			parts = append(parts, f)
		}
	}
	if len(parts) != 33 {
		t.Fatalf("%d parts, want 11 k x 3 years:\n%s", len(parts), strings.Join(files, "\n"))
	}
	for _, want := range []string{"k=a%2Fb/year=2020/", "k=%2E%2E/year=2021/", "k=%3D/", "k=%C3%BCn%C3%AF/", "k=x%00y/", "k=/year=2022/", "k=%2541/", "k=%5F_HIVE_DEFAULT_PARTITION__/", "k=__HIVE_DEFAULT_PARTITION__/", "k=x%20y/"} {
		found := false
		for _, p := range parts {
			found = found || strings.HasPrefix(p, want)
		}
		if !found {
			t.Errorf("no part under %s", want)
		}
	}
	dir := t.TempDir()
	before := srv.ok(t, dir, "sql", "SELECT count(*) AS n, sum(v) AS s FROM ev WHERE k = 'a/b' AND year = 2021", "--format", "csv").stdout
	// Corrupt every other part in place (same size, time and inode: the catalog
	// sees no change), leaving the footers alone.
	for _, p := range parts {
		if strings.HasPrefix(p, "k=a%2Fb/year=2021/") {
			continue
		}
		corruptPages(t, filepath.Join(srv.Root, "ev", p))
	}
	after := srv.ok(t, dir, "sql", "SELECT count(*) AS n, sum(v) AS s FROM ev WHERE k = 'a/b' AND year = 2021", "--format", "csv").stdout
	if after != before || !strings.HasPrefix(after, "n,s\n"+fmt.Sprint(countPart(0, 200, "a/b", 2021))+",") {
		t.Errorf("filtered query after corrupting other partitions: %q, before %q", after, before)
	}
	res := srv.quiver(t, dir, nil, "sql", "SELECT sum(v) FROM ev WHERE k = 'plain'", "--format", "csv")
	if res.code == 0 {
		t.Errorf("a query of a corrupted partition succeeded (%q): the test proves nothing", res.stdout)
	}
}

// corruptPages overwrites the data pages of the Parquet file p, keeping its size,
// footer and modification time.
func corruptPages(t *testing.T, p string) {
	t.Helper()
	st, err := os.Stat(p)
	must(t, err)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	tail := make([]byte, 8)
	_, err = f.ReadAt(tail, st.Size()-8)
	must(t, err)
	footer := int64(binary.LittleEndian.Uint32(tail[:4]))
	junk := make([]byte, st.Size()-8-footer-4)
	for i := range junk {
		junk[i] = 0xA5
	}
	_, err = f.WriteAt(junk, 4)
	must(t, err)
	must(t, f.Close())
	must(t, os.Chtimes(p, st.ModTime(), st.ModTime()))
}

// TestCLIPutPartitionBy: quiver put --partition-by writes partitions, --append adds
// to them (with or without the flag), --replace replaces them, and a column that
// cannot partition is refused with the server's message.
func TestCLIPutPartitionBy(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "sales.csv"), []byte("id,region,day,amount\n1,eu,2024-01-02,1.5\n2,us,2024-01-02,2.5\n3,eu,2024-01-03,3.5\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "more.csv"), []byte("id,region,day,amount\n4,apac,2024-01-02,4.5\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "again.csv"), []byte("id,region,day,amount\n5,eu,2024-01-04,5.5\n"), 0o600))

	srv.ok(t, dir, "put", "sales", "sales.csv", "--partition-by", "region,day")
	srv.ok(t, dir, "put", "sales", "more.csv", "--append", "--partition-by", "region,day")
	srv.ok(t, dir, "put", "sales", "again.csv", "--append")
	sql := srv.ok(t, dir, "sql", "SELECT region, day, sum(amount) AS s, typeof(day) AS td FROM sales GROUP BY ALL ORDER BY ALL", "--format", "csv").stdout
	want := "region,day,s,td\napac,2024-01-02,4.5,DATE\neu,2024-01-02,1.5,DATE\neu,2024-01-03,3.5,DATE\neu,2024-01-04,5.5,DATE\nus,2024-01-02,2.5,DATE\n"
	if sql != want {
		t.Errorf("SQL:\n%s\nwant\n%s", sql, want)
	}
	c := srv.client(t)
	info, err := c.GetFlightInfo(context.Background(), pathDescriptor("sales"))
	must(t, err)
	schema, err := flight.DeserializeSchema(info.Schema, memory.DefaultAllocator)
	must(t, err)
	if got := types(schema); got != "id:int64 amount:float64 region:utf8 day:date32" {
		t.Errorf("schema %s", got)
	}

	r := srv.quiver(t, dir, nil, "put", "sales", "more.csv", "--append", "--partition-by", "region")
	if r.code == 0 || !strings.Contains(r.stderr, "partitioned by region, day, not by region") {
		t.Errorf("append by other columns: exit %d, stderr %q", r.code, r.stderr)
	}
	r = srv.quiver(t, dir, nil, "put", "other", "more.csv", "--partition-by", "amount")
	if r.code == 0 || !strings.Contains(r.stderr, `partition column "amount" has type float64`) {
		t.Errorf("a float partition column: exit %d, stderr %q", r.code, r.stderr)
	}
	r = srv.quiver(t, dir, nil, "put", "other", "more.csv", "--partition-by", "region,")
	if r.code != 2 {
		t.Errorf("--partition-by 'region,': exit %d, want 2 (usage); stderr %q", r.code, r.stderr)
	}

	srv.ok(t, dir, "put", "sales", "more.csv", "--replace", "--yes", "--partition-by", "region")
	sql = srv.ok(t, dir, "sql", "SELECT * FROM sales", "--format", "csv").stdout
	if sql != "id,day,amount,region\n4,2024-01-02,4.5,apac\n" {
		t.Errorf("after replace:\n%s", sql)
	}
}
