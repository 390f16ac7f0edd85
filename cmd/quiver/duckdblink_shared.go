//go:build duckdb_use_lib

package main

// duckdbLink says how DuckDB is linked into this binary: a shared libduckdb.so found
// at run time (make build DUCKDB=release, tools/libduckdb.sh).
const duckdbLink = "libduckdb.so"
