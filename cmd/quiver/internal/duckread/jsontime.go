//go:build duckdb_arrow

package duckread

import (
	"fmt"
	"strings"
)

// isoTimestamp matches ISO 8601 date-times as JSON writers produce them, with an
// optional fraction; isoZone matches the zone designator at their end.
const (
	isoTimestamp = `^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$`
	isoZone      = `(Z|[+-]\d{2}(:?\d{2})?)$`
)

// TimestampsJSON returns the table expression from (a read_json call) with its text
// columns that hold ISO 8601 timestamps in every row turned into timestamps.
//
// DuckDB's JSON reader detects one timestamp format per column, so a column whose
// values differ only in their fractions ("...T03:04:05Z", "...T04:05:06.5Z", as
// JavaScript's toISOString and many loggers write them) stays text. Here every row
// of each text column is checked in one pass: when all its values are ISO 8601
// timestamps that DuckDB parses and either all or none name their zone, it becomes a
// TIMESTAMP (zoned values converted to UTC, as DuckDB's own detection stores
// "...Z"); otherwise it stays text.
func (d *DB) TimestampsJSON(from string) (string, error) {
	cols, err := d.Describe(from)
	if err != nil {
		return "", err
	}
	var text []string
	for _, c := range cols {
		if c.Type == "VARCHAR" {
			text = append(text, c.Name)
		}
	}
	if len(text) == 0 {
		return from, nil
	}
	var aggs []string
	for _, name := range text {
		c := quoteIdent(name)
		aggs = append(aggs,
			fmt.Sprintf("(count(%[1]s) > 0 AND count(%[1]s) = count(CASE WHEN regexp_full_match(%[1]s, %[2]s) AND TRY_CAST(%[1]s AS TIMESTAMPTZ) IS NOT NULL THEN 1 END))::VARCHAR", c, quote(isoTimestamp)),
			fmt.Sprintf("(count(CASE WHEN regexp_matches(%s, %s) THEN 1 END) = count(%s))::VARCHAR", c, quote(isoZone), c),
			fmt.Sprintf("(count(CASE WHEN regexp_matches(%s, %s) THEN 1 END) = 0)::VARCHAR", c, quote(isoZone)))
	}
	rows, err := d.queryStrings("SELECT " + strings.Join(aggs, ", ") + " FROM " + from)
	if err != nil || len(rows) != 1 {
		return "", fmt.Errorf("look for timestamps: %v", err)
	}
	var replace []string
	for i, name := range text {
		all, zoned, naive := rows[0][3*i] == "true", rows[0][3*i+1] == "true", rows[0][3*i+2] == "true"
		switch {
		case all && zoned:
			// In UTC (the session's zone), as DuckDB's own detection stores them.
			replace = append(replace, fmt.Sprintf("CAST(CAST(%[1]s AS TIMESTAMPTZ) AS TIMESTAMP) AS %[1]s", quoteIdent(name)))
		case all && naive:
			replace = append(replace, fmt.Sprintf("CAST(%[1]s AS TIMESTAMP) AS %[1]s", quoteIdent(name)))
		}
	}
	if len(replace) == 0 {
		return from, nil
	}
	return "(SELECT * REPLACE (" + strings.Join(replace, ", ") + ") FROM " + from + ")", nil
}
