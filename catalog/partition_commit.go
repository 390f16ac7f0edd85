package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/quiverdata/quiver/catalog/storage"
)

// Committing a partitioned put: every part it wrote becomes visible in one step.
//
// Local root: the parts are written into a temporary directory of the root,
// invisible to readers. A new dataset, or a replace, gets its manifest there too,
// and the directory then becomes the dataset with one durable rename (new) or one
// atomic exchange with the old version (replace; the old version is retired). An
// append moves the parts into the dataset's partition directories, where no reader
// sees them because the dataset's manifest does not list them, and then durably
// rewrites the manifest: that write is the commit. A crash before the commit step
// leaves the old version (and leftovers the sweep at Open removes); after it, the
// new one.
//
// Object storage: the parts are written under the dataset's prefix, invisible
// until listed, and one conditional write of the manifest (WriteIf, retried when
// another writer commits first) lists them all, as commitmanifest.go does for one.

// errEmptyPartitioned is a new partitioned dataset without a row: it would have no
// partitions, so no parts, which reads as no dataset.
var errEmptyPartitioned = fmt.Errorf("%w: the stream has no rows: a partitioned dataset is made of its partitions and needs at least one row", ErrInvalidData)

// encodePartitionedManifest is the manifest listing parts, with partition types.
func encodePartitionedManifest(parts []string, types []partitionType) ([]byte, error) {
	if parts == nil {
		parts = []string{}
	}
	return json.MarshalIndent(manifest{Parts: parts, PartitionTypes: types}, "", "  ")
}

// putPartitionedFiles is PutPartitioned on a local root.
func (s *Store) putPartitionedFiles(ctx context.Context, name string, mode PutMode, sp *partitionSpec, rdr array.RecordReader) (int64, error) {
	tmp := tempPrefix + randomSuffix()
	if err := s.files.Mkdir(ctx, tmp); err != nil {
		return 0, err
	}
	k := newPartitionSink(s, sp)
	k.create = func(ctx context.Context, rel string) (storage.Writer, error) {
		return s.bucket.Create(ctx, tmp+"/"+rel)
	}
	k.remove = func(context.Context, string) {} // the whole temporary directory goes
	rows, err := k.writeAll(ctx, rdr)
	var parts []string
	if err == nil {
		parts, err = k.finish(ctx)
	}
	if err == nil {
		// Every part is complete and synced: a cancel now does not undo the put.
		err = s.commitPartitionedFiles(context.WithoutCancel(ctx), name, mode, sp, tmp, parts)
	}
	if err != nil {
		k.abort(context.WithoutCancel(ctx))
		s.files.RemoveAll(context.WithoutCancel(ctx), tmp)
		return 0, err
	}
	return rows, nil
}

// commitPartitionedFiles makes parts, written under the temporary directory tmp, the
// new version of name (or adds them to it).
func (s *Store) commitPartitionedFiles(ctx context.Context, name string, mode PutMode, sp *partitionSpec, tmp string, parts []string) error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	// Check again: another put or drop may have committed while we wrote.
	if err := s.checkPartitionedPut(ctx, name, mode, sp); err != nil {
		return err
	}
	_, err := s.bucket.Stat(ctx, name)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if !exists || mode == Replace {
		if len(parts) == 0 {
			return errEmptyPartitioned
		}
		data, err := encodePartitionedManifest(parts, sp.types)
		if err != nil {
			return err
		}
		if err := s.files.WriteFile(ctx, manifestKey(tmp), data); err != nil {
			return err
		}
		reached("partitioned: manifest written")
		if !exists {
			if err := s.files.Rename(ctx, tmp, name); err != nil {
				return err
			}
			s.notify(name)
			reached("partitioned: renamed")
			return nil
		}
		if err := s.files.Exchange(ctx, tmp, name); err != nil {
			return err
		}
		s.notify(name)
		reached("partitioned: exchanged")
		// tmp now holds the old version, file or directory.
		s.reclaim.retire(tmp)
		return nil
	}
	if len(parts) == 0 {
		s.files.RemoveAll(ctx, tmp)
		return nil // an empty append changes nothing
	}
	old, _, mversion, err := partList(ctx, s.bucket, name)
	if err != nil {
		return err
	}
	if mversion == "" {
		// A hand-made directory: adopt its parts first (same version), so that the
		// parts moved in below stay invisible until the commit (as commitToDir).
		if err := s.writeManifest(ctx, name, old); err != nil {
			return err
		}
		reached("partitioned append: parts adopted")
	}
	for _, p := range parts {
		if err := s.files.Mkdir(ctx, name+"/"+path.Dir(p)); err != nil {
			return err
		}
		if err := s.files.Rename(ctx, tmp+"/"+p, name+"/"+p); err != nil {
			return err
		}
	}
	reached("partitioned append: parts moved in")
	data, err := encodePartitionedManifest(append(old, parts...), sp.types)
	if err != nil {
		return err
	}
	if err := s.files.WriteFile(ctx, manifestKey(name), data); err != nil {
		for _, p := range parts {
			s.files.RemoveAll(ctx, name+"/"+p)
		}
		return err
	}
	s.notify(name)
	reached("partitioned append: manifest written")
	s.files.RemoveAll(ctx, tmp) // empty partition directories now
	return nil
}

// putPartitionedManifest is PutPartitioned on object storage.
func (s *Store) putPartitionedManifest(ctx context.Context, name string, mode PutMode, sp *partitionSpec, rdr array.RecordReader) (int64, error) {
	if err := s.ensureManifest(ctx, name); err != nil {
		return 0, err
	}
	k := newPartitionSink(s, sp)
	k.create = func(ctx context.Context, rel string) (storage.Writer, error) {
		return s.bucket.Create(ctx, name+"/"+rel)
	}
	k.remove = func(ctx context.Context, rel string) { s.bucket.Delete(ctx, name+"/"+rel) }
	rows, err := k.writeAll(ctx, rdr)
	var parts []string
	if err == nil {
		parts, err = k.finish(ctx)
	}
	if err == nil {
		reached("partitioned manifest: parts written")
		err = s.commitPartitionedManifest(context.WithoutCancel(ctx), name, mode, sp, parts)
	}
	if err != nil {
		k.abort(context.WithoutCancel(ctx))
		return 0, err
	}
	return rows, nil
}

// commitPartitionedManifest lists parts in name's manifest, retrying when another
// writer commits first.
func (s *Store) commitPartitionedManifest(ctx context.Context, name string, mode PutMode, sp *partitionSpec, parts []string) error {
	for attempt := 0; ; attempt++ {
		err := s.tryCommitPartitionedManifest(ctx, name, mode, sp, parts)
		if !errors.Is(err, storage.ErrConflict) {
			return err
		}
		if attempt == maxCommitAttempts {
			return fmt.Errorf("gave up after %d concurrent commits: %w", attempt, err)
		}
		reached("manifest: lost a race")
	}
}

func (s *Store) tryCommitPartitionedManifest(ctx context.Context, name string, mode PutMode, sp *partitionSpec, parts []string) error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if err := s.checkPartitionedPut(ctx, name, mode, sp); err != nil {
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
	if len(parts) == 0 {
		if mode == Replace || len(old) == 0 {
			return errEmptyPartitioned
		}
		return nil // an empty append changes nothing
	}
	next := manifest{Parts: append(slices.Clip(old), parts...), PartitionTypes: sp.types}
	var replaced []string
	if mode == Replace {
		next.Parts, replaced = parts, old
	}
	// The replaced parts stay, listed as retired, for readers on other nodes, as a
	// plain replace's do.
	return s.commitNext(ctx, name, m, mversion, next, replaced, "partitioned manifest: committed")
}
