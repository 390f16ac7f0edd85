package flightsql

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/catalog/partcache"
	"github.com/quiverdata/quiver/catalog/storage"
	"github.com/quiverdata/quiver/catalog/storage/local"
)

// objectBucket hides the local backend's filesystem operations and local paths, so
// that a store on it commits and reads as on object storage (manifests, the part
// cache, schema files).
type objectBucket struct{ storage.Bucket }

// objectStoreService starts a service whose store is on an objectBucket, read
// through a part cache.
func objectStoreService(t *testing.T) *Service {
	t.Helper()
	b, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store, err := catalog.OpenBucket(context.Background(), objectBucket{b}, catalog.Options{Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	cache, err := partcache.Open(t.TempDir(), partcache.Options{MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	svc, err := NewService(context.Background(), ServiceConfig{Store: store, PartCache: cache, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

// queryCount runs "SELECT count(*) FROM table" as a client's DoGet does.
func queryCount(t *testing.T, svc *Service, table string) (int64, error) {
	t.Helper()
	ctx := context.Background()
	_, ch, err := svc.SQL.stream(ctx, ctx, "SELECT count(*) AS n FROM "+table, nil, nil, nil)
	if err != nil {
		return 0, err
	}
	var n int64
	var serr error
	for chunk := range ch {
		if chunk.Err != nil {
			serr = chunk.Err
		}
		if chunk.Data != nil {
			n = chunk.Data.Column(0).(*array.Int64).Value(0)
			chunk.Data.Release()
		}
	}
	return n, serr
}

// TestQueryRacingChangeOnObjectStorage: on object storage, a dataset replaced,
// appended to or dropped between the query's lease of its parts and the statement
// gives the old rows or the new ones (never the zero rows of the new version's schema
// file, never a missed append), and a drop gives NotFound naming the table.
func TestQueryRacingChangeOnObjectStorage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, store *catalog.Store)
		want   []int64 // acceptable counts; nil: NotFound
	}{
		{"replace", func(t *testing.T, store *catalog.Store) { putIDs(t, store, "racy.parquet", catalog.Replace, 0, 7) }, []int64{30, 7}},
		{"append", func(t *testing.T, store *catalog.Store) {
			putIDs(t, store, "racy.parquet", catalog.Append, 100, 105)
		}, []int64{30, 35}},
		{"drop", func(t *testing.T, store *catalog.Store) {
			if err := store.Drop(context.Background(), "racy.parquet"); err != nil {
				t.Error(err)
			}
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := objectStoreService(t)
			store := svc.SQL.store
			putIDs(t, store, "racy.parquet", catalog.Create, 0, 10)
			putIDs(t, store, "racy.parquet", catalog.Append, 10, 30)
			if n, err := queryCount(t, svc, "racy"); err != nil || n != 30 {
				t.Fatalf("count before = %d, %v; want 30", n, err)
			}
			var once sync.Once
			afterLease = func() { once.Do(func() { tc.change(t, store) }) }
			t.Cleanup(func() { afterLease = nil })
			n, err := queryCount(t, svc, "racy")
			if tc.want == nil {
				if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), `"racy"`) {
					t.Fatalf("query racing a drop: %d rows, %v; want NotFound naming table \"racy\"", n, err)
				}
				return
			}
			if err != nil || (n != tc.want[0] && n != tc.want[1]) {
				t.Fatalf("query racing a %s: %d rows, %v; want %d (old) or %d (new)", tc.name, n, err, tc.want[0], tc.want[1])
			}
		})
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestQueriesUnderChangesOnObjectStorage: on object storage, queries of datasets
// that writers keep replacing and appending to (a commit every few milliseconds)
// always count a whole version: never the zero rows of a schema file (19 of 100
// before the engine refused to read one). The only error allowed is Aborted, for a
// query whose datasets changed every time it fetched them: worth a retry.
func TestQueriesUnderChangesOnObjectStorage(t *testing.T) {
	svc := objectStoreService(t)
	store := svc.SQL.store
	names := []string{"a", "b", "c"}
	for _, n := range names {
		putIDs(t, store, n+".parquet", catalog.Create, 0, 10)
	}
	stop := make(chan struct{})
	var writers, readers sync.WaitGroup
	for i, n := range names {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				mode := catalog.Append
				if (k+i)%3 == 0 {
					mode = catalog.Replace
				}
				putIDs(t, store, n+".parquet", mode, 0, 10)
			}
		}()
	}
	var mu sync.Mutex
	var queries, aborted int
	var bad []string
	for r := range 3 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				table := names[(k+r)%len(names)]
				n, err := queryCount(t, svc, table)
				mu.Lock()
				queries++
				switch {
				case status.Code(err) == codes.Aborted:
					aborted++
				case err != nil || n == 0 || n%10 != 0:
					bad = append(bad, fmt.Sprintf("%s: %d rows, %v", table, n, err))
				}
				mu.Unlock()
			}
		}()
	}
	// Run until enough queries have been answered to mean something (how many are
	// aborted depends on how the machine schedules writers and readers), or give up
	// after a generous while: answers must keep coming under changes.
	const wantAnswered = 30
	deadline := time.Now().Add(90 * time.Second)
	for {
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		answered := queries - aborted
		mu.Unlock()
		if answered >= wantAnswered || time.Now().After(deadline) {
			break
		}
	}
	close(stop)
	readers.Wait()
	writers.Wait()
	t.Logf("%d queries under changes, %d aborted", queries, aborted)
	if len(bad) > 0 {
		t.Fatalf("%d of %d queries went wrong, e.g. %v", len(bad), queries, bad[:min(len(bad), 5)])
	}
	if queries-aborted < wantAnswered {
		t.Fatalf("%d queries ran, %d aborted; want at least %d answered", queries, aborted, wantAnswered)
	}
}
