//go:build !duckdb_arrow

package engine

// The engine streams DuckDB results as Arrow through duckdb-go-bindings, whose Arrow
// functions exist only with the build tag duckdb_arrow. Without the tag every other
// file of this package is excluded, and this reference to an undefined identifier
// makes the build fail with a message that says what to do:
//
//	go build -tags duckdb_arrow ./...
var _ = quiver_must_be_built_with_tags_duckdb_arrow
