package catalog

import (
	"context"
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
	info, objs, unpin, err := s.openCurrent(ctx, name)
	if err != nil {
		return Info{}, nil, err
	}
	// On object storage the pin lasts until the last part is closed (see openCurrent).
	var closed func()
	if s.readsByKey() && len(objs) > 0 {
		var open atomic.Int64
		open.Store(int64(len(objs)))
		closed = func() {
			if open.Add(-1) == 0 {
				unpin()
			}
		}
	} else {
		unpin()
	}
	parts := make([]*Part, len(objs))
	for i, o := range objs {
		parts[i] = &Part{obj: o, r: io.NewSectionReader(o, 0, o.Size()), Size: o.Size(), closed: closed}
	}
	return info, parts, nil
}

// ReadAt implements io.ReaderAt, for reading a part's Parquet footer in place.
func (p *Part) ReadAt(b []byte, off int64) (int, error) { return p.r.ReadAt(b, off) }

// Seek implements io.Seeker.
func (p *Part) Seek(offset int64, whence int) (int64, error) { return p.r.Seek(offset, whence) }
