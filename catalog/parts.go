package catalog

import (
	"context"
	"fmt"
	"io"

	"github.com/quiverdata/quiver/catalog/storage"
)

// Part is one stored Parquet file of an open dataset version, for handing its bytes
// out as they are (`quiver get -o x.parquet`). It is open: a replace or drop of the
// dataset meanwhile does not change what it reads.
type Part struct {
	obj  storage.Object
	r    *io.SectionReader
	Size int64
}

// Read implements io.Reader.
func (p *Part) Read(b []byte) (int, error) { return p.r.Read(b) }

// Close closes the object.
func (p *Part) Close() error { return p.obj.Close() }

var _ io.ReadCloser = (*Part)(nil)

// OpenParts opens every Parquet part of the current version of the named dataset,
// in read order, with the Info of that version. The caller closes each part.
func (s *Store) OpenParts(ctx context.Context, name string) (Info, []*Part, error) {
	if err := ValidateName(name); err != nil {
		return Info{}, nil, err
	}
	// While pinned no retired part is deleted, so the parts listed are there to open.
	unpin := s.Pin()
	defer unpin()
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
		for i, o := range objs {
			parts[i] = &Part{obj: o, r: io.NewSectionReader(o, 0, o.Size()), Size: o.Size()}
		}
		return info, parts, nil
	}
	return Info{}, nil, fmt.Errorf("open dataset %q: it kept changing while being opened", name)
}

// ReadAt implements io.ReaderAt, for reading a part's Parquet footer in place.
func (p *Part) ReadAt(b []byte, off int64) (int, error) { return p.r.ReadAt(b, off) }

// Seek implements io.Seeker.
func (p *Part) Seek(offset int64, whence int) (int64, error) { return p.r.Seek(offset, whence) }
