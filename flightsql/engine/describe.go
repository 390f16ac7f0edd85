//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	bindings "github.com/duckdb/duckdb-go-bindings"
)

// Description is what Describe learns about a statement without running it.
type Description struct {
	Schema *arrow.Schema // the result schema Query will produce
	// Params has one field per placeholder, in binding order, named "$1", "$2", ...
	// (or "$name" for DuckDB's named parameters); a type DuckDB cannot infer is arrow.Null.
	Params        *arrow.Schema
	StatementType string // "SELECT": Describe refuses everything else
	// Tables names, per result column, the table it is a column of, "" for a
	// computed column or where that is not known (origins.go); nil: none known.
	Tables []string
}

// Describe parses and prepares sql without executing it and returns the result schema
// and the parameter schema. It refuses anything but one read-only statement, with
// ErrReadOnly, ErrInvalidSQL or ErrForbidden.
//
// With a Config.Catalog, the views are brought in step with the catalog first.
func (e *Engine) Describe(ctx context.Context, sql string) (*Description, error) {
	if err := e.syncCatalog(ctx); err != nil {
		return nil, sqlError(sql, err)
	}
	return e.describe(ctx, sql)
}

// DescribeTable describes the result of `SELECT * FROM table`, a dataset's table
// named as in SQL, without running it.
func (e *Engine) DescribeTable(ctx context.Context, table string) (*Description, error) {
	return e.Describe(ctx, selectAll(table))
}

// ColumnTypes returns DuckDB's names of the column types of `SELECT * FROM table`
// ("INTEGER", "DECIMAL(18,3)", "VARCHAR[]", ...), which want columns it must have.
// DESCRIBE binds the query without running it.
func (e *Engine) ColumnTypes(ctx context.Context, table string, want int) ([]string, error) {
	if err := e.syncCatalog(ctx); err != nil {
		return nil, err
	}
	return e.columnTypes(ctx, table, want)
}

// columnTypes is ColumnTypes on the views as they are.
func (e *Engine) columnTypes(ctx context.Context, table string, want int) ([]string, error) {
	rows, err := e.query(ctx, "DESCRIBE "+selectAll(table), nil, 0)
	if err != nil {
		return nil, err
	}
	defer rows.Release()
	idx := rows.Schema().FieldIndices("column_type")
	if len(idx) != 1 {
		return nil, fmt.Errorf("DESCRIBE has no column_type column: %s", rows.Schema())
	}
	types := make([]string, 0, want)
	for rows.Next() {
		col, ok := rows.RecordBatch().Column(idx[0]).(*array.String)
		if !ok {
			return nil, fmt.Errorf("DESCRIBE column_type is %s, not utf8", rows.RecordBatch().Column(idx[0]).DataType())
		}
		for i := range col.Len() {
			types = append(types, strings.Clone(col.Value(i)))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(types) != want {
		return nil, fmt.Errorf("DESCRIBE lists %d columns, the query has %d", len(types), want)
	}
	return types, nil
}

// selectAll is the query of every column of table.
func selectAll(table string) string { return "SELECT * FROM " + quoteIdent(table) }

// DescribeBound is Describe for sql with row `row` of params bound: its Schema is the
// one Query streams for those parameters. They differ where a result column's type
// comes from a parameter: DuckDB prepares without values and plans again, per
// execution, with the values' types when they differ from those it inferred, so
// "SELECT ?" is arrow.Null before binding and utf8 with a string bound, and
// "SELECT coalesce(n, ?)" widens with a DOUBLE bound to a BIGINT n.
//
// When binding cannot change the schema (every column typed, every value of its
// placeholder's inferred type and not null) it costs what Describe does. Otherwise
// DuckDB reports the planned types only on a result, so DescribeBound starts the query
// and releases it at once: it costs the query's time to its first chunk (for a scan,
// about a millisecond; a blocking ORDER BY or aggregate runs to completion first).
func (e *Engine) DescribeBound(ctx context.Context, sql string, params arrow.RecordBatch, row int) (*Description, error) {
	ctx, cancel := e.Request(ctx) // one deadline for the describe and the query
	defer cancel()
	d, err := e.Describe(ctx, sql)
	if err != nil || params == nil || !bindingMayRetype(d, params, row) {
		return d, err
	}
	// Run for the schema only: on object storage the views may name stand-ins,
	// which have their datasets' schemas (consistent.go).
	rows, err := e.runQuery(ctx, sql, params, row, true)
	if err != nil {
		return nil, err
	}
	defer rows.Release()
	return &Description{Schema: rows.Schema(), Params: d.Params, StatementType: d.StatementType, Tables: d.Tables}, nil
}

// bindingMayRetype reports whether binding row `row` of params may make DuckDB plan d's
// statement again with other result types than d.Schema.
func bindingMayRetype(d *Description, params arrow.RecordBatch, row int) bool {
	for _, f := range d.Schema.Fields() {
		if f.Type.ID() == arrow.NULL {
			return true
		}
	}
	if int(params.NumCols()) != d.Params.NumFields() || row < 0 || int64(row) >= params.NumRows() {
		return false // Query refuses these; so will the DoGet
	}
	for i, col := range params.Columns() {
		if col.IsNull(row) || !arrow.TypeEqual(col.DataType(), d.Params.Field(i).Type) {
			return true
		}
	}
	return false
}

func (e *Engine) describe(ctx context.Context, sql string) (*Description, error) {
	if err := ctxError(ctx); err != nil {
		return nil, sqlError(sql, err)
	}
	// Binding a view over many parts reads every footer: planning is bounded too.
	ctx, cancel := e.Request(ctx)
	defer cancel()
	s, err := e.newSessionFor(sql)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	defer s.destroyLocked(nil)
	s.watch(ctx) // binding a view over many parts reads every footer

	st, origins, err := e.prepareGated(s, sql)
	if err != nil {
		return nil, sqlError(sql, e.noteFailure(s.gen, e.explain(ctx, err)))
	}
	defer bindings.DestroyPrepare(&st)

	var opts bindings.ArrowOptions
	bindings.ConnectionGetArrowOptions(s.conn, &opts)
	defer bindings.DestroyArrowOptions(&opts)

	n := int(bindings.PreparedStatementColumnCount(st))
	names := make([]string, n)
	types := make([]bindings.LogicalType, n)
	for i := range n {
		names[i] = bindings.PreparedStatementColumnName(st, bindings.IdxT(i))
		types[i] = bindings.PreparedStatementColumnLogicalType(st, bindings.IdxT(i))
	}
	defer destroyTypes(types)
	schema, err := arrowSchema(opts, types, names)
	if err != nil {
		return nil, sqlError(sql, err)
	}
	d := &Description{
		Schema:        schema,
		Params:        paramSchema(st, opts),
		StatementType: statementTypeName(bindings.StatementTypeSelect),
	}
	if len(origins) == n {
		d.Tables = e.originTables(origins)
	}
	return d, nil
}

// explain turns an error from a call that ctx may have interrupted into the error
// to report: the context's, or ErrClosed after Close, or err itself.
func (e *Engine) explain(ctx context.Context, err error) error {
	if cerr := ctxError(ctx); cerr != nil {
		return cerr
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return e.unqueryable(err)
}

// arrowSchema converts DuckDB column types to an Arrow schema with DuckDB's own
// conversion (the one its result chunks use). A column whose type has no Arrow form
// yet (a parameter DuckDB could not type, as in "SELECT ?") becomes arrow.Null;
// Query then reports the type it really produces.
func arrowSchema(opts bindings.ArrowOptions, types []bindings.LogicalType, names []string) (*arrow.Schema, error) {
	schema, err := newArrowSchema(opts, types, names)
	if err == nil {
		return schema, nil
	}
	fields := make([]arrow.Field, len(types))
	for i := range types {
		fields[i] = arrowField(opts, types[i], names[i])
	}
	return arrow.NewSchema(fields, nil), nil
}

func arrowField(opts bindings.ArrowOptions, t bindings.LogicalType, name string) arrow.Field {
	null := arrow.Field{Name: name, Type: arrow.Null, Nullable: true}
	if t.Ptr == nil || bindings.GetTypeId(t) == bindings.TypeInvalid {
		return null
	}
	s, err := newArrowSchema(opts, []bindings.LogicalType{t}, []string{name})
	if err != nil || s.NumFields() != 1 {
		return null
	}
	return s.Field(0)
}

func newArrowSchema(opts bindings.ArrowOptions, types []bindings.LogicalType, names []string) (*arrow.Schema, error) {
	for _, t := range types {
		if t.Ptr == nil {
			return nil, errors.New("column without a type")
		}
	}
	schema, ed := bindings.NewArrowSchema(opts, types, names)
	if err := errorData(ed); err != nil {
		return nil, fmt.Errorf("arrow schema: %w", err)
	}
	return schema, nil
}

// errorData turns DuckDB error data into an error and destroys it.
func errorData(ed bindings.ErrorData) error {
	defer bindings.DestroyErrorData(&ed)
	if ed.Ptr == nil || !bindings.ErrorDataHasError(ed) {
		return nil
	}
	return duckError(bindings.ErrorDataErrorType(ed), bindings.ErrorDataMessage(ed))
}

func destroyTypes(types []bindings.LogicalType) {
	for i := range types {
		bindings.DestroyLogicalType(&types[i])
	}
}

// paramSchema describes st's placeholders.
func paramSchema(st bindings.PreparedStatement, opts bindings.ArrowOptions) *arrow.Schema {
	n := int(bindings.NParams(st))
	fields := make([]arrow.Field, n)
	for i := range n {
		idx := bindings.IdxT(i + 1)
		name := "$" + bindings.ParameterName(st, idx)
		if name == "$" {
			name = fmt.Sprintf("$%d", i+1)
		}
		t := bindings.ParamLogicalType(st, idx)
		fields[i] = arrowField(opts, t, name)
		bindings.DestroyLogicalType(&t)
	}
	return arrow.NewSchema(fields, nil)
}
