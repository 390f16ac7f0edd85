package auth

import (
	"fmt"
	"path"
	"strings"

	"github.com/quiverdata/quiver/catalog"
)

// Permission is what a principal may do. Each level includes the ones below it.
type Permission int

const (
	// None allows nothing; it is the zero value so that a forgotten field denies.
	None Permission = iota
	// Read allows listing, describing and fetching datasets, SQL queries and metadata.
	Read
	// Write adds put, ingest and drop.
	Write
	// Admin allows everything, including requests this package does not recognise
	// (future actions, DoExchange).
	Admin
)

func (p Permission) String() string {
	switch p {
	case Read:
		return "read"
	case Write:
		return "write"
	case Admin:
		return "admin"
	}
	return "none"
}

// ParsePermission parses "read", "write" or "admin".
func ParsePermission(s string) (Permission, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "read":
		return Read, nil
	case "write":
		return Write, nil
	case "admin":
		return Admin, nil
	}
	return None, fmt.Errorf("permission %q: want read, write or admin", s)
}

// Grant is a permission over a set of datasets.
type Grant struct {
	Permission Permission
	// Datasets are glob patterns (path.Match syntax: *, ?, [a-z]) over dataset names.
	// Empty means every dataset. A pattern matches a dataset if it matches its name
	// ("sales.parquet") or its SQL table name ("sales"), ignoring case: SQL identifiers
	// are case-insensitive and the catalog never holds two names that differ only in
	// case, so "SALES" over Flight SQL and "sales.parquet" over Flight are one dataset.
	Datasets []string
}

// Restricted reports whether the grant covers only some datasets. A restricted grant
// runs a SQL statement only if the Guard's TableReader shows that every table it
// reads is covered, and lists only covered tables.
func (g Grant) Restricted() bool {
	for _, p := range g.Datasets {
		if p == "*" {
			return false
		}
	}
	return len(g.Datasets) > 0
}

// Covers reports whether the grant's patterns cover the dataset name. It takes a
// dataset name, never a SQL table name: a table is resolved to its dataset first
// (TableReader.DatasetForTable), so "*.parquet" covers "sales.parquet" (table sales)
// and not the hand-copied dataset "payroll" (table payroll) on any path.
func (g Grant) Covers(name string) bool {
	if !g.Restricted() {
		return true
	}
	// Dataset names are ASCII; folding as DuckDB does keeps a client's non-ASCII
	// look-alike (U+212A for "k") from matching a pattern it does not spell.
	name = catalog.FoldIdent(name)
	table := catalog.TableName(name)
	for _, p := range g.Datasets {
		p = catalog.FoldIdent(p)
		if ok, _ := path.Match(p, name); ok {
			return true
		}
		if ok, _ := path.Match(p, table); ok && table != "" {
			return true
		}
	}
	return false
}

// validatePatterns rejects patterns path.Match cannot use.
func validatePatterns(patterns []string) error {
	for _, p := range patterns {
		if p == "" {
			return fmt.Errorf("dataset pattern is empty")
		}
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("dataset pattern %q: %w", p, err)
		}
	}
	return nil
}
