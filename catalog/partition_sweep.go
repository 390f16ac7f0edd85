package catalog

import (
	"context"
	"path"
	"strings"

	"github.com/quiverdata/quiver/catalog/storage"
)

// sweepPartitionDir removes, under the partition directory key (rel: its path in
// the dataset directory, ending in '/'), the temporaries and the store's parts that
// the manifest does not list (listed, by path in the dataset directory): what a
// partitioned put that failed or crashed before its commit leaves.
func (s *Store) sweepPartitionDir(ctx context.Context, key, rel string, listed map[string]bool, depth int) error {
	if _, _, err := ParsePartitionDir(path.Base(key)); err != nil || depth > MaxPartitionDepth {
		return nil // not a partition directory: not the store's to sweep
	}
	var entries []storage.Entry
	var err error
	if s.files != nil {
		entries, err = s.files.ListAll(ctx, key)
	} else {
		entries, err = s.bucket.List(ctx, key)
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := path.Base(e.Key)
		if e.Dir {
			if !isInternal(n) {
				if err := s.sweepPartitionDir(ctx, e.Key, rel+n+"/", listed, depth+1); err != nil {
					return err
				}
				continue
			}
		}
		if err := s.sweepLeftover(e, strings.HasPrefix(n, "part-") && !listed[rel+n]); err != nil {
			return err
		}
	}
	return nil
}
