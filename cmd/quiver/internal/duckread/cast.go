//go:build duckdb_arrow

package duckread

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/quiverdata/quiver/catalog"
)

// lossMarker starts the messages of the errors the append query raises, so that
// Reader can tell them from DuckDB's own and drop DuckDB's prefix.
const lossMarker = "quiver: "

// AppendSQL is a query that reads the table expression from and hands back its rows
// in the columns and types of target, a dataset's schema, or an error naming the
// column and both types when that cannot be done without loss.
//
// Columns are matched by name (exactly, or as DuckDB matches identifiers). A column
// whose DuckDB type differs from the target's is cast when DuckDB has a cast for it,
// and every value is checked on the way: it must come back unchanged when cast back
// (TRY_CAST there and back), so 2.0 goes into a BIGINT column and 2.5 stops the query
// with an error naming the column, the value and both types. Checking values, not
// types, is what lets a CSV whose float column holds whole numbers append to an
// integer column; no table of casts is kept here, DuckDB decides.
func (d *DB) AppendSQL(from string, target *arrow.Schema) (string, error) {
	have, err := d.Describe(from)
	if err != nil {
		return "", err
	}
	want, err := d.DescribeArrow(target)
	if err != nil {
		return "", fmt.Errorf("the dataset's schema: %w", err)
	}
	byName := make(map[string]Column, len(have))
	folded := make(map[string]Column, len(have))
	for _, c := range have {
		byName[c.Name] = c
		folded[catalog.FoldIdent(c.Name)] = c
	}
	used := make(map[string]bool, len(have))
	exprs := make([]string, target.NumFields())
	for i, f := range target.Fields() {
		in, ok := byName[f.Name]
		if !ok {
			in, ok = folded[catalog.FoldIdent(f.Name)]
		}
		if !ok {
			return "", fmt.Errorf("the dataset's column %q (%s) is not in the input (its columns: %s)", f.Name, want[i], columnList(have))
		}
		used[in.Name] = true
		expr, err := d.castExpr(in, f.Name, want[i])
		if err != nil {
			return "", err
		}
		exprs[i] = expr
	}
	for _, c := range have {
		if !used[c.Name] {
			return "", fmt.Errorf("the input's column %q (%s) is not in the dataset (its columns: %s)", c.Name, c.Type, targetList(target, want))
		}
	}
	return "SELECT " + strings.Join(exprs, ", ") + " FROM " + from, nil
}

// castExpr is the select-list entry that turns input column in into a column called
// name of DuckDB type typ.
func (d *DB) castExpr(in Column, name, typ string) (string, error) {
	col, alias := quoteIdent(in.Name), quoteIdent(name)
	if in.Type == typ {
		return col + " AS " + alias, nil
	}
	// A cast DuckDB does not have fails to bind; ask before building on it.
	if _, err := d.queryStrings(fmt.Sprintf("SELECT TRY_CAST(TRY_CAST(NULL::%s AS %s) AS %s)::VARCHAR", in.Type, typ, in.Type)); err != nil {
		return "", fmt.Errorf("column %q: the input's %s cannot be stored in the dataset's %s", name, in.Type, typ)
	}
	there := fmt.Sprintf("TRY_CAST(%s AS %s)", col, typ)
	keep := fmt.Sprintf("TRY_CAST(%s AS %s) IS NOT DISTINCT FROM %s", there, in.Type, col)
	if in.Type == "VARCHAR" {
		keep = d.parsesKeep(col, typ, there)
	}
	msg := fmt.Sprintf("%scolumn %q: the value ", lossMarker, name)
	tail := fmt.Sprintf(" (%s) does not fit the dataset's %s without loss", in.Type, typ)
	return fmt.Sprintf("CASE WHEN %[1]s IS NULL THEN NULL::%[2]s WHEN %[3]s THEN %[4]s"+
		" ELSE error(%[5]s || CAST(%[1]s AS VARCHAR) || %[6]s) END AS %[7]s",
		col, typ, keep, there, quote(msg), quote(tail), alias), nil
}

// parsesKeep is the condition under which text col goes into type typ (there is the
// cast) without loss. Text is a representation: '2024-01-01' in a TIMESTAMP column
// comes back as '2024-01-01 00:00:00', a different string for the same value, so the
// text round trip is too strict. Instead the value must parse, and where DuckDB can
// compare the text's value in a wider type it must be the same there: DOUBLE for
// types DuckDB casts to DOUBLE (DuckDB rounds '1.5' into a BIGINT as 2, which this
// refuses), TIMESTAMP_NS for those it casts to that ('2024-01-01 10:00' is not the
// DATE 2024-01-01). Which applies is DuckDB's answer to whether the cast binds.
func (d *DB) parsesKeep(col, typ, there string) string {
	cond := there + " IS NOT NULL"
	for _, wide := range []string{"DOUBLE", "TIMESTAMP_NS"} {
		if typ == wide {
			return cond
		}
		if _, err := d.queryStrings(fmt.Sprintf("SELECT TRY_CAST(NULL::%s AS %s)::VARCHAR", typ, wide)); err != nil {
			continue
		}
		asWide := fmt.Sprintf("TRY_CAST(%s AS %s)", col, wide)
		return fmt.Sprintf("%s AND (%s IS NULL OR %s = TRY_CAST(%s AS %s))", cond, asWide, asWide, there, wide)
	}
	return cond
}

func columnList(cols []Column) string {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = fmt.Sprintf("%s %s", c.Name, c.Type)
	}
	return strings.Join(s, ", ")
}

func targetList(schema *arrow.Schema, types []string) string {
	s := make([]string, len(types))
	for i, t := range types {
		s[i] = fmt.Sprintf("%s %s", schema.Field(i).Name, t)
	}
	return strings.Join(s, ", ")
}

// cleanMessage turns a DuckDB error message into one line: the append query's own
// errors without DuckDB's "Invalid Input Error: " prefix.
// DuckDB's pointer into the SQL ("LINE 1: SELECT ...") goes too: the user wrote no SQL.
func cleanMessage(msg string) string {
	if i := strings.Index(msg, lossMarker); i >= 0 {
		msg = msg[i+len(lossMarker):]
	}
	if i := strings.Index(msg, "\nLINE "); i >= 0 {
		msg = msg[:i]
	}
	return strings.Join(strings.Fields(msg), " ")
}
