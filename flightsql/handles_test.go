package flightsql

import (
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
	r := newHandleRegistry(200 * time.Millisecond)
	defer r.close()

	id := r.addPrepared(&preparedStatement{sql: "SELECT ?"})
	schema := arrow.NewSchema([]arrow.Field{{Name: "p", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	b.Field(0).(*array.Int64Builder).Append(1)
	rec := b.NewRecordBatch()
	b.Release()
	if !r.bind(id, rec, nil) {
		t.Fatal("bind to a fresh handle failed")
	}
	q := r.addQuery()

	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		_, okP := r.prepared[id]
		_, okQ := r.queries[q]
		r.mu.Unlock()
		if !okQ && !okP {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("handles still there after 10s: prepared %v, query %v", okP, okQ)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
