package flightsql

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Idle prepared statements are freed, with their bound parameters, even when no
// other request comes to trigger a sweep.
func TestIdleHandlesAreFreedByTheJanitor(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	r := newHandleRegistry(200*time.Millisecond, DefaultLimits, nil)
	defer r.close()

	id, err := r.addPrepared(&preparedStatement{sql: "SELECT ?"})
	if err != nil {
		t.Fatal(err)
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "p", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	b.Field(0).(*array.Int64Builder).Append(1)
	rec := b.NewRecordBatch()
	b.Release()
	if ok, err := r.bind(id, rec, nil); !ok || err != nil {
		t.Fatalf("bind to a fresh handle failed: %v", err)
	}
	q := r.addQuery()

	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		_, okP := r.prepared[id]
		_, okQ := r.queries[q]
		r.mu.Unlock()
		if !okQ && !okP {
			r.mu.Lock()
			defer r.mu.Unlock()
			if len(r.clients) != 0 || r.bytes != 0 {
				t.Fatalf("after expiry the registry still counts %v clients, %d bytes", r.clients, r.bytes)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("handles still there after 10s: prepared %v, query %v", okP, okQ)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// int64Params is a parameter batch of n int64 rows: 8n bytes of values.
func int64Params(mem memory.Allocator, n int) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{{Name: "p", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
	}
	return b.NewRecordBatch()
}

// The registry counts prepared statements and bound bytes per client and in all,
// refuses what would go over a limit naming its flag, and gives the room back when a
// statement is closed or rebound.
func TestHandleLimits(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	r := newHandleRegistry(time.Hour, Limits{PreparedPerClient: 2, BoundBytesPerClient: 8 << 10, BoundBytes: 12 << 10}.withDefaults(), nil)
	defer r.close()
	add := func(client string) (string, error) {
		return r.addPrepared(&preparedStatement{owner: client, client: client, sql: "SELECT ?"})
	}
	wantLimit := func(err error, mention string) {
		t.Helper()
		if !errors.Is(err, errLimit) || !strings.Contains(err.Error(), mention) {
			t.Fatalf("got %v, want errLimit naming %s", err, mention)
		}
	}

	a1, _ := add("user a")
	a2, err := add("user a")
	if err != nil {
		t.Fatal(err)
	}
	_, err = add("user a")
	wantLimit(err, "--max-prepared-per-client=2")
	b1, err := add("user b")
	if err != nil {
		t.Fatalf("another client is refused: %v", err)
	}
	if !r.closePrepared(a2, "user a") {
		t.Fatal("close")
	}
	if a2, err = add("user a"); err != nil {
		t.Fatalf("after a close: %v", err)
	}

	// 6000 bytes of values (6 KiB buffers once padded to 64 bytes: about 5.9 KiB).
	bind := func(id string, n int) error {
		t.Helper()
		rec := int64Params(mem, n)
		ok, err := r.bind(id, rec, nil)
		if !ok || err != nil {
			rec.Release()
		}
		if !ok {
			t.Fatalf("bind %s: unknown handle", id)
		}
		return err
	}
	if err := bind(a1, 750); err != nil {
		t.Fatal(err)
	}
	wantLimit(bind(a2, 750), "--max-bound-bytes-per-client=8192")
	if err := bind(a1, 750); err != nil { // rebinding replaces: no more held
		t.Fatalf("rebind: %v", err)
	}
	if err := bind(b1, 750); err != nil {
		t.Fatalf("another client's bind: %v", err)
	}
	c1, _ := add("user c")
	wantLimit(bind(c1, 750), "--max-bound-bytes=12288")
	if !r.closePrepared(a1, "user a") {
		t.Fatal("close")
	}
	if err := bind(c1, 750); err != nil {
		t.Fatalf("after the other client closed its statement: %v", err)
	}
}

// Statement queries are bounded: at the bound a new one takes the place of one not
// running, never of a running one (it must stay cancellable), and a cancelled one
// stays while others can go. Registering one does not walk the others.
func TestQueryHandlesBounded(t *testing.T) {
	r := newHandleRegistry(time.Hour, DefaultLimits, nil)
	defer r.close()
	const bound = 64
	r.maxQueries = bound

	running := r.addQuery()
	ctx, done, err := r.startQuery(t.Context(), running)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	cancelled := r.addQuery()
	if !r.cancelQuery(cancelled) {
		t.Fatal("a fresh query could not be cancelled")
	}
	for range 10 * bound {
		r.addQuery()
	}
	r.mu.Lock()
	n := len(r.queries)
	_, keptRunning := r.queries[running]
	_, keptCancelled := r.queries[cancelled]
	r.mu.Unlock()
	if n != bound {
		t.Fatalf("the registry remembers %d queries, want the bound %d", n, bound)
	}
	if !keptRunning {
		t.Fatal("a running query was forgotten to make room")
	}
	if !keptCancelled {
		t.Fatal("a cancelled query was forgotten while others could go")
	}
	if !r.cancelQuery(running) {
		t.Fatal("the running query can no longer be cancelled")
	}
	if ctx.Err() == nil {
		t.Fatal("cancelling the running query did not cancel its context")
	}
	if _, _, err := r.startQuery(t.Context(), cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("a DoGet of the cancelled query got %v, want context.Canceled", err)
	}
}

// BenchmarkAddQuery registers statement queries with 50,000 remembered (what a
// server answering 55 statements a second holds at the default 15-minute idle
// timeout). "add" is a registration now; "sweep" is the walk over every remembered
// query that each registration made before the bound replaced it.
func BenchmarkAddQuery(b *testing.B) {
	r := newHandleRegistry(time.Hour, DefaultLimits, nil)
	defer r.close()
	for range 50_000 {
		r.addQuery()
	}
	b.Run("add", func(b *testing.B) {
		for b.Loop() {
			r.addQuery()
		}
	})
	b.Run("sweep", func(b *testing.B) {
		for b.Loop() {
			r.mu.Lock()
			r.sweepLocked(time.Now())
			r.mu.Unlock()
		}
	})
}
