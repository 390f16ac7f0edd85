package catalog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// The commit path on the local backend (s.files set). A put streams into a temporary
// file in the root; its commit moves it into place with one durable rename, adds it to
// a directory of parts with one durable manifest write, or turns a single-file dataset
// into a directory with one atomic exchange. Every step is durable before the next
// (the backend's DurableRename and DurableWrite), so a crash at any point leaves the
// old version or the new one; TestCrashLosingUnsyncedWrites proves it.

// putFile writes rdr to a temporary file and commits it as the new version of name.
func (s *Store) putFile(ctx context.Context, name string, mode PutMode, rdr array.RecordReader) (int64, error) {
	tmp := tempPrefix + randomSuffix()
	w, err := s.bucket.Create(ctx, tmp)
	if err != nil {
		return 0, err
	}
	rows, err := s.writeParquet(ctx, w, rdr)
	if err == nil {
		// The upload is complete and synced: a cancel now does not undo it.
		err = s.commit(context.WithoutCancel(ctx), name, mode, tmp, rdr.Schema())
	}
	if err != nil {
		s.files.RemoveAll(context.WithoutCancel(ctx), tmp)
		return 0, err
	}
	return rows, nil
}

// crashPoint, when a test sets it, is called after each step of a commit that changes
// the disk, so that the test can see the root as a crash at that point leaves it.
var crashPoint func(step string)

func reached(step string) {
	if crashPoint != nil {
		crashPoint(step)
	}
}

// commit makes the complete temporary file tmp the new version of name.
func (s *Store) commit(ctx context.Context, name string, mode PutMode, tmp string, schema *arrow.Schema) error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()

	// Check again: another put or drop may have committed while we wrote.
	if err := s.checkPut(ctx, name, mode, schema); err != nil {
		return err
	}
	st, err := s.bucket.Stat(ctx, name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		reached("create: file written")
		if err := s.files.Rename(ctx, tmp, name); err != nil {
			return err
		}
		s.notify(name)
		reached("create: renamed")
		return nil
	case err != nil:
		return err
	case st.Dir:
		return s.commitToDir(ctx, name, tmp, mode != Replace)
	case mode == Replace:
		// The old file's inode lives on for readers that hold it open.
		reached("replace file: file written")
		if err := s.files.Rename(ctx, tmp, name); err != nil {
			return err
		}
		s.notify(name)
		reached("replace file: renamed")
		return nil
	default:
		return s.splitIntoParts(ctx, name, tmp)
	}
}

// commitToDir adds the file tmp as a new part of the multi-part dataset dir, keeping
// the existing parts (append) or retiring them (replace). The manifest's durable write
// is the commit point.
func (s *Store) commitToDir(ctx context.Context, dir, tmp string, keep bool) error {
	old, mversion, err := partNames(ctx, s.bucket, dir)
	if err != nil {
		return err
	}
	if mversion == "" {
		// Without a manifest every *.parquet file is a part, so the new part would be
		// visible the moment it is moved in, before the commit point: mixed with the
		// old parts on a replace, out of order on an append, and kept by a crash.
		// Adopt the parts as they are first; the same version, now in a manifest.
		if err := s.writeManifest(ctx, dir, old); err != nil {
			return err
		}
		reached("commit to dir: parts adopted")
	}
	part := newPartName()
	reached("commit to dir: part written")
	if err := s.files.Rename(ctx, tmp, dir+"/"+part); err != nil {
		return err
	}
	reached("commit to dir: part moved in")
	parts := []string{part}
	if keep {
		parts = append(old, part)
	}
	if err := s.writeManifest(ctx, dir, parts); err != nil {
		s.files.RemoveAll(ctx, dir+"/"+part)
		return err
	}
	s.notify(dir)
	reached("commit to dir: manifest written")
	if !keep {
		retired := make([]string, len(old))
		for i, p := range old {
			retired[i] = dir + "/" + p
		}
		s.reclaim.retire(retired...)
		reached("commit to dir: old parts retired")
	}
	return nil
}

// splitIntoParts turns the single-file dataset name into a directory of two parts, the
// old file and tmp, without copying the old data (a hard link) and with one atomic
// exchange as the commit point.
func (s *Store) splitIntoParts(ctx context.Context, name, tmp string) error {
	dir := tempPrefix + randomSuffix()
	if err := s.files.Mkdir(ctx, dir); err != nil {
		return err
	}
	first, second := newPartName(), newPartName()
	reached("split: dir made")
	err := s.files.Link(ctx, name, dir+"/"+first)
	if err == nil {
		reached("split: old file linked")
		err = s.files.Rename(ctx, tmp, dir+"/"+second)
	}
	if err == nil {
		reached("split: new part moved in")
		err = s.writeManifest(ctx, dir, []string{first, second})
	}
	if err == nil {
		reached("split: manifest written")
		err = s.files.Exchange(ctx, dir, name)
	}
	if err != nil {
		s.files.RemoveAll(ctx, dir)
		return err
	}
	s.notify(name)
	// dir now holds the old single file: one more link to data the new part keeps.
	reached("split: exchanged")
	s.reclaim.retire(dir)
	reached("split: old file retired")
	return nil
}

// writeManifest durably writes the manifest of the dataset directory dir.
func (s *Store) writeManifest(ctx context.Context, dir string, parts []string) error {
	data, err := encodeManifest(parts)
	if err != nil {
		return err
	}
	return s.files.WriteFile(ctx, manifestKey(dir), data)
}

// dropFile moves the dataset name to the trash with one durable rename; the trash is
// deleted once no reader needs it.
func (s *Store) dropFile(ctx context.Context, name string) error {
	if _, err := s.bucket.Stat(ctx, name); errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	trash := trashPrefix + randomSuffix()
	if err := s.files.Rename(ctx, name, trash); err != nil {
		return fmt.Errorf("move to trash: %w", err)
	}
	s.notify(name)
	reached("drop: moved to trash")
	s.forget(name)
	s.reclaim.retire(trash)
	return nil
}
