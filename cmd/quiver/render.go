package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"

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

// plural is "1 row", "2 rows".
func plural(n int64, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
