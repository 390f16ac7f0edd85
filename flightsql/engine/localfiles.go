//go:build duckdb_arrow

package engine

import (
	"context"

	"github.com/quiverdata/quiver/catalog"
)

// LocalFiles lends the engine local copies of a dataset's parts when the store keeps
// them where DuckDB cannot read (object storage: DuckDB here has no httpfs). Without
// one, a dataset's catalog.Info.Files are read as they are.
type LocalFiles interface {
	// Files returns local files holding exactly info's version, in read order; they
	// stay on disk at least until a later KeepOnly leaves the dataset out and every
	// query that may read them has ended.
	Files(ctx context.Context, info catalog.Info) ([]string, error)
	// KeepOnly lets go of the datasets not in names (dropped ones).
	KeepOnly(names map[string]bool)
}

// SetLocalFiles makes the engine read every dataset through lf. Call it once, before
// the first query.
func (e *Engine) SetLocalFiles(lf LocalFiles) {
	e.viewsMu.Lock()
	defer e.viewsMu.Unlock()
	e.localFiles = lf
}

// viewTables turns a snapshot's datasets into the tables the views show, reading
// through the LocalFiles when the engine has one. A dataset whose files cannot be had
// is left out (and logged): the others stay queryable. Callers hold viewsMu.
func (e *Engine) viewTables(ctx context.Context, datasets []catalog.Info) []Table {
	tables := make([]Table, 0, len(datasets))
	var names map[string]bool
	if e.localFiles != nil {
		names = make(map[string]bool, len(datasets))
	}
	for _, info := range datasets {
		files := info.Files
		if e.localFiles != nil {
			names[info.Name] = true
			var err error
			if files, err = e.localFiles.Files(ctx, info); err != nil {
				e.log.Warn("dataset is not queryable: its parts cannot be fetched", "dataset", info.Name, "err", err)
				continue
			}
		}
		tables = append(tables, Table{Name: info.Table(), Dataset: info.Name, Files: files, Version: info.Version,
			Partitions: info.Partitions, PartitionValues: info.PartitionValues()})
	}
	if e.localFiles != nil {
		e.localFiles.KeepOnly(names)
	}
	return tables
}
