// Package duckread reads the user's input files for `quiver put` through an embedded,
// in-memory DuckDB: CSV (any delimiter, quoting, header detection, gzip and zstd),
// JSON (arrays and lines), and Parquet, with DuckDB's own type detection (dates and
// timestamps included), as a stream of Arrow record batches.
//
// The database is opened for one command and locked down as the server's engine is
// (flightsql/engine/engine.go): no extension is installed or loaded, external access
// is off except for exactly the files the user named, and the configuration is frozen
// before any SQL built from the user's input runs.
//
// Results stream: DuckDB produces 2048-row chunks as they are fetched (the streaming
// result API), which the reader regroups into batches of a chosen size, so memory
// stays bounded whatever the size of the input.
//
// It is not for writing files (cmd/quiver/internal/fileformat does that for `get`)
// nor for Arrow IPC input, which arrow-go reads as it is.
package duckread
