package catalog

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// A Reader decodes every batch into new buffers: about 440 MB of them for a read of
// 10M rows x 4 columns, freed as fast as the client takes the batches. With the Go
// heap of a streaming server small, that allocation rate ran a garbage collection
// every few megabytes, and the collector's work (write barriers while marking, the
// zeroing of reused spans, returning pages to the OS) cost more CPU than decoding
// the strings did: BenchmarkRead took 193-211 CPU-ms per read at GOGC=100 and
// 137 at GOGC=400.
//
// readPool is the Reader's allocator: it keeps the buffers of the batches its
// reader made once their last reference is released (after gRPC has sent them) and
// hands them out again, so a stream's decoding allocates anew only until it holds
// about the decode-ahead's worth of buffers. It holds at most poolMaxBuffers buffers
// and poolMaxBytes bytes at a time, and gives everything back to the store's
// allocator when its reader is released; buffers freed after that go straight back.
// What it keeps is what its reader had in flight moments before and will need again
// for the next batch: the pool does not raise a stream's peak, it keeps it until the
// stream ends instead of leaving it to the collector (BenchmarkDoGet's server peak
// of Arrow memory went from 20 to 30 MiB).
//
// Reuse is safe exactly when nothing reads a buffer after releasing the last
// reference to it, the rule arrow-go's allocators already impose (the C allocator
// frees at once): the Reader's batches are released by their consumers through
// Release, and a DoGet releases a batch only once gRPC has freed every message that
// borrows from it (flightsql/dogetsend.go).
type readPool struct {
	mem memory.Allocator // where buffers come from and finally go
	// kept counts the bytes every pool of the store keeps (Store.readPooled); a pool
	// keeps a buffer only while the total stays within keptMax, so many streams at
	// once hold at most keptMax together rather than poolMaxBytes each.
	kept    *atomic.Int64
	keptMax int64

	mu     sync.Mutex
	closed bool
	bytes  int      // capacity of the buffers in free
	free   [][]byte // whole slices, as mem returned them
	// orig maps the first byte of every buffer handed out from free (or allocated
	// here) to the whole slice mem returned, which is what mem must be given back.
	orig map[*byte][]byte
}

// A stream has about three batches in flight (one decoding, one decoded ahead, one
// with gRPC), each of at most about DefaultBatchBytes; the decoders ask for about
// 2.5 times the bytes they end up using (reservations, levels, growth). At 16 MiB a
// DoGet of 10M x 4 allocated 22-42 MB anew for 1.1 GB of buffers asked for; at
// 8 MiB, 130-254 MB.
const (
	poolMaxBuffers = 32
	poolMaxBytes   = 16 << 20
	// poolMinSize is the smallest buffer worth keeping: smaller ones are cheap to
	// allocate and would crowd out the batch buffers.
	poolMinSize = 64 << 10
	// poolMaxTotal bounds what all the readers of a store keep together: sixteen
	// streams' worth. Beyond it, freed buffers go back to the allocator as before.
	poolMaxTotal = 16 * poolMaxBytes
)

// newReadPool makes a reader's pool over mem, keeping buffers while kept, the
// store's count of kept bytes, stays within keptMax.
func newReadPool(mem memory.Allocator, kept *atomic.Int64, keptMax int64) *readPool {
	return &readPool{mem: mem, kept: kept, keptMax: keptMax, orig: make(map[*byte][]byte)}
}

// Allocate returns size zeroed bytes, as every arrow-go allocator does (a reused
// buffer is zeroed as far as it is handed out; Reallocate zeroes what it adds).
func (p *readPool) Allocate(size int) []byte {
	if size < poolMinSize {
		return p.mem.Allocate(size)
	}
	p.mu.Lock()
	best := -1
	for i, b := range p.free {
		// Take the smallest that fits, and none more than twice the size asked
		// for: a small buffer must not pin a large one.
		if cap(b) >= size && cap(b) <= 2*size && (best < 0 || cap(b) < cap(p.free[best])) {
			best = i
		}
	}
	if best >= 0 {
		b := p.free[best]
		p.free[best] = p.free[len(p.free)-1]
		p.free = p.free[:len(p.free)-1]
		p.bytes -= cap(b)
		p.kept.Add(-int64(cap(b)))
		p.mu.Unlock()
		b = b[:size]
		clear(b)
		return b
	}
	p.mu.Unlock()
	b := p.mem.Allocate(size)
	if len(b) == 0 {
		return b
	}
	p.mu.Lock()
	p.orig[unsafe.SliceData(b)] = b
	p.mu.Unlock()
	return b
}

// Reallocate resizes b: one of the pool's in place when its capacity allows (as
// GoAllocator does), another by the store's allocator while it stays small.
func (p *readPool) Reallocate(size int, b []byte) []byte {
	if !p.owns(b) {
		if size < poolMinSize {
			return p.mem.Reallocate(size, b)
		}
	} else if cap(b) >= size {
		if size > len(b) {
			// Bytes past len held another batch's values: zero them, as bytes
			// never handed out are.
			clear(b[len(b):size])
		}
		return b[:size]
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// owns reports whether b was handed out by the pool.
func (p *readPool) owns(b []byte) bool {
	if cap(b) == 0 {
		return false
	}
	p.mu.Lock()
	_, ours := p.orig[unsafe.SliceData(b)]
	p.mu.Unlock()
	return ours
}

// Free keeps b for reuse, or gives it back to the store's allocator.
func (p *readPool) Free(b []byte) {
	if cap(b) == 0 {
		return
	}
	p.mu.Lock()
	orig, ours := p.orig[unsafe.SliceData(b)]
	if !ours {
		p.mu.Unlock()
		p.mem.Free(b)
		return
	}
	keep := !p.closed && cap(orig) >= poolMinSize && len(p.free) < poolMaxBuffers && p.bytes+cap(orig) <= poolMaxBytes
	if keep && p.kept.Add(int64(cap(orig))) > p.keptMax {
		p.kept.Add(-int64(cap(orig))) // over the store-wide bound
		keep = false
	}
	if !keep {
		delete(p.orig, unsafe.SliceData(b))
		p.mu.Unlock()
		p.mem.Free(orig)
		return
	}
	p.free = append(p.free, orig)
	p.bytes += cap(orig)
	p.mu.Unlock()
}

// close gives the kept buffers back; buffers freed later go back one by one.
func (p *readPool) close() {
	p.mu.Lock()
	free := p.free
	p.kept.Add(-int64(p.bytes))
	p.free, p.bytes, p.closed = nil, 0, true
	for _, b := range free {
		delete(p.orig, unsafe.SliceData(b))
	}
	p.mu.Unlock()
	for _, b := range free {
		p.mem.Free(b)
	}
}
