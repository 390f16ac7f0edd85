// Package fileformat writes Arrow record batch streams to files for the quiver CLI
// (`get`, `sql --format`): Parquet, CSV, JSON lines, and Arrow IPC in its file
// (.arrow, .feather) and stream (.arrows) forms; and reads Arrow IPC for `put`.
//
// It reads nothing else: `put` reads CSV, JSON and Parquet through DuckDB's readers
// (package duckread), which detect delimiters, headers, compression and types better
// than a hand-written inference did. What stays here is what DuckDB cannot do for the
// CLI: writing files from a Flight stream (the CLI's DuckDB reads only the user's
// files, and writes nothing), and Arrow IPC, which needs no conversion at all.
//
// Writers work a batch at a time, so memory stays bounded by a batch whatever the
// size of the data. An Arrow IPC file is read through io.ReaderAt, so it needs a
// real file; a stream reads any io.Reader, stdin included.
//
// It is not a general conversion library: it knows what the CLI needs and nothing of
// Flight or the server.
package fileformat
