package catalog

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/quiverdata/quiver/catalog/storage"
)

// Part is one stored Parquet file of an open dataset version, for handing its bytes
// out as they are (`quiver get -o x.parquet`). It is open: a replace or drop of the
// dataset meanwhile does not change what it reads.
type Part struct {
	obj  storage.Object
	r    *io.SectionReader
	Size int64
	// closed, if set, is called once when the part is closed (the last of its
	// version's parts to close ends the store pin, see OpenParts).
	closed func()
}

// Read implements io.Reader.
func (p *Part) Read(b []byte) (int, error) { return p.r.Read(b) }

// Close closes the object.
func (p *Part) Close() error {
	if p.closed != nil {
		p.closed()
		p.closed = nil
	}
	return p.obj.Close()
}

var _ io.ReadCloser = (*Part)(nil)

// OpenParts opens every Parquet part of the current version of the named dataset,
// in read order, with the Info of that version. The caller closes each part.
func (s *Store) OpenParts(ctx context.Context, name string) (Info, []*Part, error) {
	if err := ValidateName(name); err != nil {
		return Info{}, nil, err
	}
	// While pinned no retired part is deleted, so the parts listed are there to open.
	// On object storage, where a part is read by key range by range, the pin lasts
	// until the last part is closed (see Store.Open).
	unpin := s.Pin()
	keep := false
	defer func() {
		if !keep {
			unpin()
		}
	}()
	for attempt := 0; attempt < maxOpenAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return Info{}, nil, err
		}
		info, err := s.stat(ctx, name)
		if err != nil {
			return Info{}, nil, fmt.Errorf("dataset %q: %w", name, err)
		}
		objs, err := s.openVersion(ctx, info)
		if err != nil {
			return Info{}, nil, fmt.Errorf("open dataset %q: %w", name, err)
		}
		if objs == nil {
			continue // replaced under us: look again
		}
		parts := make([]*Part, len(objs))
		var closed func()
		if _, local := s.bucket.(storage.LocalFiler); !local && len(objs) > 0 {
			var open atomic.Int64
			open.Store(int64(len(objs)))
			closed = func() {
				if open.Add(-1) == 0 {
					unpin()
				}
			}
			keep = true
		}
		for i, o := range objs {
			parts[i] = &Part{obj: o, r: io.NewSectionReader(o, 0, o.Size()), Size: o.Size(), closed: closed}
		}
		return info, parts, nil
	}
	return Info{}, nil, fmt.Errorf("open dataset %q: it kept changing while being opened", name)
}

// ReadAt implements io.ReaderAt, for reading a part's Parquet footer in place.
func (p *Part) ReadAt(b []byte, off int64) (int, error) { return p.r.ReadAt(b, off) }

// Seek implements io.Seeker.
func (p *Part) Seek(offset int64, whence int) (int64, error) { return p.r.Seek(offset, whence) }
