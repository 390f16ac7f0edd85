package catalog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/quiverdata/quiver/catalog/storage"
)

// ErrVersionChanged is returned when a read names a version of a dataset that is no
// longer its current one: it was replaced, appended to or dropped and put again
// since the version was handed out.
var ErrVersionChanged = errors.New("dataset changed since its version was read")

// OpenVersionParts opens count parts of the named dataset from part first on (in read
// order), on the condition that the dataset is still at version (Info.Version). It
// is how one endpoint of a dataset split across several is served. A dataset at
// another version gives ErrVersionChanged; a range outside its parts gives
// ErrInvalidData. The caller must Release the reader.
//
// It opens only the parts asked for. On object storage, a version the store has
// described before is checked with one read of the manifest (versionInfo): one
// endpoint costs that read and a request per part it serves, not a look at every
// part of the dataset.
//
// The reader's Info describes the parts it reads in Keys and Files; Rows and Bytes
// still describe the whole version.
func (s *Store) OpenVersionParts(ctx context.Context, name, version string, first, count int) (*Reader, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if first < 0 || count < 1 {
		return nil, fmt.Errorf("dataset %q: %w: part range from %d, %d parts", name, ErrInvalidData, first, count)
	}
	if err := s.waitLanded(ctx, name); err != nil { // landing.go
		return nil, err
	}
	// While pinned no retired part is deleted, so the parts listed are there to open.
	// On object storage parts are read by key as the reader goes: it keeps the pin.
	unpin := s.Pin()
	for attempt := 0; attempt < maxOpenAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			unpin()
			return nil, err
		}
		info, err := s.versionInfo(ctx, name)
		if err != nil {
			unpin()
			return nil, fmt.Errorf("dataset %q: %w", name, err)
		}
		if info.Version != version {
			unpin()
			return nil, fmt.Errorf("dataset %q: %w: asked for version %s, it is now at %s", name, ErrVersionChanged, version, info.Version)
		}
		if first >= len(info.Keys) || count > len(info.Keys)-first {
			unpin()
			return nil, fmt.Errorf("dataset %q: %w: parts %d to %d asked for, version %s has %d", name, ErrInvalidData, first, first+count-1, version, len(info.Keys))
		}
		files, err := s.openPartRange(ctx, info, first, count)
		if err != nil {
			unpin()
			return nil, fmt.Errorf("open dataset %q: %w", name, err)
		}
		if files == nil {
			continue // replaced under us: the version check above decides
		}
		info.Keys = info.Keys[first : first+count : first+count]
		if info.Files != nil {
			info.Files = info.Files[first : first+count : first+count]
		}
		info.partVersions = nil // of the whole version: not these Keys'
		if info.partValues != nil {
			// A hive dataset's partition values are per part: the reader finds those
			// of its i-th part at i.
			info.partValues = info.partValues[first : first+count : first+count]
		}
		r := s.newReader(ctx, info, files)
		if s.readsByKey() {
			r.unpin = unpin
		} else {
			unpin() // open descriptors keep unlinked local files readable
		}
		return r, nil
	}
	unpin()
	return nil, fmt.Errorf("open dataset %q: it kept changing while being opened", name)
}

// versionInfo describes the current version of name, as stat does. On object
// storage, when the manifest's version is one the store has described, that
// description is current: parts are immutable objects under fresh keys that only
// the store writes, so the manifest's version fixes every part. That costs one read
// of the manifest instead of a Stat of the dataset (a HEAD and a LIST on S3).
func (s *Store) versionInfo(ctx context.Context, name string) (Info, error) {
	if s.files == nil {
		_, mversion, err := s.bucket.ReadVersioned(ctx, manifestKey(name))
		if err == nil {
			s.cacheMu.Lock()
			e, ok := s.cache[name]
			s.cacheMu.Unlock()
			if ok && e.err == nil && e.layout.manifest && e.layout.manifestVersion == mversion {
				return e.info, nil
			}
		}
	}
	return s.stat(ctx, name)
}

// openPartRange opens count of info's parts from first on. Like openVersion, it
// returns nil files, and no error, when what it found is no longer info's version.
// Where info records each part's storage version, only the parts in the range are
// opened, each checked against its version; otherwise every part is opened and the
// version checked whole (openVersion), and those outside the range closed.
func (s *Store) openPartRange(ctx context.Context, info Info, first, count int) ([]storage.Object, error) {
	if len(info.partVersions) != len(info.Keys) || !info.dir {
		files, err := s.openVersion(ctx, info)
		if files == nil || err != nil {
			return nil, err
		}
		closeAll(files[:first])
		closeAll(files[first+count:])
		return files[first : first+count : first+count], nil
	}
	files := make([]storage.Object, 0, count)
	for i := first; i < first+count; i++ {
		f, err := s.bucket.Open(ctx, info.Keys[i])
		if errors.Is(err, fs.ErrNotExist) {
			closeAll(files)
			return nil, nil
		}
		if err != nil {
			closeAll(files)
			return nil, err
		}
		files = append(files, f)
		if f.Version() != info.partVersions[i] {
			closeAll(files)
			return nil, nil
		}
	}
	return files, nil
}
