package duckread

import (
	"fmt"
	"sort"
	"strings"
)

// ScanOptions override DuckDB's detection when it guesses wrong.
type ScanOptions struct {
	Delimiter string // CSV: the field delimiter; "" = detect (TSV: tab)
	Header    *bool  // CSV: whether the first line names the columns; nil = detect
	// Columns names every column and its DuckDB type, in order, e.g. "id:BIGINT" (CSV
	// and JSON); nil = detect.
	Columns []Column
	// SampleRows is how many rows DuckDB looks at to detect types (CSV and JSON);
	// 0 = DuckDB's default (20480), -1 = all of them (a first pass over the input).
	SampleRows int

	// text names columns read as VARCHAR whatever was detected (StrictCSV).
	text map[string]bool
}

// Column is a name and a DuckDB type name.
type Column struct{ Name, Type string }

// ParseColumns parses --columns: "name:TYPE,name:TYPE,...". Types are DuckDB's type
// names and may contain commas inside parentheses (DECIMAL(10,2)); DuckDB checks them.
func ParseColumns(s string) ([]Column, error) {
	var cols []Column
	depth, start := 0, 0
	var parts []string
	for i, c := range s {
		switch c {
		case '(', '[', '<':
			depth++
		case ')', ']', '>':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	parts = append(parts, s[start:])
	for _, p := range parts {
		name, typ, ok := strings.Cut(strings.TrimSpace(p), ":")
		name, typ = strings.TrimSpace(name), strings.TrimSpace(typ)
		if !ok || name == "" || typ == "" {
			return nil, fmt.Errorf("%q: want name:TYPE, e.g. id:BIGINT or price:DECIMAL(10,2)", strings.TrimSpace(p))
		}
		cols = append(cols, Column{Name: name, Type: typ})
	}
	return cols, nil
}

// ScanSQL is the table expression that reads files of format f with DuckDB: a call
// of read_csv, read_json or read_parquet with every file named (DuckDB may read
// exactly those, DB's lock-down).
func ScanSQL(f Format, files []string, o ScanOptions) (string, error) {
	list := make([]string, len(files))
	for i, p := range files {
		list[i] = quote(p)
	}
	args := []string{"[" + strings.Join(list, ", ") + "]"}
	csvOnly := func(what string) error {
		return fmt.Errorf("%s applies to CSV and TSV input, not %s", what, f)
	}
	switch f {
	case CSV, TSV:
		delim := o.Delimiter
		if delim == "" && f == TSV {
			delim = "\t"
		}
		if delim != "" {
			args = append(args, "delim = "+quote(delim))
		}
		if o.Header != nil {
			args = append(args, fmt.Sprintf("header = %t", *o.Header))
		}
		if len(o.text) > 0 && len(o.Columns) == 0 {
			var kv []string
			for name := range o.text {
				kv = append(kv, quote(name)+": 'VARCHAR'")
			}
			sort.Strings(kv)
			args = append(args, "types = {"+strings.Join(kv, ", ")+"}")
		}
	case JSON, Parquet:
		if o.Delimiter != "" {
			return "", csvOnly("--delimiter")
		}
		if o.Header != nil {
			return "", csvOnly("--header/--no-header")
		}
	default:
		return "", fmt.Errorf("DuckDB does not read %s here", f)
	}
	if len(o.Columns) > 0 {
		if f == Parquet {
			return "", fmt.Errorf("--columns applies to CSV, TSV and JSON input, not Parquet (its file says its types)")
		}
		kv := make([]string, len(o.Columns))
		for i, c := range o.Columns {
			typ := c.Type
			if o.text[c.Name] {
				typ = "VARCHAR"
			}
			kv[i] = quote(c.Name) + ": " + quote(typ)
		}
		args = append(args, "columns = {"+strings.Join(kv, ", ")+"}")
	}
	if f != Parquet && len(o.Columns) == 0 && o.SampleRows != 0 {
		args = append(args, fmt.Sprintf("sample_size = %d", o.SampleRows))
	}
	fn := map[Format]string{CSV: "read_csv", TSV: "read_csv", JSON: "read_json", Parquet: "read_parquet"}[f]
	return fn + "(" + strings.Join(args, ", ") + ")", nil
}

// quote is s as an SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// quoteIdent is s as an SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
