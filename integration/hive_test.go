package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/quiverdata/quiver/catalog/storage/s3/s3test"
)

// hiveParts is the hand-made partitioned dataset the hive tests serve: part path
// under the dataset directory, and the ids it holds.
var hiveParts = []struct {
	dirs     string
	from, to int64
}{
	{"year=2024/month=01", 0, 3},
	{"year=2024/month=02", 3, 5},
	{"year=2025/month=01", 5, 6},
}

// writeHiveTree writes the events dataset's parts under dir/events, as Spark or
// pyarrow would, with a _SUCCESS marker beside them.
func writeHiveTree(t *testing.T, dir string) {
	t.Helper()
	for _, p := range hiveParts {
		d := filepath.Join(dir, "events", filepath.FromSlash(p.dirs))
		must(t, os.MkdirAll(d, 0o755))
		rec := int64Record(memory.DefaultAllocator, "id", p.from, p.to-p.from)
		writeParquetFile(t, filepath.Join(d, "part-0.parquet"), rec)
		rec.Release()
	}
	must(t, os.WriteFile(filepath.Join(dir, "events", "_SUCCESS"), nil, 0o644))
}

// checkHiveServed checks every door of srv on the events dataset: the Flight
// schema, a plain DoGet and SQL (types, values and a filter on a partition).
func checkHiveServed(t *testing.T, srv *testServer, logs func() string) {
	t.Helper()
	c := srv.client(t)
	info, err := c.GetFlightInfo(context.Background(), pathDescriptor("events"))
	if err != nil {
		t.Fatalf("GetFlightInfo(events): %v\n%s", err, logs())
	}
	schema, err := flight.DeserializeSchema(info.Schema, memory.DefaultAllocator)
	must(t, err)
	if got := types(schema); got != "id:int64 year:int64 month:utf8" {
		t.Errorf("schema %s, want id:int64 year:int64 month:utf8 (DuckDB keeps 01 a string)", got)
	}
	if info.TotalRecords != 6 {
		t.Errorf("total_records %d, want 6", info.TotalRecords)
	}
	found := false
	for _, li := range listInfos(t, c) {
		if li.GetFlightDescriptor().GetPath()[0] == "events" {
			found = bytes.Equal(li.Schema, info.Schema)
		}
	}
	if !found {
		t.Errorf("ListFlights does not list events with its partitioned schema")
	}

	_, recs := getAll(t, c, info.Endpoint[0].Ticket)
	var got []string
	for _, rec := range recs {
		ids := rec.Column(0).(*array.Int64)
		years := rec.Column(1).(*array.Int64)
		months := rec.Column(2).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			got = append(got, fmt.Sprintf("%d:%d-%s", ids.Value(i), years.Value(i), months.Value(i)))
		}
	}
	want := "0:2024-01 1:2024-01 2:2024-01 3:2024-02 4:2024-02 5:2025-01"
	if strings.Join(got, " ") != want {
		t.Errorf("DoGet rows %v, want %s", got, want)
	}

	dir := t.TempDir()
	sql := srv.ok(t, dir, "sql", "SELECT year, month, count(*) AS n, typeof(year) AS ty, typeof(month) AS tm FROM events GROUP BY ALL ORDER BY ALL", "--format", "csv").stdout
	if sql != "year,month,n,ty,tm\n2024,01,3,BIGINT,VARCHAR\n2024,02,2,BIGINT,VARCHAR\n2025,01,1,BIGINT,VARCHAR\n" {
		t.Errorf("SQL by partition:\n%s", sql)
	}
	sql = srv.ok(t, dir, "sql", "SELECT sum(id) AS s FROM events WHERE year = 2024 AND month = '02'", "--format", "csv").stdout
	if sql != "s\n7\n" {
		t.Errorf("SQL with a partition filter:\n%s", sql)
	}
}

// TestHivePartitionsLocal serves a hand-copied hive-style directory from a local root.
func TestHivePartitionsLocal(t *testing.T) {
	skipOnS3(t, "writes a hive directory tree into the root directory (TestHivePartitionsOnS3 serves one from a bucket)")
	srv := startServer(t)
	writeHiveTree(t, srv.Root)
	checkHiveServed(t, srv, func() string { return "" })

	// An append without the partition columns is refused naming them; with them, its
	// rows go to their partitions (a new one here) and the columns keep their types.
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "less.csv"), []byte("id\n100\n"), 0o600))
	r := srv.quiver(t, dir, nil, "put", "events", "less.csv", "--append")
	if r.code == 0 || !strings.Contains(r.stderr, `column "year"`) {
		t.Errorf("append without the partition columns: exit %d, stderr %q", r.code, r.stderr)
	}
	checkHiveServed(t, srv, func() string { return "" })
	must(t, os.WriteFile(filepath.Join(dir, "more.csv"), []byte("id,year,month\n100,2024,x\n"), 0o600))
	srv.ok(t, dir, "put", "events", "more.csv", "--append")
	sql := srv.ok(t, dir, "sql", "SELECT year, month, count(*) AS n, typeof(year) AS ty FROM events GROUP BY ALL ORDER BY ALL", "--format", "csv").stdout
	if sql != "year,month,n,ty\n2024,01,3,BIGINT\n2024,02,2,BIGINT\n2024,x,1,BIGINT\n2025,01,1,BIGINT\n" {
		t.Errorf("SQL after the append:\n%s", sql)
	}
	if _, err := os.Stat(filepath.Join(srv.Root, "events", "year=2024", "month=x")); err != nil {
		t.Errorf("the appended row's partition directory: %v", err)
	}
}

// TestHivePartitionsOnS3 serves the same directory copied into a bucket (as
// `aws s3 cp --recursive` would) through `quiver serve --root s3://...`.
func TestHivePartitionsOnS3(t *testing.T) {
	s3srv := s3test.Start(t)
	bucket := s3srv.NewBucket(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	t.Setenv("AWS_REGION", s3test.Region)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	local := t.TempDir()
	writeHiveTree(t, local)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	must(t, filepath.Walk(local, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, err := filepath.Rel(local, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = s3srv.Client().PutObject(ctx, &awss3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String("warehouse/" + filepath.ToSlash(rel)), Body: bytes.NewReader(data),
		})
		return err
	}))

	p := startQuiver(t, t.TempDir(), "--root", "s3://"+bucket+"/warehouse", "--addr", "127.0.0.1:0",
		"--s3-endpoint", s3srv.Endpoint, "--s3-path-style", "--cache-dir", t.TempDir(), "--cache-size", "256MiB")
	checkHiveServed(t, &testServer{Addr: p.addr}, p.logText)
}
