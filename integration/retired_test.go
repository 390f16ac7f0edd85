package integration

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quiverdata/quiver/catalog/storage/s3/s3test"
	"github.com/quiverdata/quiver/flightsql/wire"
)

// ingestIDs stores ids [from, from+n) in table through cl: create, append or
// replace as opts say.
func ingestIDs(t testing.TB, cl *fsql.Client, table string, from, n int64, exists fsql.TableDefinitionOptionsTableExistsOption) {
	t.Helper()
	rec := int64Record(memory.DefaultAllocator, "id", from, n)
	defer rec.Release()
	rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	_, err = cl.ExecuteIngest(context.Background(), rdr, &fsql.ExecuteIngestOpts{Table: table,
		TableDefinitionOptions: &fsql.TableDefinitionOptions{IfNotExist: fsql.TableDefinitionOptionsTableNotExistOptionCreate,
			IfExists: exists}})
	if err != nil {
		t.Fatalf("ingest %d rows into %s: %v", n, table, err)
	}
}

// TestOtherNodeReplaceSparesReaders: node A streams a multi-part dataset slowly, a
// plain DoGet and a parts ticket, while node B replaces it and then drops it. B
// deletes no part A reads: both streams finish with exactly the old rows. Once the
// retired grace (shortened here) has passed, B deletes the retired parts: the bucket
// keeps only the manifest.
func TestOtherNodeReplaceSparesReaders(t *testing.T) {
	const grace = 8 * time.Second
	s3srv := s3test.Start(t)
	bucket := s3srv.NewBucket(t)
	nodes := startS3Nodes(t, s3srv, bucket, 2, "--retired-grace", grace.String())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, b := dial(t, nodes[0].addr), dial(t, nodes[1].addr)
	sqlA, sqlB := nodeSQLClient(t, nodes[0].addr), nodeSQLClient(t, nodes[1].addr)

	// Three parts of 1Mi rows (8 MiB of ids each): far more than a stream buffers.
	const parts, rows = 3, 1 << 20
	for i := range int64(parts) {
		ingestIDs(t, sqlA, "big", i*rows, rows, fsql.TableDefinitionOptionsTableExistsOptionAppend)
	}
	want := make([]int64, parts*rows)
	for i := range want {
		want[i] = int64(i)
	}
	desc := &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"big.parquet"}}
	info, err := a.GetFlightInfo(ctx, desc)
	if err != nil || len(info.Endpoint) != parts {
		t.Fatalf("GetFlightInfo through A: %v, %v; want %d endpoints", info, err, parts)
	}
	pt, isParts, ok := wire.DecodePartsTicket(info.Endpoint[0].Ticket.Ticket)
	if !ok || !isParts {
		t.Fatalf("endpoint 0's ticket is not a parts ticket")
	}
	// One parts ticket for every part of the version, as a client could be handed.
	pt.First, pt.Count = 0, parts
	tickets := map[string]*flight.Ticket{
		"plain DoGet":  {Ticket: []byte("big.parquet")},
		"parts ticket": {Ticket: pt.Encode()},
	}

	// Each stream reads one batch, then waits until B has replaced and dropped.
	var started, changed sync.WaitGroup
	started.Add(len(tickets))
	changed.Add(1)
	type result struct {
		ids []int64
		err error
	}
	results := make(map[string]result)
	var mu sync.Mutex
	var readers sync.WaitGroup
	for name, ticket := range tickets {
		readers.Add(1)
		go func() {
			defer readers.Done()
			first := true
			ids, err := streamIDsHook(ctx, a, ticket, func() {
				if first {
					first = false
					started.Done()
					changed.Wait()
				}
			})
			if first {
				started.Done() // failed before its first batch
			}
			mu.Lock()
			results[name] = result{ids, err}
			mu.Unlock()
		}()
	}
	started.Wait()
	ingestIDs(t, sqlB, "big", 5000000, 10, fsql.TableDefinitionOptionsTableExistsOptionReplace)
	if _, err := sqlInt(ctx, sqlB, "SELECT count(*) FROM big"); err != nil {
		t.Fatalf("SQL through B after its replace: %v", err)
	}
	dropDatasetAt(t, b, "big.parquet")
	changed.Done()
	readers.Wait()
	for name, r := range results {
		if r.err != nil {
			t.Errorf("%s through A, while B replaced and dropped: %v", name, r.err)
			continue
		}
		if !slices.Equal(r.ids, want) {
			t.Errorf("%s through A read %d ids; want the old version's %d, in order", name, len(r.ids), len(want))
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Within the grace the parts are all still there; past it B deletes them.
	partKeys := func() []string {
		var out []string
		for _, k := range bucketKeys(t, s3srv, bucket) {
			if strings.HasPrefix(k, "warehouse/big.parquet/part-") {
				out = append(out, k)
			}
		}
		return out
	}
	if got := partKeys(); len(got) != parts+1 {
		t.Fatalf("right after the drop the bucket holds parts %v; want the %d retired ones", got, parts+1)
	}
	deadline := time.Now().Add(grace + 20*time.Second)
	for len(partKeys()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%v after the drop the bucket still holds parts %v; want none past the grace of %v", grace+20*time.Second, partKeys(), grace)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// dropDatasetAt drops name through c.
func dropDatasetAt(t testing.TB, c flight.Client, name string) {
	t.Helper()
	st, err := c.DoAction(context.Background(), &flight.Action{Type: "drop_dataset", Body: []byte(name)})
	if err == nil {
		for {
			if _, err = st.Recv(); err != nil {
				break
			}
		}
	}
	if !errors.Is(err, io.EOF) {
		t.Fatalf("drop %s: %v", name, err)
	}
}
