//go:build duckdb_arrow

package duckread

import (
	"fmt"
	"strings"
)

// integerTypes are DuckDB's integer types: the ones its CSV reader fills by rounding.
var integerTypes = map[string]bool{
	"TINYINT": true, "SMALLINT": true, "INTEGER": true, "BIGINT": true, "HUGEINT": true,
	"UTINYINT": true, "USMALLINT": true, "UINTEGER": true, "UBIGINT": true, "UHUGEINT": true,
}

// StrictCSV is the table expression that reads CSV (or TSV) files with o, like
// ScanSQL's, except that no value is rounded into an integer column.
//
// DuckDB detects a CSV file's types from its first rows (20480 by default), and its
// reader then converts a later "7.25" in a column it took for BIGINT by rounding:
// verified on 1.5.6, it stores 7 and says nothing. Detecting from every row
// (sample_size = -1) avoids it but made DuckDB hold 1.1 GB and take 3.5 times as
// long on a 1 GB file. So integer columns, detected or named by --columns, are read
// as text and cast in SQL, where a value that is not that integer stops the read with
// an error naming the column and the value; every other type keeps DuckDB's own
// parsing (dates in the formats it detected, for one).
func (d *DB) StrictCSV(f Format, files []string, o ScanOptions) (string, error) {
	scan, err := ScanSQL(f, files, o)
	if err != nil || f != CSV && f != TSV {
		return scan, err
	}
	cols, err := d.Describe(scan)
	if err != nil {
		return "", err
	}
	o.text = make(map[string]bool)
	var ints []Column
	for _, c := range cols {
		if integerTypes[c.Type] {
			o.text[c.Name] = true
			ints = append(ints, c)
		}
	}
	if len(ints) == 0 {
		return scan, nil
	}
	if scan, err = ScanSQL(f, files, o); err != nil {
		return "", err
	}
	where := "the type DuckDB detected from the first rows; --sample-rows -1 detects from all, --columns names the type"
	if len(o.Columns) > 0 {
		where = "the type --columns gives it"
	}
	replace := make([]string, len(ints))
	for i, c := range ints {
		col := quoteIdent(c.Name)
		there := fmt.Sprintf("TRY_CAST(%s AS %s)", col, c.Type)
		msg := fmt.Sprintf("%scolumn %q: the value ", lossMarker, c.Name)
		tail := fmt.Sprintf(" is not a %s (%s)", c.Type, where)
		replace[i] = fmt.Sprintf("CASE WHEN %[1]s IS NULL THEN NULL::%[2]s WHEN %[3]s THEN %[4]s"+
			" ELSE error(%[5]s || %[1]s || %[6]s) END AS %[1]s",
			col, c.Type, d.parsesKeep(col, c.Type, there), there, quote(msg), quote(tail))
	}
	return "(SELECT * REPLACE (" + strings.Join(replace, ", ") + ") FROM " + scan + ")", nil
}
