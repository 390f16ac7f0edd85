//go:build duckdb_arrow

package engine

import (
	"errors"
	"sync"
	"time"

	bindings "github.com/duckdb/duckdb-go-bindings"

	"github.com/quiverdata/quiver/catalog/lowprio"
)

// A streaming DuckDB result buffers only about 1 MB of produced rows
// (streaming_buffer_size, which lock_configuration keeps at its default): while the
// reader of a Rows is busy copying a batch or sending one, DuckDB's worker threads
// fill that buffer in a millisecond or two and then wait. So a flat result
// (flatbatch.go) is fetched by a goroutine of its own, which keeps taking DuckDB's
// chunks while the reader builds and sends batches, up to about one batch's bytes
// (Config.BatchBytes; a single larger chunk is taken alone) held ahead. On the
// 10M-row SELECT * from the memory tier, DuckDB alone produced its chunks in 450 ms,
// and with the copy into batches in line 720-1060 ms.

// errRowsReleased ends a fetch that Release interrupted.
var errRowsReleased = errors.New("rows released")

// chunkQueue holds the chunks fetched ahead of the reader, at most max bytes of them
// but for a single chunk.
type chunkQueue struct {
	mu     sync.Mutex
	cond   sync.Cond
	chunks []queuedChunk
	bytes  int64
	max    int64
	done   bool  // the fetcher has stopped: no more chunks will come
	err    error // why it stopped; nil at the clean end of the result
	stop   bool  // the reader is gone: the fetcher stops
}

// queuedChunk is a fetched chunk with its size measured by the fetcher: bytes as
// fitFlat counts them, and strs, each column's string bytes (0 for fixed-width
// columns), so that the reader need not read the strings' lengths again.
type queuedChunk struct {
	chunk bindings.DataChunk
	bytes int64
	strs  []int64
}

func newChunkQueue(max int64) *chunkQueue {
	q := &chunkQueue{max: max}
	q.cond.L = &q.mu
	return q
}

// waitRoom waits until the queue has room for another chunk; false: stop.
func (q *chunkQueue) waitRoom() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for !q.stop && len(q.chunks) > 0 && q.bytes >= q.max {
		q.cond.Wait()
	}
	return !q.stop
}

// push adds a chunk; false (the chunk not taken) after stop.
func (q *chunkQueue) push(c queuedChunk) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stop {
		return false
	}
	q.chunks = append(q.chunks, c)
	q.bytes += c.bytes
	q.cond.Broadcast()
	return true
}

// finish records that no chunk will follow, and why.
func (q *chunkQueue) finish(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.done, q.err = true, err
	q.cond.Broadcast()
}

// pop waits for the next chunk. At the end it returns a chunk with a nil Ptr and the
// error the fetcher stopped with (nil at the clean end), errRowsReleased after stop.
func (q *chunkQueue) pop() (queuedChunk, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for !q.stop && len(q.chunks) == 0 && !q.done {
		q.cond.Wait()
	}
	switch {
	case q.stop:
		return queuedChunk{}, errRowsReleased
	case len(q.chunks) == 0:
		return queuedChunk{}, q.err
	}
	c := q.chunks[0]
	q.chunks[0] = queuedChunk{}
	q.chunks = q.chunks[1:]
	q.bytes -= c.bytes
	q.cond.Broadcast()
	return c, nil
}

// close stops the fetcher and wakes the reader.
func (q *chunkQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stop = true
	q.cond.Broadcast()
}

// drain destroys the chunks never read. The fetcher has returned.
func (q *chunkQueue) drain() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range q.chunks {
		bindings.DestroyDataChunk(&q.chunks[i].chunk)
	}
	q.chunks, q.bytes = nil, 0
}

// startFetching starts the goroutine that fetches r's chunks ahead, once. r.mu is
// held. Release stops it and waits for it (stopFetching).
func (r *Rows) startFetching() {
	if r.fetcherDone != nil {
		return
	}
	r.fetcherDone = make(chan struct{})
	if r.bulk {
		lowprio.Go(func() { r.fetchAhead(r.queue) })
	} else {
		go r.fetchAhead(r.queue)
	}
}

// fetchAhead takes DuckDB's chunks into q until the result ends, fails, or the reader
// stops. At the clean end the result is left for the reader to free (fetchFlat): the
// chunks it has not read yet were DuckDB's. On an error nextChunk has freed it.
func (r *Rows) fetchAhead(q *chunkQueue) {
	defer close(r.fetcherDone)
	s := r.s
	for q.waitRoom() {
		s.mu.Lock()
		chunk, err := r.nextChunk()
		s.mu.Unlock()
		if err != nil || chunk.Ptr == nil {
			q.finish(err)
			return
		}
		if !q.push(measureChunk(r.flat, chunk)) {
			bindings.DestroyDataChunk(&chunk)
			return
		}
	}
}

// stopFetching waits for the fetcher, stopped by r.queue.close, and frees what it
// fetched. r.mu is held. A fetcher inside DuckDB is interrupted again every 5 ms
// until it leaves, as session.shutdown does.
func (r *Rows) stopFetching() {
	if r.queue == nil {
		return
	}
	if r.fetcherDone != nil {
		for stopped := false; !stopped; {
			select {
			case <-r.fetcherDone:
				stopped = true
			case <-time.After(5 * time.Millisecond):
				r.s.interrupt()
			}
		}
	}
	r.queue.drain()
}

// endSession frees the DuckDB result and connection from the reader's side.
func (r *Rows) endSession() {
	r.s.mu.Lock()
	r.s.destroyLocked(nil)
	r.s.mu.Unlock()
}
