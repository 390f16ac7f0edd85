//go:build !duckdb_use_lib

package main

// duckdbLink says how DuckDB is linked into this binary: the static library that
// duckdb-go-bindings ships (the default build).
const duckdbLink = "static"
