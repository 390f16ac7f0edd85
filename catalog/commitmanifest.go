package catalog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/quiverdata/quiver/catalog/storage"
)

// The commit path on a bucket without the local backend's filesystem operations
// (object storage). Every dataset the store writes is a directory of immutable parts
// with a manifest, and the manifest's conditional write (WriteIf) is the only commit:
//
//  1. ensureManifest: a new dataset first gets a manifest listing no parts (which reads
//     as "not found"), and a hand-made directory of parts gets one listing its parts.
//     From then on a part written into the directory is invisible until listed.
//  2. The part is written under a fresh name and committed (durable, immutable).
//  3. The manifest is rewritten with WriteIf, on the condition that it is still the
//     version read; a writer that loses the race reads the winner's manifest and tries
//     again, so concurrent appends, from this process or any other, lose no
//     acknowledged write.
//
// A drop writes a manifest listing no parts. The parts a replace or drop takes out
// stay, listed in the manifest as retired, until RetiredGrace has passed
// (retired.go). A single-file dataset (a hand-dropped
// object) can be read and dropped but not changed in place (ErrReadOnly).

// maxCommitAttempts bounds how often a manifest commit retries after losing a race.
const maxCommitAttempts = 100

// putManifest writes rdr as a new part of name and commits it through the manifest.
func (s *Store) putManifest(ctx context.Context, name string, mode PutMode, rdr array.RecordReader) (int64, error) {
	if err := s.ensureManifest(ctx, name); err != nil {
		return 0, err
	}
	part := newPartName()
	w, err := s.bucket.Create(ctx, name+"/"+part)
	if err != nil {
		return 0, err
	}
	rows, err := s.writeParquet(ctx, w, rdr)
	if err == nil {
		reached("manifest: part written")
		err = s.commitManifest(context.WithoutCancel(ctx), name, mode, part, rdr)
	}
	if err != nil {
		s.bucket.Delete(context.WithoutCancel(ctx), name+"/"+part)
		return 0, err
	}
	return rows, nil
}

// ensureManifest makes sure the dataset name is a directory with a manifest, so that a
// part written into it stays invisible until a manifest lists it.
func (s *Store) ensureManifest(ctx context.Context, name string) error {
	st, err := s.bucket.Stat(ctx, name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case !st.Dir:
		return fmt.Errorf("%w: it is a single file on %s", ErrReadOnly, s.bucket)
	}
	names, mversion, err := partNames(ctx, s.bucket, name)
	if errors.Is(err, fs.ErrNotExist) {
		names, mversion, err = nil, "", nil
	}
	if err != nil || mversion != "" {
		return err
	}
	data, err := encodeManifest(names)
	if err != nil {
		return err
	}
	_, err = s.bucket.WriteIf(ctx, manifestKey(name), data, "")
	if errors.Is(err, storage.ErrConflict) {
		return nil // another writer made it first
	}
	return err
}

// commitManifest lists part in name's manifest (after the parts there, or instead of
// them for a replace), retrying when another writer commits first.
func (s *Store) commitManifest(ctx context.Context, name string, mode PutMode, part string, rdr array.RecordReader) error {
	for attempt := 0; ; attempt++ {
		err := s.tryCommitManifest(ctx, name, mode, part, rdr)
		if !errors.Is(err, storage.ErrConflict) {
			return err
		}
		if attempt == maxCommitAttempts {
			return fmt.Errorf("gave up after %d concurrent commits: %w", attempt, err)
		}
		reached("manifest: lost a race")
	}
}

func (s *Store) tryCommitManifest(ctx context.Context, name string, mode PutMode, part string, rdr array.RecordReader) error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	// Check again: another put or drop may have committed while we wrote.
	if err := s.checkPut(ctx, name, mode, rdr.Schema()); err != nil {
		return err
	}
	m, mversion, err := readManifest(ctx, s.bucket, name)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the manifest of %s vanished: %w", name, storage.ErrConflict)
	}
	if err != nil {
		return err
	}
	old := m.Parts
	next := manifest{Parts: append(slices.Clip(old), part), PartitionTypes: m.PartitionTypes}
	var replaced []string
	if mode == Replace {
		next.Parts, next.PartitionTypes, replaced = []string{part}, nil, old
	}
	reached("manifest: read")
	return s.commitNext(ctx, name, m, mversion, next, replaced, "manifest: committed")
}

// commitNext commits next as the manifest of name, in place of old (read at version
// mversion): the commit is its one conditional write. The parts replaced takes out
// stay in the bucket, listed as retired, for readers on other nodes (retired.go).
// step names the crash point reached once next is committed.
func (s *Store) commitNext(ctx context.Context, name string, old manifest, mversion string, next manifest, replaced []string, step string) error {
	var due []string
	next.Retired, due = s.nextRetired(old, replaced, time.Now())
	data, err := next.encode()
	if err != nil {
		return err
	}
	if _, err := s.bucket.WriteIf(ctx, manifestKey(name), data, mversion); err != nil {
		return err
	}
	s.notify(name)
	reached(step)
	s.afterRetiring(name, next.Retired, due)
	return nil
}

// dropManifest drops name by committing a manifest that lists no parts (or, for a
// single-file dataset, by deleting it), then retires the parts.
func (s *Store) dropManifest(ctx context.Context, name string) error {
	for attempt := 0; ; attempt++ {
		err := s.tryDropManifest(ctx, name)
		if !errors.Is(err, storage.ErrConflict) || attempt == maxCommitAttempts {
			return err
		}
	}
}

func (s *Store) tryDropManifest(ctx context.Context, name string) error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	defer s.forget(name)
	st, err := s.bucket.Stat(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if !st.Dir {
		if err := s.bucket.Delete(ctx, name); err != nil {
			return err
		}
		s.notify(name)
		return nil
	}
	m, mversion, err := readManifest(ctx, s.bucket, name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A directory of parts copied in without a manifest: drop them as listed.
		if m.Parts, mversion, err = partNames(ctx, s.bucket, name); err != nil {
			return err
		}
	case err != nil:
		return err
	case len(m.Parts) == 0:
		return ErrNotFound // dropped already
	}
	// The parts stay, listed as retired, for readers on other nodes.
	return s.commitNext(ctx, name, m, mversion, manifest{}, m.Parts, "manifest: dropped")
}

// retireParts schedules the parts of dataset dir for deletion once no reader needs them.
func (s *Store) retireParts(dir string, parts []string) {
	keys := make([]string, len(parts))
	for i, p := range parts {
		keys[i] = dir + "/" + p
	}
	s.reclaim.retire(keys...)
}
