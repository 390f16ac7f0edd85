package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
)

// Output for people (aligned tables) and for scripts (CSV, JSON lines).

// newTable is the one table style of the CLI: light box drawing, numbers right-aligned
// by the caller's column configs.
func newTable(w io.Writer) table.Writer {
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(table.StyleLight)
	t.Style().Format.Header = text.FormatDefault
	return t
}

// listFormat is an output format of ls and info.
type listFormat string

const (
	formatTable listFormat = "table"
	formatCSV   listFormat = "csv"
	formatJSON  listFormat = "json"
)

func parseListFormat(s string) (listFormat, error) {
	switch f := listFormat(s); f {
	case formatTable, formatCSV, formatJSON:
		return f, nil
	}
	return "", usageErrorf("--format %q: want table, csv or json", s)
}

// rowsOut writes rows under header in format f. For JSON, each row is an object with
// header's names as keys and the typed values of jsonRows.
func rowsOut(w io.Writer, f listFormat, header []string, rows [][]string, jsonRows []map[string]any, rightAligned ...int) error {
	switch f {
	case formatCSV:
		cw := csv.NewWriter(w)
		cw.Write(header)
		cw.WriteAll(rows)
		return cw.Error()
	case formatJSON:
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, r := range jsonRows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	t := newTable(w)
	t.AppendHeader(toRow(header))
	for _, r := range rows {
		t.AppendRow(toRow(r))
	}
	var cfgs []table.ColumnConfig
	for _, c := range rightAligned {
		cfgs = append(cfgs, table.ColumnConfig{Number: c, Align: text.AlignRight})
	}
	t.SetColumnConfigs(cfgs)
	t.Render()
	return nil
}

func toRow(s []string) table.Row {
	r := make(table.Row, len(s))
	for i, v := range s {
		r[i] = v
	}
	return r
}

// recordTable collects up to limit rows of query results into an aligned table. A
// table's column widths depend on every row, so it holds its rows: limit bounds the
// memory.
type recordTable struct {
	t       table.Writer
	limit   int64 // 0: no limit
	rows    int64
	numeric []bool
}

func newRecordTable(w io.Writer, schema *arrow.Schema, limit int64) *recordTable {
	rt := &recordTable{t: newTable(w), limit: limit}
	header := make(table.Row, schema.NumFields())
	var cfgs []table.ColumnConfig
	for i, f := range schema.Fields() {
		header[i] = f.Name
		if arrow.IsInteger(f.Type.ID()) || arrow.IsFloating(f.Type.ID()) || arrow.IsDecimal(f.Type.ID()) {
			cfgs = append(cfgs, table.ColumnConfig{Number: i + 1, Align: text.AlignRight})
		}
	}
	rt.t.AppendHeader(header)
	rt.t.SetColumnConfigs(cfgs)
	return rt
}

// add appends rec's rows and reports false once the limit is reached.
func (rt *recordTable) add(rec arrow.RecordBatch) bool {
	for r := 0; r < int(rec.NumRows()); r++ {
		if rt.limit > 0 && rt.rows >= rt.limit {
			return false
		}
		row := make(table.Row, rec.NumCols())
		for c, col := range rec.Columns() {
			row[c] = cellString(col, r)
		}
		rt.t.AppendRow(row)
		rt.rows++
	}
	return rt.limit == 0 || rt.rows < rt.limit
}

func (rt *recordTable) render() { rt.t.Render() }

// cellString renders one value for a table: NULL for nulls.
func cellString(col arrow.Array, i int) string {
	if col.IsNull(i) {
		return "NULL"
	}
	switch a := col.(type) {
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	case *array.Timestamp:
		t := a.DataType().(*arrow.TimestampType)
		toTime, err := t.GetToTimeFunc()
		if err == nil {
			layout := "2006-01-02 15:04:05.999999999"
			if t.TimeZone != "" {
				layout += "Z07:00"
			}
			return toTime(a.Value(i)).Format(layout)
		}
	}
	return col.ValueStr(i)
}

// plural is "1 row", "2 rows".
func plural(n int64, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
