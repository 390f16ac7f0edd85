package flightsql

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql/schema_ref"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql/auth"
	"github.com/quiverdata/quiver/flightsql/engine"
)

// Catalog metadata: catalogs, schemas, tables, table types and keys. SqlInfo is in
// sql_info.go, type info in xdbc_types.go.
//
// The model is DuckDB's own, so that what GetTables lists is what a query names:
//
//   - One catalog, sqlCatalog ("memory", what current_database() returns in the
//     engine's in-memory database), with one schema, sqlSchema ("main"). DuckDB's
//     internal "system" and "temp" catalogs are not listed: they hold no datasets.
//   - Every dataset is a table of type "TABLE" named by catalog.Info.Table(), so
//     `SELECT * FROM uploaded`, `main.uploaded` and `memory.main.uploaded` all work.
//     The engine implements datasets as DuckDB views, but to a client they are stored
//     tables, and BI tools list only "TABLE" by default.
//   - Columns and their types are what `SELECT * FROM "t"` returns, learned from the
//     engine without running the query, and remembered there while the dataset's
//     files keep their schema (engine.TableColumns). The datasets come from the
//     engine's snapshot of the store (engine.Snapshot): listing them runs no SQL.
//
// Filter patterns are SQL LIKE patterns: '%' any run, '_' one character, '\' escapes
// the next character (SqlInfo SQL_SEARCH_STRING_ESCAPE). They match names exactly as
// stored, case included, as JDBC's DatabaseMetaData patterns do.
//
// Every result is one record batch of exactly the schema in arrow-go's schema_ref:
// ADBC checks them strictly, and its GetTableSchema reads only the first batch.

const (
	sqlCatalog   = "memory" // DuckDB's name for the engine's in-memory database
	sqlSchema    = "main"
	sqlTableType = "TABLE"
)

// metadataInfo is the FlightInfo of a metadata command: its fixed result schema, and
// the command itself as the ticket (DoGet routes it back here).
func (s *SQLServer) metadataInfo(desc *flight.FlightDescriptor, schema *arrow.Schema) *flight.FlightInfo {
	return &flight.FlightInfo{
		Schema:           flight.SerializeSchema(schema, s.mem),
		FlightDescriptor: desc,
		Endpoint:         []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: desc.GetCmd()}}},
		TotalRecords:     -1,
		TotalBytes:       -1,
	}
}

// oneBatch streams rec, whose ownership passes to the Flight server (it releases each
// chunk it sends, and drains and releases what it does not).
func oneBatch(rec arrow.RecordBatch) <-chan flight.StreamChunk {
	ch := make(chan flight.StreamChunk, 1)
	ch <- flight.StreamChunk{Data: rec}
	close(ch)
	return ch
}

// emptyBatch streams no rows of schema.
func (s *SQLServer) emptyBatch(schema *arrow.Schema) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	b := array.NewRecordBuilder(s.mem, schema)
	defer b.Release()
	return schema, oneBatch(b.NewRecordBatch()), nil
}

// GetFlightInfoCatalogs plans GetCatalogs.
func (s *SQLServer) GetFlightInfoCatalogs(_ context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metadataInfo(desc, schema_ref.Catalogs), nil
}

// DoGetCatalogs lists the one catalog.
func (s *SQLServer) DoGetCatalogs(context.Context) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	b := array.NewRecordBuilder(s.mem, schema_ref.Catalogs)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).Append(sqlCatalog)
	return schema_ref.Catalogs, oneBatch(b.NewRecordBatch()), nil
}

// GetFlightInfoSchemas plans GetDbSchemas.
func (s *SQLServer) GetFlightInfoSchemas(_ context.Context, _ fsql.GetDBSchemas, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metadataInfo(desc, schema_ref.DBSchemas), nil
}

// DoGetDBSchemas lists the one schema if it passes the filters.
func (s *SQLServer) DoGetDBSchemas(_ context.Context, cmd fsql.GetDBSchemas) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	b := array.NewRecordBuilder(s.mem, schema_ref.DBSchemas)
	defer b.Release()
	if catalogMatches(cmd.GetCatalog()) && patternMatches(cmd.GetDBSchemaFilterPattern(), sqlSchema) {
		b.Field(0).(*array.StringBuilder).Append(sqlCatalog)
		b.Field(1).(*array.StringBuilder).Append(sqlSchema)
	}
	return schema_ref.DBSchemas, oneBatch(b.NewRecordBatch()), nil
}

// GetFlightInfoTableTypes plans GetTableTypes.
func (s *SQLServer) GetFlightInfoTableTypes(_ context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metadataInfo(desc, schema_ref.TableTypes), nil
}

// DoGetTableTypes lists the one table type datasets have.
func (s *SQLServer) DoGetTableTypes(context.Context) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	b := array.NewRecordBuilder(s.mem, schema_ref.TableTypes)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).Append(sqlTableType)
	return schema_ref.TableTypes, oneBatch(b.NewRecordBatch()), nil
}

// GetFlightInfoTables plans GetTables; the result schema depends on include_schema.
func (s *SQLServer) GetFlightInfoTables(_ context.Context, cmd fsql.GetTables, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	if cmd.GetIncludeSchema() {
		return s.metadataInfo(desc, schema_ref.TablesWithIncludedSchema), nil
	}
	return s.metadataInfo(desc, schema_ref.Tables), nil
}

// DoGetTables lists the datasets that pass the filters, in table-name order, with
// their column schemas if asked.
func (s *SQLServer) DoGetTables(ctx context.Context, cmd fsql.GetTables) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	schema := schema_ref.Tables
	if cmd.GetIncludeSchema() {
		schema = schema_ref.TablesWithIncludedSchema
	}
	if p := cmd.GetTableNameFilterPattern(); p != nil && len(*p) > maxPatternLength {
		return nil, nil, toStatus(fmt.Errorf("%w: table name pattern is %d bytes, longer than %d", errInvalidRequest, len(*p), maxPatternLength))
	}
	if !catalogMatches(cmd.GetCatalog()) || !patternMatches(cmd.GetDBSchemaFilterPattern(), sqlSchema) || !tableTypeMatches(cmd.GetTableTypes()) {
		return s.emptyBatch(schema)
	}

	// The pin keeps the files the views name on disk (or in the part cache) while a
	// schema not yet known is learned from DuckDB.
	unpin := s.pin()
	defer unpin()
	snap, err := s.engine.Snapshot(ctx)
	if err != nil {
		return nil, nil, toStatus(err)
	}
	// A grant restricted to some datasets lists only those (the Guard lets GetTables
	// through on that promise).
	p, authenticated := auth.FromContext(ctx)
	restricted := authenticated && p.Restricted()
	infos := slices.DeleteFunc(slices.Clone(snap.Datasets()), func(i catalog.Info) bool {
		return restricted && !p.Covers(i.Name) || !patternMatches(cmd.GetTableNameFilterPattern(), i.Table())
	})
	slices.SortFunc(infos, func(a, b catalog.Info) int { return strings.Compare(a.Table(), b.Table()) })
	var cols []*engine.Columns
	if cmd.GetIncludeSchema() {
		if cols, err = s.engine.TableColumns(ctx, infos); err != nil {
			return nil, nil, toStatus(err)
		}
	}
	b := array.NewRecordBuilder(s.mem, schema)
	defer b.Release()
	for i, info := range infos {
		b.Field(0).(*array.StringBuilder).Append(sqlCatalog)
		b.Field(1).(*array.StringBuilder).Append(sqlSchema)
		b.Field(2).(*array.StringBuilder).Append(info.Table())
		b.Field(3).(*array.StringBuilder).Append(sqlTableType)
		if cmd.GetIncludeSchema() {
			b.Field(4).(*array.BinaryBuilder).Append(s.tableSchemas.serialized(info.Table(), cols[i], s.mem))
		}
	}
	s.tableSchemas.forget(snap.Datasets())
	return schema, oneBatch(b.NewRecordBatch()), nil
}

// tableSchemas remembers each table's annotated, serialized schema for the engine's
// Columns it was made from, so that listing tables with their schemas does not
// annotate and serialize every schema again (about 70 of them per call in
// BenchmarkLoad).
type tableSchemas struct {
	mu     sync.Mutex
	tables map[string]serializedSchema // by table name
}

type serializedSchema struct {
	cols  *engine.Columns // what it was made from; the engine makes new Columns when they change
	bytes []byte
}

// serialized returns table's schema with the Flight SQL column metadata, serialized
// as GetTables sends it.
func (c *tableSchemas) serialized(table string, cols *engine.Columns, mem memory.Allocator) []byte {
	c.mu.Lock()
	e, ok := c.tables[table]
	c.mu.Unlock()
	if ok && e.cols == cols {
		return e.bytes
	}
	b := flight.SerializeSchema(annotate(table, cols.Schema, cols.Types), mem)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tables == nil {
		c.tables = make(map[string]serializedSchema)
	}
	c.tables[table] = serializedSchema{cols: cols, bytes: b}
	return b
}

// forget drops the schemas of tables that are no longer datasets, once there are
// more remembered than datasets.
func (c *tableSchemas) forget(datasets []catalog.Info) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.tables) <= len(datasets) {
		return
	}
	keep := make(map[string]bool, len(datasets))
	for _, info := range datasets {
		keep[info.Table()] = true
	}
	for table := range c.tables {
		if !keep[table] {
			delete(c.tables, table)
		}
	}
}

// maxPatternLength bounds a client's table name pattern (names are at most
// catalog.MaxNameLength bytes), so that matching stays cheap.
const maxPatternLength = 4096

// annotate returns schema with the Flight SQL column metadata on each field (keeping
// what a field already has, such as extension type keys). duckTypes names the DuckDB
// types (engine.Columns); where it is nil they are named from the Arrow types
// (engine.TypeName).
func annotate(table string, schema *arrow.Schema, duckTypes []string) *arrow.Schema {
	fields := make([]arrow.Field, schema.NumFields())
	for i, f := range schema.Fields() {
		typeName := engine.TypeName(f.Type)
		if duckTypes != nil {
			typeName = duckTypes[i]
		}
		md := fsql.NewColumnMetadataBuilder().
			CatalogName(sqlCatalog).
			SchemaName(sqlSchema).
			TableName(table).
			TypeName(typeName)
		if p, sc, ok := precisionScale(f.Type); ok {
			md.Precision(p).Scale(sc)
		}
		md.IsAutoIncrement(false).
			IsCaseSensitive(isStringType(f.Type)).
			IsReadOnly(true).
			IsSearchable(true)
		f.Metadata = mergeMetadata(f.Metadata, md.Metadata())
		fields[i] = f
	}
	meta := schema.Metadata()
	return arrow.NewSchema(fields, &meta)
}

func mergeMetadata(have, add arrow.Metadata) arrow.Metadata {
	keys := slices.Clone(have.Keys())
	vals := slices.Clone(have.Values())
	for i, k := range add.Keys() {
		if have.FindKey(k) < 0 {
			keys = append(keys, k)
			vals = append(vals, add.Values()[i])
		}
	}
	return arrow.NewMetadata(keys, vals)
}

// precisionScale is a numeric column's precision (decimal digits) and scale.
func precisionScale(t arrow.DataType) (int32, int32, bool) {
	switch t := t.(type) {
	case arrow.DecimalType:
		return t.GetPrecision(), t.GetScale(), true
	}
	switch t.ID() {
	case arrow.INT8, arrow.UINT8:
		return 3, 0, true
	case arrow.INT16, arrow.UINT16:
		return 5, 0, true
	case arrow.INT32, arrow.UINT32:
		return 10, 0, true
	case arrow.INT64:
		return 19, 0, true
	case arrow.UINT64:
		return 20, 0, true
	}
	return 0, 0, false
}

func isStringType(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return true
	case arrow.DICTIONARY:
		return isStringType(t.(*arrow.DictionaryType).ValueType)
	}
	return false
}

// quoteIdent quotes a SQL identifier; doubled quotes escape one.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Primary and foreign keys: datasets have none, so these answer with no rows of the
// schemas clients expect.

// GetFlightInfoPrimaryKeys plans GetPrimaryKeys.
func (s *SQLServer) GetFlightInfoPrimaryKeys(_ context.Context, _ fsql.TableRef, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metadataInfo(desc, schema_ref.PrimaryKeys), nil
}

// DoGetPrimaryKeys lists no keys.
func (s *SQLServer) DoGetPrimaryKeys(context.Context, fsql.TableRef) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return s.emptyBatch(schema_ref.PrimaryKeys)
}

// GetFlightInfoExportedKeys plans GetExportedKeys.
func (s *SQLServer) GetFlightInfoExportedKeys(_ context.Context, _ fsql.TableRef, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metadataInfo(desc, schema_ref.ExportedKeys), nil
}

// DoGetExportedKeys lists no keys.
func (s *SQLServer) DoGetExportedKeys(context.Context, fsql.TableRef) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return s.emptyBatch(schema_ref.ExportedKeys)
}

// GetFlightInfoImportedKeys plans GetImportedKeys.
func (s *SQLServer) GetFlightInfoImportedKeys(_ context.Context, _ fsql.TableRef, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metadataInfo(desc, schema_ref.ImportedKeys), nil
}

// DoGetImportedKeys lists no keys.
func (s *SQLServer) DoGetImportedKeys(context.Context, fsql.TableRef) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return s.emptyBatch(schema_ref.ImportedKeys)
}

// GetFlightInfoCrossReference plans GetCrossReference.
func (s *SQLServer) GetFlightInfoCrossReference(_ context.Context, _ fsql.CrossTableRef, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metadataInfo(desc, schema_ref.CrossReference), nil
}

// DoGetCrossReference lists no keys.
func (s *SQLServer) DoGetCrossReference(context.Context, fsql.CrossTableRef) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return s.emptyBatch(schema_ref.CrossReference)
}

// Filters.

// catalogMatches applies a catalog filter: nil matches any catalog, "" only tables
// without one (none here), anything else names a catalog exactly.
func catalogMatches(c *string) bool { return c == nil || *c == sqlCatalog }

// tableTypeMatches applies a table type filter; an empty list matches every type.
func tableTypeMatches(types []string) bool {
	if len(types) == 0 {
		return true
	}
	return slices.ContainsFunc(types, func(t string) bool { return strings.EqualFold(t, sqlTableType) })
}

// patternMatches applies an optional LIKE pattern: nil matches everything.
func patternMatches(pattern *string, name string) bool {
	return pattern == nil || likeMatch(*pattern, name)
}

// likeMatch reports whether s matches the SQL LIKE pattern: '%' matches any run of
// characters, '_' any one character, and '\' makes the next character literal (a
// trailing '\' is itself literal). It runs in O(len(pattern)·len(s)) at worst: on a
// mismatch it only backtracks to the last '%'.
func likeMatch(pattern, s string) bool {
	type token struct {
		r    rune
		kind byte // 'l' literal, '_' one, '%' any run
	}
	var toks []token
	pr := []rune(pattern)
	for i := 0; i < len(pr); i++ {
		switch c := pr[i]; {
		case c == '\\' && i+1 < len(pr):
			i++
			toks = append(toks, token{r: pr[i], kind: 'l'})
		case c == '%':
			if len(toks) == 0 || toks[len(toks)-1].kind != '%' {
				toks = append(toks, token{kind: '%'})
			}
		case c == '_':
			toks = append(toks, token{kind: '_'})
		default:
			toks = append(toks, token{r: c, kind: 'l'})
		}
	}
	sr := []rune(s)
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(sr) {
		switch {
		case p < len(toks) && (toks[p].kind == '_' || toks[p].kind == 'l' && toks[p].r == sr[i]):
			p++
			i++
		case p < len(toks) && toks[p].kind == '%':
			star, mark = p, i
			p++
		case star >= 0:
			mark++
			p, i = star+1, mark
		default:
			return false
		}
	}
	for p < len(toks) && toks[p].kind == '%' {
		p++
	}
	return p == len(toks)
}
