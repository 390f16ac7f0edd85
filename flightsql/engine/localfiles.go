//go:build duckdb_arrow

package engine

import (
	"context"

	"github.com/quiverdata/quiver/catalog"
)

// LocalFiles lends the engine local files for a dataset's views when the store keeps
// its parts where DuckDB cannot read (object storage: DuckDB here has no httpfs).
// Without one, a dataset's catalog.Info.Files are read as they are.
//
// What Files returns for a dataset version may change while the version does not (on
// object storage, a schema file while no query reads the dataset, its cached parts
// while one does); Generation tells the engine when, so that it rebuilds its views.
type LocalFiles interface {
	// Files returns local files for info's view: either a copy of each of info's
	// parts, in read order, or one file with no rows that stands for them all, with
	// the schema of the first part (its partition values type the view's partition
	// columns). They stay on disk at least until a later Synced or Generation change
	// leaves them out and every query that may read them has ended.
	Files(ctx context.Context, info catalog.Info) ([]string, error)
	// Synced tells which datasets the views are being built from (a snapshot's
	// Datasets): the others are dropped. It is called before the Files calls of
	// that build.
	Synced(datasets []catalog.Info)
	// Generation moves whenever Files may return other files for an unchanged
	// dataset version. The engine rebuilds its views before its next statement
	// when it moved since the last build.
	Generation() uint64
	// StandIn reports whether file is one Files returned to stand for a dataset's
	// parts (no rows). Query refuses to execute a statement that would read one
	// (ErrViewsMoved): a query must read the data it leased.
	StandIn(file string) bool
}

// SetLocalFiles makes the engine read every dataset through lf. Call it once, before
// the first query: the engine reads it without a lock afterwards.
func (e *Engine) SetLocalFiles(lf LocalFiles) {
	e.viewsMu.Lock()
	defer e.viewsMu.Unlock()
	e.localFiles = lf
}

// localGen is the LocalFiles' Generation; 0 without LocalFiles.
func (e *Engine) localGen() uint64 {
	if e.localFiles == nil {
		return 0
	}
	return e.localFiles.Generation()
}

// viewTables turns a snapshot's datasets into the tables the views show, reading
// through the LocalFiles when the engine has one, and returns the LocalFiles'
// Generation they hold for. A dataset whose files cannot be had is left out (and
// logged): the others stay queryable. Callers hold viewsMu.
func (e *Engine) viewTables(ctx context.Context, datasets []catalog.Info) ([]Table, uint64) {
	var gen uint64
	if e.localFiles != nil {
		e.localFiles.Synced(datasets)
		// Read before the Files calls: a change during them moves it past gen, and
		// the next statement rebuilds.
		gen = e.localFiles.Generation()
	}
	tables := make([]Table, 0, len(datasets))
	for _, info := range datasets {
		files, values := info.Files, info.PartitionValues()
		if e.localFiles != nil {
			var err error
			if files, err = e.localFiles.Files(ctx, info); err != nil {
				e.log.Warn("dataset is not queryable: its files cannot be had", "dataset", info.Name, "err", err)
				continue
			}
			if len(values) > 1 && len(files) == 1 {
				values = values[:1] // a file standing for every part: typed as the first
			}
		}
		tables = append(tables, Table{Name: info.Table(), Dataset: info.Name, Files: files, Version: info.Version,
			Partitions: info.Partitions, PartitionValues: values})
	}
	return tables, gen
}
