package catalog

import (
	"context"
	"errors"
	"fmt"
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
	unpin := s.Pin()
	defer unpin()
	for attempt := 0; attempt < maxOpenAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		info, err := s.stat(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("dataset %q: %w", name, err)
		}
		if info.Version != version {
			return nil, fmt.Errorf("dataset %q: %w: asked for version %s, it is now at %s", name, ErrVersionChanged, version, info.Version)
		}
		if first >= len(info.Keys) || count > len(info.Keys)-first {
			return nil, fmt.Errorf("dataset %q: %w: parts %d to %d asked for, version %s has %d", name, ErrInvalidData, first, first+count-1, version, len(info.Keys))
		}
		files, err := s.openVersion(ctx, info)
		if err != nil {
			return nil, fmt.Errorf("open dataset %q: %w", name, err)
		}
		if files == nil {
			continue // replaced under us: the version check above decides
		}
		closeAll(files[:first])
		closeAll(files[first+count:])
		info.Keys = info.Keys[first : first+count : first+count]
		if info.Files != nil {
			info.Files = info.Files[first : first+count : first+count]
		}
		r := &Reader{ctx: ctx, info: info, files: files[first : first+count], mem: s.opts.Allocator, batch: s.opts.ReadBatchRows, bytes: s.opts.ReadBatchBytes}
		r.refs.Store(1)
		return r, nil
	}
	return nil, fmt.Errorf("open dataset %q: it kept changing while being opened", name)
}
