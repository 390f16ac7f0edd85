//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/quiverdata/quiver/catalog"
)

// What SQL tools are told about the datasets' columns and DuckDB's dialect, learned
// from DuckDB once and remembered, so that metadata requests run no SQL.

// Columns are a dataset's columns as SQL sees them: what `SELECT * FROM "t"` returns.
type Columns struct {
	// Schema is the Arrow schema DuckDB produces for the table.
	Schema *arrow.Schema
	// Types are DuckDB's names of the column types ("BIGINT", "DECIMAL(18,3)",
	// "VARCHAR[]", ...), one per field of Schema.
	Types []string
}

// columnCache remembers Columns per columnsKey: datasets whose files have the same
// schema (every version of one dataset that keeps its columns, and datasets of the
// same shape under other names) are described by DuckDB once. A description under
// way is shared: concurrent requests that need the same key wait for it rather than
// each asking DuckDB.
type columnCache struct {
	mu      sync.Mutex
	byKey   map[string]*Columns       // by columnsKey
	pending map[string]*columnsLookup // descriptions under way, by columnsKey
	// learned counts the tables described by DuckDB, not from memory: for tests.
	learned atomic.Uint64
}

// columnsLookup is one description of a key under way; done is closed when cols or
// err is set.
type columnsLookup struct {
	done chan struct{}
	cols *Columns
	err  error
}

// columnsKey is what decides the columns DuckDB shows for a dataset: the Arrow schema
// of its Parquet files (names, types, nullability), the schema metadata in which
// pqarrow keeps a stored Arrow schema, and which columns are hive partition keys. An
// append, or a replace with the same columns, keeps the key, so listing tables while
// data arrives asks DuckDB nothing. Without a schema, the dataset's version decides.
func columnsKey(info catalog.Info) string {
	if info.Schema != nil {
		if fp := info.Schema.Fingerprint(); fp != "" {
			return "schema:" + fp + "\x00" + info.Schema.Metadata().String() + "\x00" + strings.Join(info.Partitions, "\x00")
		}
	}
	return "version:" + info.Name + "\x00" + info.Version
}

// TableColumns returns the columns of the tables of infos (datasets of a Snapshot),
// in order, from memory for each dataset whose columnsKey was described before. For
// the others DuckDB binds `SELECT * FROM "t"` and DESCRIBEs it, without running it,
// once per key; the views are brought in step with the catalog once for all of them,
// and not at all when every key is remembered. A dataset DuckDB cannot describe (it
// has no view: see nesting.go) is given the columns its Parquet files declare, with
// type names from TypeName, and is asked about again next time.
func (e *Engine) TableColumns(ctx context.Context, infos []catalog.Info) ([]*Columns, error) {
	out := make([]*Columns, len(infos))
	synced := false
	for i, info := range infos {
		key := columnsKey(info)
		for out[i] == nil {
			cols, lookup, mine := e.columns.find(key)
			switch {
			case cols != nil:
				out[i] = cols
			case !mine:
				select {
				case <-lookup.done:
				case <-ctx.Done():
					return nil, withCause(ctx, ctx.Err())
				}
				if lookup.err == nil {
					out[i] = lookup.cols
				} // else: the request that described it was cut short; describe it here
			default:
				if !synced {
					if err := e.syncCatalog(ctx); err != nil {
						e.columns.finish(key, lookup, nil, false, err)
						return nil, err
					}
					synced = true
				}
				cols, keep, err := e.learnColumns(ctx, info)
				e.columns.finish(key, lookup, cols, keep, err)
				if err != nil {
					return nil, err
				}
				out[i] = cols
			}
		}
	}
	e.forgetColumns()
	return out, nil
}

// find returns the remembered columns of key; else the description of key under way
// (mine false: wait for it); else a new one that the caller must make and finish.
func (c *columnCache) find(key string) (cols *Columns, lookup *columnsLookup, mine bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cols := c.byKey[key]; cols != nil {
		return cols, nil, false
	}
	if l := c.pending[key]; l != nil {
		return nil, l, false
	}
	l := &columnsLookup{done: make(chan struct{})}
	if c.pending == nil {
		c.pending = make(map[string]*columnsLookup)
	}
	c.pending[key] = l
	return nil, l, true
}

// finish ends the description l of key, remembering cols when keep.
func (c *columnCache) finish(key string, l *columnsLookup, cols *Columns, keep bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, key)
	if keep {
		if c.byKey == nil {
			c.byKey = make(map[string]*Columns)
		}
		c.byKey[key] = cols
	}
	l.cols, l.err = cols, err
	close(l.done)
}

// learnColumns asks DuckDB for the columns of info's table, whose view is in step.
// keep is false for columns made up from the Parquet schema because DuckDB could not
// describe the table: those are not remembered.
func (e *Engine) learnColumns(ctx context.Context, info catalog.Info) (cols *Columns, keep bool, err error) {
	table := info.Table()
	cols, err = e.describeColumns(ctx, table)
	if err == nil {
		return cols, true, nil
	}
	if ctx.Err() != nil {
		return nil, false, err
	}
	e.log.Warn("listing a dataset DuckDB cannot describe with its Parquet schema", "table", table, "err", err)
	if info.Schema == nil {
		return &Columns{Schema: arrow.NewSchema(nil, nil)}, false, nil
	}
	types := make([]string, info.Schema.NumFields())
	for i, f := range info.Schema.Fields() {
		types[i] = TypeName(f.Type)
	}
	return &Columns{Schema: info.Schema, Types: types}, false, nil
}

// forgetColumns drops the columns of keys no dataset of the current snapshot has,
// once more are remembered than there are datasets, so that the cache holds at most
// about one entry per dataset.
func (e *Engine) forgetColumns() {
	if e.catalog == nil {
		return
	}
	snap := e.catalog.snap.Load()
	e.columns.mu.Lock()
	defer e.columns.mu.Unlock()
	if snap == nil || len(e.columns.byKey) <= len(snap.datasets) {
		return
	}
	keep := make(map[string]bool, len(snap.datasets))
	for _, info := range snap.datasets {
		keep[columnsKey(info)] = true
	}
	for key := range e.columns.byKey {
		if !keep[key] {
			delete(e.columns.byKey, key)
		}
	}
}

// describeColumns asks DuckDB for table's columns; its view must be in step.
func (e *Engine) describeColumns(ctx context.Context, table string) (*Columns, error) {
	ctx, cancel := e.Request(ctx) // one deadline for both statements
	defer cancel()
	e.columns.learned.Add(1)
	d, err := e.describe(ctx, selectAll(table))
	if err != nil {
		return nil, err
	}
	types, err := e.columnTypes(ctx, table, d.Schema.NumFields())
	if err != nil {
		return nil, err
	}
	return &Columns{Schema: d.Schema, Types: types}, nil
}

// TypeName names the DuckDB type that reads as Arrow type t: "BIGINT", "VARCHAR[]",
// "TIMESTAMP WITH TIME ZONE", ... It is what a query result's column is called when
// DuckDB is not asked, which is every time: results carry Arrow types.
func TypeName(t arrow.DataType) string {
	switch t := t.(type) {
	case arrow.DecimalType:
		return fmt.Sprintf("DECIMAL(%d,%d)", t.GetPrecision(), t.GetScale())
	case *arrow.TimestampType:
		if t.TimeZone != "" {
			return "TIMESTAMP WITH TIME ZONE"
		}
		switch t.Unit {
		case arrow.Second:
			return "TIMESTAMP_S"
		case arrow.Millisecond:
			return "TIMESTAMP_MS"
		case arrow.Nanosecond:
			return "TIMESTAMP_NS"
		}
		return "TIMESTAMP"
	case *arrow.MapType:
		return "MAP(" + TypeName(t.KeyType()) + ", " + TypeName(t.ItemType()) + ")"
	case *arrow.FixedSizeListType:
		return fmt.Sprintf("%s[%d]", TypeName(t.Elem()), t.Len())
	case arrow.ListLikeType:
		return TypeName(t.Elem()) + "[]"
	case *arrow.StructType:
		// As DuckDB writes it (DESCRIBE, GetTables): field names quoted only where
		// they are not plain lower-case identifiers.
		parts := make([]string, t.NumFields())
		for i, f := range t.Fields() {
			name := f.Name
			if !plainIdent(name) {
				name = quoteIdent(name)
			}
			parts[i] = name + " " + TypeName(f.Type)
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")"
	case *arrow.DictionaryType:
		return TypeName(t.ValueType)
	}
	switch t.ID() {
	case arrow.BOOL:
		return "BOOLEAN"
	case arrow.INT8:
		return "TINYINT"
	case arrow.INT16:
		return "SMALLINT"
	case arrow.INT32:
		return "INTEGER"
	case arrow.INT64:
		return "BIGINT"
	case arrow.UINT8:
		return "UTINYINT"
	case arrow.UINT16:
		return "USMALLINT"
	case arrow.UINT32:
		return "UINTEGER"
	case arrow.UINT64:
		return "UBIGINT"
	case arrow.FLOAT16, arrow.FLOAT32:
		return "FLOAT"
	case arrow.FLOAT64:
		return "DOUBLE"
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return "VARCHAR"
	case arrow.BINARY, arrow.LARGE_BINARY, arrow.BINARY_VIEW, arrow.FIXED_SIZE_BINARY:
		return "BLOB"
	case arrow.DATE32, arrow.DATE64:
		return "DATE"
	case arrow.TIME32, arrow.TIME64:
		return "TIME"
	case arrow.INTERVAL_MONTHS, arrow.INTERVAL_DAY_TIME, arrow.INTERVAL_MONTH_DAY_NANO, arrow.DURATION:
		return "INTERVAL"
	case arrow.NULL:
		return "NULL"
	}
	return strings.ToUpper(t.Name())
}

// keywordList remembers DuckDB's keywords.
type keywordList struct {
	mu    sync.Mutex
	words []string // nil until first read
}

// Keywords returns DuckDB's SQL keywords, upper case, sorted and without duplicates
// (what SqlInfo SQL_KEYWORDS reports), read from duckdb_keywords() once.
func (e *Engine) Keywords(ctx context.Context) ([]string, error) {
	e.keywords.mu.Lock()
	defer e.keywords.mu.Unlock()
	if e.keywords.words != nil {
		return e.keywords.words, nil
	}
	rows, err := e.query(ctx, "SELECT keyword_name FROM duckdb_keywords()", nil, 0)
	if err != nil {
		return nil, fmt.Errorf("read DuckDB keywords: %w", err)
	}
	defer rows.Release()
	kw := []string{}
	for rows.Next() {
		col, ok := rows.RecordBatch().Column(0).(*array.String)
		if !ok {
			return nil, fmt.Errorf("read DuckDB keywords: column is %s, not utf8", rows.RecordBatch().Column(0).DataType())
		}
		for i := range col.Len() {
			kw = append(kw, strings.ToUpper(col.Value(i)))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read DuckDB keywords: %w", err)
	}
	if len(kw) == 0 {
		return nil, errors.New("read DuckDB keywords: duckdb_keywords() returned none")
	}
	e.keywords.words = slices.Compact(slices.Sorted(slices.Values(kw)))
	return e.keywords.words, nil
}

// plainIdent reports whether s is a lower-case identifier DuckDB writes unquoted
// (keywords aside).
func plainIdent(s string) bool {
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != ""
}
