// Package engine runs SQL over the stored datasets with one embedded DuckDB database.
//
// Every dataset is a view; only statements that read are executed, inside DuckDB's own
// sandbox, and results stream out as Arrow record batches while DuckDB produces them.
// It is not a general DuckDB wrapper: it knows Quiver's read-only contract and nothing
// of gRPC. The Flight SQL handlers call Describe for a schema (GetFlightInfo, prepared
// statements) and Query for the stream (DoGet). The engine keeps its own snapshot of
// the catalog (Config.Catalog, catalog.go), which the store keeps current by telling
// it of every change it commits, and points the views at the snapshot's files before
// each statement; metadata requests read the snapshot (Snapshot) and the columns and
// keywords the engine remembers (TableColumns, Keywords), and run no SQL.
//
// # Building
//
// The package needs the build tag duckdb_arrow (the Arrow functions of
// duckdb-go-bindings exist only with it): go test -tags duckdb_arrow ./...
// Without the tag the build fails on an identifier that says so.
//
// # The sandbox
//
// Two layers. DuckDB itself is locked down when the engine opens: it may read files
// only under Config.Root (and its own temp directory, which DuckDB adds to the allowed
// directories by itself), cannot install or load extensions, and its configuration is
// frozen, so no statement can SET or RESET anything. Those guards still let a
// statement write inside the root and change the catalog, so on top of them every
// statement passes a gate that admits exactly one SELECT. Refused with ErrReadOnly:
//
//   - COPY (to a file, even inside the root, and from one), INSERT, UPDATE, DELETE,
//     MERGE, CREATE (tables, views, macros, types, sequences, secrets), DROP, ALTER,
//     ATTACH, DETACH, USE, SET, RESET, SET VARIABLE, INSTALL, LOAD, CALL, PRAGMA,
//     EXPORT and IMPORT DATABASE, VACUUM, CHECKPOINT, BEGIN/COMMIT/ROLLBACK, PREPARE,
//     EXECUTE, and EXPLAIN (EXPLAIN ANALYZE executes its statement).
//   - Forms that DuckDB rewrites into a SELECT but that are not one when parsed:
//     PRAGMA table_info and friends, and PIVOT (it parses as a hidden CREATE TYPE
//     followed by a SELECT). DESCRIBE, SHOW, SUMMARIZE, UNPIVOT, FROM-first queries,
//     VALUES, CTEs and set operations are SELECTs and work.
//   - Several statements in one string, even if all are SELECTs (ErrInvalidSQL then):
//     DuckDB would execute all but the last while preparing.
//
// Refused with ErrForbidden: SELECTs that call a system function with effects beyond
// the query (enable_logging and the other logging and profiling switches, write_log,
// checkpoint, the PEG parser switches), functions that run SQL given as a string
// (query, query_table, json_execute_serialized_sql), read_duckdb and arrow_scan; and
// any read that DuckDB's own guard refuses: a file outside the root, "..", a glob
// outside the root.
//
// Refused with ErrForbidden too, whoever asks: whatever shows the server's
// configuration or files, decided on the plan DuckDB binds (plan.go), so that a
// built-in macro or system view cannot reach it either: current_setting() and the
// macros that call it, duckdb_settings().value, duckdb_temporary_files(),
// duckdb_external_file_cache(), duckdb_extensions().install_path, secrets, macro
// bodies, json_serialize_plan. A view's definition names no file: its file list is
// the body of a macro of its own (tables.go), which clients may not call.
//
// Harmless reads stay allowed: the other duckdb_* catalog functions and columns,
// read_csv / read_parquet / read_text / glob on files under the root. Anything readable under the root is readable by every client, not only the
// datasets' Parquet files; keep nothing else there, and no symbolic links out of it.
//
// The gate decides from DuckDB's parser (json_serialize_sql) before anything is bound,
// because binding is not free of effects (preparing EXPORT DATABASE creates its
// directory). See sandbox.go.
//
// # Streaming and resources
//
// Query prepares on a fresh DuckDB connection, executes with a streaming result and
// converts DuckDB's 2048-row chunks to Arrow as Next asks for them, about
// Config.BatchRows rows per batch: a result is never materialised. Cancelling the
// context, Config.QueryTimeout (one deadline per Request, however many statements it
// runs), the last Release or Engine.Close interrupts DuckDB.
// Regrouped batches are allocated with Config.Allocator; single-chunk batches keep the
// buffers DuckDB allocated, freed by their release callback.
//
// # The memory tier
//
// With Config.MemoryTier on, a dataset that a query read is copied in the background
// (one copy at a time) into a DuckDB table in a hidden schema, and its view swapped to
// the copy; a new version of the dataset swaps it back to Parquet in the same step
// that shows the new version, and eviction from the tier's LRU does too. A copy is
// dropped only when every session that might have bound it has ended. No client
// statement may name the hidden schema (memtier.go, memtier_gate.go). A configured
// memory_limit is raised by the tier's budget (memtier_limit.go).
//
// # Where DuckDB is not trusted
//
// A hand-dropped file with a column nested deeper than catalog.MaxNestingDepth gets
// no view (DuckDB's reader would spend exponential time on it, deaf to interrupts);
// a query naming it fails with ErrUnqueryable (nesting.go). Engine.Shutdown gives up
// on queries that ignore their interrupt when its context ends. A database that
// reported an INTERNAL error is replaced in the background while it keeps serving
// (recover.go). DuckDB spills into a directory of the engine's own, capped by
// Config.MaxTempSize and swept when the process that made it is gone (tempdir.go).
package engine
