package integration

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/quiverdata/quiver/catalog/storage/s3/s3test"
)

// Kill tests on an S3 root, as catalog's TestKilledMidPut does on a local one: the
// real binary on versitygw is SIGKILLed in the middle of a put and in the middle of
// commits, then started again on the same bucket and cache directory. Every
// acknowledged write must be there whole, nothing half-written may be visible, and
// what the killed server left in the bucket (parts no manifest names, unfinished
// multipart uploads) must break nothing.

// s3Root is a bucket on a versitygw and the arguments of `quiver serve` on it.
type s3Root struct {
	srv    *s3test.Server
	bucket string
	cache  string // --cache-dir, shared by the servers started on it
}

func newS3Root(t *testing.T) *s3Root {
	t.Helper()
	srv := s3test.Start(t)
	r := &s3Root{srv: srv, bucket: srv.NewBucket(t), cache: t.TempDir()}
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	t.Setenv("AWS_REGION", s3test.Region)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return r
}

// serve starts `quiver serve` on the root.
func (r *s3Root) serve(t *testing.T) *quiverProcess {
	t.Helper()
	return startQuiver(t, t.TempDir(), "--root", "s3://"+r.bucket+"/warehouse", "--addr", "127.0.0.1:0",
		"--s3-endpoint", r.srv.Endpoint, "--s3-path-style", "--cache-dir", r.cache, "--cache-size", "256MiB")
}

// uploadsInProgress counts the bucket's unfinished multipart uploads.
func (r *s3Root) uploadsInProgress(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := r.srv.Client().ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: aws.String(r.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

// kill SIGKILLs p and waits for it to be gone.
func kill(t *testing.T, p *quiverProcess) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	err := <-p.done
	p.done <- err
}

// sqlCount runs SELECT count(*) over table through Flight SQL.
func sqlCount(t *testing.T, srv *testServer, table string) int64 {
	t.Helper()
	cl := srv.sqlClient(t)
	ctx := context.Background()
	info, err := cl.Execute(ctx, "SELECT count(*) AS n FROM "+table)
	if err != nil {
		t.Fatalf("SQL count of %s: %v", table, err)
	}
	rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatalf("SQL count of %s: %v", table, err)
	}
	defer rdr.Release()
	var n int64 = -1
	for rdr.Next() {
		n = rdr.RecordBatch().Column(0).(*array.Int64).Value(0)
	}
	if err := rdr.Err(); err != nil {
		t.Fatalf("SQL count of %s: %v", table, err)
	}
	return n
}

// TestS3KilledMidPut SIGKILLs the server while it streams a large replace into a
// multipart upload: after a restart the dataset is the version before, whole, and a
// new put and SQL work despite the abandoned upload.
func TestS3KilledMidPut(t *testing.T) {
	root := newS3Root(t)
	p := root.serve(t)
	srv := &testServer{Addr: p.addr}
	c := srv.client(t)
	putSeq(t, c, "d.parquet", 0, 100)

	batch := int64Record(memory.DefaultAllocator, "v", 1000, 64<<10)
	defer batch.Release()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := c.DoPut(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(batch.Schema()))
	w.SetFlightDescriptor(pathDescriptor("d.parquet"))
	// Send until the server has a multipart upload of the new version under way: the
	// kill lands mid-put, with parts of the new version already in the bucket.
	sent := 0
	for deadline := time.Now().Add(60 * time.Second); ; sent++ {
		if err := w.Write(batch); err != nil {
			t.Fatalf("write batch %d: %v", sent, err)
		}
		if sent%8 == 0 && root.uploadsInProgress(t) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d batches the server has no multipart upload under way", sent)
		}
	}
	kill(t, p)
	cancel()
	w.Close() // fails: the server is gone; releases the writer's buffers

	p2 := root.serve(t)
	srv2 := &testServer{Addr: p2.addr}
	c2 := srv2.client(t)
	got, err := tryGet(context.Background(), c2, []byte("d.parquet"))
	if err != nil || len(got) != 100 || got[0] != "0" || got[99] != "99" {
		t.Fatalf("after a kill mid-put of %d batches, d.parquet = %d values, %v; want the previous 0..99", sent, len(got), err)
	}
	checkRows(t, c2, "d.parquet", 100)
	if n := sqlCount(t, srv2, "d"); n != 100 {
		t.Fatalf("SQL count after restart = %d, want 100", n)
	}
	// The abandoned upload and any parts the killed put committed break nothing:
	// listing shows one dataset, and a replace and an append go through.
	if names := listNames(t, c2); !slices.Equal(names, []string{"d.parquet"}) {
		t.Fatalf("after restart the server lists %v, want [d.parquet]", names)
	}
	putSeq(t, c2, "d.parquet", 500, 10)
	appendIDs(t, srv2, "d", 510, 5)
	if n := sqlCount(t, srv2, "d"); n != 15 {
		t.Fatalf("SQL count after replace and append = %d, want 15", n)
	}
	checkRows(t, c2, "d.parquet", 15)
}

// appendIDs appends the values from, from+1, ... (n of them) to table through Flight
// SQL bulk ingest, creating it if missing.
func appendIDs(t *testing.T, srv *testServer, table string, from, n int64) {
	t.Helper()
	if err := tryAppend(context.Background(), srv.sqlClient(t), table, from, n); err != nil {
		t.Fatalf("append %d rows to %s: %v", n, table, err)
	}
}

func tryAppend(ctx context.Context, cl *fsql.Client, table string, from, n int64) error {
	rec := int64Record(memory.DefaultAllocator, "v", from, n)
	defer rec.Release()
	rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
	if err != nil {
		return err
	}
	defer rdr.Release()
	_, err = cl.ExecuteIngest(ctx, rdr, &fsql.ExecuteIngestOpts{Table: table, TableDefinitionOptions: &fsql.TableDefinitionOptions{
		IfNotExist: fsql.TableDefinitionOptionsTableNotExistOptionCreate,
		IfExists:   fsql.TableDefinitionOptionsTableExistsOptionAppend,
	}})
	return err
}

// TestS3KilledMidCommit has two clients append batches of distinct values to one
// dataset in a loop and SIGKILLs the server at a random moment, so the kill lands
// among part uploads and manifest commits. After a restart every acknowledged
// append is there, each append is whole or absent, and at most the one append per
// client that was in flight when the server died may be there unacknowledged.
func TestS3KilledMidCommit(t *testing.T) {
	const (
		clients = 2
		rows    = 1000 // per append
	)
	root := newS3Root(t)
	p := root.serve(t)
	srv := &testServer{Addr: p.addr}
	appendIDs(t, srv, "log", 0, rows) // append 0 of client 0, acknowledged before the kill

	var (
		mu    sync.Mutex
		acked = map[int64]bool{0: true} // by first value
		wg    sync.WaitGroup
	)
	for w := int64(0); w < clients; w++ {
		cl := srv.sqlClient(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(1); ; i++ {
				from := (w*1_000_000 + i) * rows
				if err := tryAppend(context.Background(), cl, "log", from, rows); err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked[from] = true
				mu.Unlock()
			}
		}()
	}
	time.Sleep(time.Duration(300+rand.IntN(1500)) * time.Millisecond)
	kill(t, p)
	wg.Wait()
	mu.Lock()
	nAcked := len(acked)
	mu.Unlock()
	if nAcked < 3 {
		t.Fatalf("only %d appends acknowledged before the kill: the test did not exercise commits", nAcked)
	}

	p2 := root.serve(t)
	srv2 := &testServer{Addr: p2.addr}
	c2 := srv2.client(t)
	got, err := tryGet(context.Background(), c2, []byte("log.parquet"))
	if err != nil {
		t.Fatalf("DoGet after restart: %v", err)
	}
	// Group the values by append: the first value of its batch.
	counts := map[int64]int{}
	for _, s := range got {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("value %q: %v", s, err)
		}
		counts[v/rows*rows]++
	}
	unacked := 0
	for from, n := range counts {
		if n != rows {
			t.Errorf("append at %d holds %d of its %d rows: half-written", from, n, rows)
		}
		if !acked[from] {
			unacked++
		}
	}
	for from := range acked {
		if counts[from] == 0 {
			t.Errorf("acknowledged append at %d is lost", from)
		}
	}
	if unacked > clients {
		t.Errorf("%d unacknowledged appends visible, at most %d (one in flight per client) may be", unacked, clients)
	}
	t.Logf("%d appends acknowledged before the kill, %d visible after restart (%d unacknowledged)", nAcked, len(counts), unacked)
	if t.Failed() {
		return
	}
	// The restarted server goes on appending, and SQL sees the same rows as DoGet.
	total := int64(len(got))
	appendIDs(t, srv2, "log", 900_000_000, rows)
	if n := sqlCount(t, srv2, "log"); n != total+rows {
		t.Fatalf("SQL count after one more append = %d, want %d", n, total+rows)
	}
}
