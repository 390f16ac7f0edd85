package catalog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/parquet/file"
)

// ErrClosed is returned by calls that would wait for the store after Close.
var ErrClosed = errors.New("the dataset store is closed")

// beforeConvert, when a test sets it, is called by the converter before each
// conversion, with the converter's context.
var beforeConvert func(ctx context.Context)

// convertLoop is the converter goroutine: it converts the queued landings in order
// and exits when the queue is empty or the store closes.
func (s *Store) convertLoop() {
	l := &s.land
	defer l.wg.Done()
	for {
		l.mu.Lock()
		if len(l.queue) == 0 || l.ctx.Err() != nil {
			l.running = false
			l.mu.Unlock()
			return
		}
		ld := l.queue[0]
		ctx := l.ctx
		l.mu.Unlock()
		if beforeConvert != nil {
			beforeConvert(ctx)
		}

		err := s.convert(ctx, ld)

		l.mu.Lock()
		if err != nil && ctx.Err() != nil {
			// Closing: the landing stays on disk and the next Open converts it.
			l.running = false
			l.signalLocked()
			l.mu.Unlock()
			return
		}
		l.queue = l.queue[1:]
		if err == nil {
			l.bytes -= ld.bytes
			l.doneLocked(ld.name)
		} else {
			s.log.Error("cannot convert an acknowledged upload to Parquet; it is kept and converted again when the store opens",
				"dataset", ld.name, "landing", ld.key, "err", err)
			l.failLocked(ld.name, fmt.Errorf("dataset %q: an upload acknowledged earlier could not be converted to Parquet (it is kept and converted again when the server restarts): %w", ld.name, err))
		}
		l.signalLocked()
		l.mu.Unlock()
	}
}

// doneLocked counts one landing of name as converted.
func (l *landings) doneLocked(name string) {
	l.pending[name]--
	if l.pending[name] == 0 {
		delete(l.pending, name)
		delete(l.schema, name)
	}
}

// failLocked marks name as failed: its queued landings are not converted (their
// order would be lost) and stay on disk for the next Open.
func (l *landings) failLocked(name string, err error) {
	if l.failed == nil {
		l.failed = make(map[string]error)
	}
	l.failed[name] = err
	delete(l.pending, name)
	delete(l.schema, name)
	kept := l.queue[:0]
	for _, q := range l.queue {
		if q.name != name {
			kept = append(kept, q)
		}
	}
	l.queue = kept
}

// convert encodes the landing ld to a Parquet part, commits it as a put of ld's mode
// would have, and deletes the landing.
func (s *Store) convert(ctx context.Context, ld *landing) error {
	obj, err := s.bucket.Open(ctx, ld.key)
	if err != nil {
		return fmt.Errorf("open landing: %w", err)
	}
	defer obj.Close()
	rdr, err := ipc.NewReader(bufio.NewReaderSize(io.NewSectionReader(obj, 0, obj.Size()), 1<<20), ipc.WithAllocator(s.opts.Allocator))
	if err != nil {
		return fmt.Errorf("read landing: %w", err)
	}
	defer rdr.Release()
	tmp := tempPrefix + randomSuffix()
	w, err := s.bucket.Create(ctx, tmp)
	if err != nil {
		return err
	}
	if _, err = s.writeParquetTagged(ctx, w, rdr, landingIDKey, ld.id); err == nil {
		reached("convert: part written")
		// Complete: the commit runs to its end (each step is durable).
		err = s.commit(context.WithoutCancel(ctx), ld.name, ld.mode, tmp, rdr.Schema())
	}
	if err != nil {
		s.files.RemoveAll(context.WithoutCancel(ctx), tmp)
		return err
	}
	reached("convert: committed")
	// Durably: a landing that a crash brought back after a later commit to the
	// dataset would no longer be recognised as converted (its id is no longer in the
	// newest part) and would be applied twice. If this fails, the dataset fails
	// (convertLoop) until the next Open, which recognises the landing as converted.
	if err := s.bucket.Delete(context.WithoutCancel(ctx), ld.key); err != nil {
		return fmt.Errorf("remove the converted landing: %w", err)
	}
	reached("convert: landing removed")
	return nil
}

// recoverLandings converts, in order, the landings an earlier run left (Open calls
// it before serving). A landing whose conversion was committed is only deleted.
func (s *Store) recoverLandings(ctx context.Context) error {
	entries, err := s.files.ListAll(ctx, "")
	if err != nil {
		return err
	}
	var lds []*landing
	for _, e := range entries {
		id, mode, name, ok := parseLandingKey(e.Key)
		if e.Dir || !ok {
			if !e.Dir && len(e.Key) > len(landingPrefix) && e.Key[:len(landingPrefix)] == landingPrefix {
				s.log.Warn("ignoring a file with a landing's prefix but not its name", "key", e.Key)
			}
			continue
		}
		lds = append(lds, &landing{key: e.Key, id: id, name: name, mode: mode, bytes: e.Size})
	}
	sort.Slice(lds, func(i, j int) bool { return lds[i].id < lds[j].id })
	for _, ld := range lds {
		if seq := parseSeq(ld.id); seq > s.land.lastSeq {
			s.land.lastSeq = seq
		}
		s.land.mu.Lock()
		failed := s.land.failed[ld.name] != nil
		s.land.mu.Unlock()
		if failed {
			s.land.bytes += ld.bytes
			continue // an earlier landing of it failed: keep the order
		}
		done, err := s.landed(ctx, ld)
		if err == nil && !done {
			s.log.Info("converting an upload acknowledged before a restart", "dataset", ld.name, "landing", ld.key)
			err = s.convert(ctx, ld)
		} else if err == nil {
			err = s.bucket.Delete(ctx, ld.key)
		}
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			s.log.Error("cannot convert an acknowledged upload to Parquet; it is kept and converted again when the store opens",
				"dataset", ld.name, "landing", ld.key, "err", err)
			s.land.mu.Lock()
			s.land.failLocked(ld.name, fmt.Errorf("dataset %q: an upload acknowledged earlier could not be converted to Parquet (it is kept and converted again when the server restarts): %w", ld.name, err))
			s.land.bytes += ld.bytes
			s.land.mu.Unlock()
		}
	}
	return nil
}

// parseSeq reads the sequence at the start of a landing id (0 if malformed).
func parseSeq(id string) int64 {
	var seq int64
	fmt.Sscanf(id[:16], "%x", &seq)
	return seq
}

// landed reports whether the conversion of ld was committed: the newest part of its
// dataset carries ld's id.
func (s *Store) landed(ctx context.Context, ld *landing) (bool, error) {
	info, err := s.stat(ctx, ld.name)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if len(info.Keys) == 0 {
		return false, nil
	}
	obj, err := s.bucket.Open(ctx, info.Keys[len(info.Keys)-1])
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer obj.Close()
	pf, err := file.NewParquetReader(io.NewSectionReader(obj, 0, obj.Size()))
	if err != nil {
		return false, nil // not a part we wrote
	}
	defer pf.Close()
	v := pf.MetaData().KeyValueMetadata().FindValue(landingIDKey)
	return v != nil && *v == ld.id, nil
}

// Close converts the landed puts (at most Options.LandingBudget of them), then stops
// the converter, and stops the scheduled deletions of retired parts on object storage
// (retired.go). Puts from now on encode Parquet before they return. Close does not
// close the bucket.
func (s *Store) Close() error { return s.CloseContext(context.Background()) }

// CloseContext is Close, waiting for the conversions at most until ctx ends: then the
// conversion in progress is abandoned, what is left stays landed for the next Open
// to convert, calls waiting for a conversion return ErrClosed, and CloseContext
// returns an error saying so.
func (s *Store) CloseContext(ctx context.Context) error {
	l := &s.land
	l.mu.Lock()
	l.draining = true
	l.mu.Unlock()
	err := s.waitAllLanded(ctx)
	l.mu.Lock()
	l.closed = true
	if l.cancel != nil {
		l.cancel()
	}
	left := len(l.queue)
	l.signalLocked()
	l.mu.Unlock()
	l.wg.Wait()
	s.closeReclaims()
	s.scans.close()
	if err != nil {
		return fmt.Errorf("close the dataset store with %d uploads landed but not converted (the next start converts them): %w", left, err)
	}
	return nil
}
