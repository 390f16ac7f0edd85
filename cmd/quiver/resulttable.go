package main

import (
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"

	"github.com/quiverdata/quiver/flightsql/engine"
)

// resultTable prints a query result as DuckDB's CLI does: the column names with their
// SQL types under them and, when there are more rows than the limit, the first and
// the last rows with a row of dots between. It sees every row (to count them) but
// holds at most limit of them: the first half in head, the last half in a ring, so
// its memory does not grow with the result.
type resultTable struct {
	schema *arrow.Schema
	types  []string // SQL type names, under the column names
	limit  int64    // rows shown at most; 0: all (held in memory)

	head     [][]string
	tail     [][]string // a ring of the last rows once head is full
	tailNext int        // where the next tail row goes
	tailCap  int
	rows     int64 // every row seen
}

// newResultTable prepares a table for rows of schema. typeSource is the schema the
// server announced (FlightInfo), whose Flight SQL column metadata names DuckDB's
// types; it may be nil.
func newResultTable(schema, typeSource *arrow.Schema, limit int64) *resultTable {
	rt := &resultTable{schema: schema, limit: limit, types: sqlTypeNames(schema, typeSource)}
	if limit > 0 {
		rt.tailCap = int(limit / 2)
	}
	return rt
}

// headCap is how many of the first rows the table keeps.
func (rt *resultTable) headCap() int64 {
	if rt.limit == 0 {
		return -1
	}
	return rt.limit - int64(rt.tailCap)
}

// add takes rec's rows.
func (rt *resultTable) add(rec arrow.RecordBatch) {
	for r := 0; r < int(rec.NumRows()); r++ {
		rt.rows++
		if hc := rt.headCap(); hc < 0 || int64(len(rt.head)) < hc {
			rt.head = append(rt.head, rowStrings(rec, r))
			continue
		}
		if rt.tailCap == 0 {
			continue
		}
		if len(rt.tail) < rt.tailCap {
			rt.tail = append(rt.tail, rowStrings(rec, r))
			continue
		}
		rt.tail[rt.tailNext] = rowStrings(rec, r)
		rt.tailNext = (rt.tailNext + 1) % rt.tailCap
	}
}

func rowStrings(rec arrow.RecordBatch, r int) []string {
	row := make([]string, rec.NumCols())
	for c, col := range rec.Columns() {
		row[c] = cellString(col, r)
	}
	return row
}

// shown is the number of rows the table prints.
func (rt *resultTable) shown() int64 { return int64(len(rt.head) + len(rt.tail)) }

// truncated reports whether rows were left out.
func (rt *resultTable) truncated() bool { return rt.shown() < rt.rows }

// render writes the table to w.
func (rt *resultTable) render(w io.Writer) {
	t := newTable(w)
	names := make(table.Row, rt.schema.NumFields())
	types := make(table.Row, rt.schema.NumFields())
	var cfgs []table.ColumnConfig
	for i, f := range rt.schema.Fields() {
		names[i] = f.Name
		types[i] = rt.types[i]
		cfg := table.ColumnConfig{Number: i + 1, AlignHeader: text.AlignCenter}
		if isNumeric(f.Type) {
			cfg.Align = text.AlignRight
		}
		cfgs = append(cfgs, cfg)
	}
	t.AppendHeader(names)
	t.AppendHeader(types)
	t.SetColumnConfigs(cfgs)
	for _, r := range rt.head {
		t.AppendRow(toRow(r))
	}
	if rt.truncated() {
		// Three rows of dots, as DuckDB's CLI marks the rows left out.
		dots := make(table.Row, rt.schema.NumFields())
		for i := range dots {
			dots[i] = "·"
		}
		for range 3 {
			t.AppendRow(dots)
		}
	}
	for i := range rt.tail {
		t.AppendRow(toRow(rt.tail[(rt.tailNext+i)%len(rt.tail)]))
	}
	t.Render()
}

func isNumeric(t arrow.DataType) bool {
	id := t.ID()
	return arrow.IsInteger(id) || arrow.IsFloating(id) || arrow.IsDecimal(id)
}

// sqlTypeNames names each column's SQL type in lower case, as DuckDB's CLI shows them:
// the Flight SQL TYPE_NAME the server sent (DuckDB's own name for the column's type),
// else the name the server's engine gives the Arrow type.
func sqlTypeNames(schema, typeSource *arrow.Schema) []string {
	names := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		name := ""
		if typeSource != nil && i < typeSource.NumFields() && typeSource.Field(i).Name == f.Name {
			name = columnTypeName(typeSource.Field(i))
		}
		if name == "" {
			name = columnTypeName(f)
		}
		if name == "" {
			name = engine.TypeName(f.Type) // what the server would have named it
		}
		names[i] = strings.ToLower(name)
	}
	return names
}

// columnTypeName is the Flight SQL TYPE_NAME of f's metadata, or "".
func columnTypeName(f arrow.Field) string {
	md := flightsql.ColumnMetadata{Data: &f.Metadata}
	name, _ := md.TypeName()
	return name
}
