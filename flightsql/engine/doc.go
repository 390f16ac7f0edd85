// Package engine runs SQL over the stored datasets with one embedded DuckDB database.
//
// Every dataset is a view; only statements that read are executed, inside DuckDB's own
// sandbox, and results stream out as Arrow record batches while DuckDB produces them.
// It is not a general DuckDB wrapper: it knows Quiver's read-only contract and nothing
// of gRPC.
package engine
