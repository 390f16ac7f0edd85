package auth

import (
	"context"
	"slices"
	"sync"
)

// slotQueue hands out a fixed number of slots (bcrypt checks) to waiting logins, in
// two queues: logins whose user name and address have no recent failure go before
// those that have. So a flood of guesses from many addresses, each of which has
// failed once, does not make an honest login wait behind all of them. Within a
// queue, first come first served.
type slotQueue struct {
	mu      sync.Mutex
	free    int
	clean   []chan struct{} // waiters without recent failures; closed when granted a slot
	suspect []chan struct{} // waiters with some
}

func newSlotQueue(n int) *slotQueue { return &slotQueue{free: n} }

// acquire waits for a slot, or for ctx to end. The caller calls release once for a
// nil error.
func (q *slotQueue) acquire(ctx context.Context, suspect bool) error {
	q.mu.Lock()
	if q.free > 0 && len(q.clean)+len(q.suspect) == 0 {
		q.free--
		q.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	if suspect {
		q.suspect = append(q.suspect, ready)
	} else {
		q.clean = append(q.clean, ready)
	}
	q.mu.Unlock()

	select {
	case <-ready:
		return nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	waiting := q.remove(ready)
	q.mu.Unlock()
	if !waiting {
		// The slot was granted as ctx ended: pass it on.
		q.release()
	}
	return ctx.Err()
}

// release gives the slot to the first waiter, clean ones first, or frees it.
func (q *slotQueue) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, queue := range []*[]chan struct{}{&q.clean, &q.suspect} {
		if len(*queue) > 0 {
			close((*queue)[0])
			*queue = (*queue)[1:]
			return
		}
	}
	q.free++
}

// remove takes ready out of its queue; false if it is in none (it was granted).
// q.mu is held.
func (q *slotQueue) remove(ready chan struct{}) bool {
	for _, queue := range []*[]chan struct{}{&q.clean, &q.suspect} {
		if i := slices.Index(*queue, ready); i >= 0 {
			*queue = slices.Delete(*queue, i, i+1)
			return true
		}
	}
	return false
}
