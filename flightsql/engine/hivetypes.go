//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	bindings "github.com/duckdb/duckdb-go-bindings"

	"github.com/quiverdata/quiver/catalog"
)

// probeColumn is the one column of the probe file; no partition key can have this
// name (keys are [A-Za-z0-9_]).
const probeColumn = "quiver-probe"

// PartitionTypes is a catalog.PartitionTyper: it returns values, the distinct values
// of hive partition key key, typed as DuckDB's read_parquet(hive_partitioning=true)
// types them, so that the catalog's schema and the SQL view's agree (DuckDB reads
// month=01 as the string "01", year=2024 as BIGINT, and also knows dates and
// timestamps).
//
// DuckDB infers the types from file paths only, but wants the files to exist: so it
// is asked about one-row probe files linked under key=value directories in a fresh
// directory of the engine's temp dir, through a database of its own with one thread
// (which keeps the rows in file order) that sees nothing else.
func (e *Engine) PartitionTypes(ctx context.Context, key string, values []string) (arrow.Array, error) {
	for _, v := range values {
		if _, _, err := catalog.ParsePartitionDir(key + "=" + v); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(e.tempDir, "hive-probe-")
	if err != nil {
		return nil, fmt.Errorf("hive partition types: %w", err)
	}
	defer os.RemoveAll(dir)

	var db bindings.Database
	var conn bindings.Connection
	var msg string
	if bindings.OpenExt("", &db, bindings.Config{}, &msg) == bindings.StateError {
		return nil, fmt.Errorf("hive partition types: open DuckDB: %s", msg)
	}
	defer bindings.Close(&db)
	if bindings.Connect(db, &conn) == bindings.StateError {
		return nil, errors.New("hive partition types: connect to DuckDB")
	}
	defer bindings.Disconnect(&conn)
	setup := []string{
		"SET threads = 1",
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
	}
	for _, q := range setup {
		if err := exec(conn, q); err != nil {
			return nil, fmt.Errorf("hive partition types: %s: %w", q, err)
		}
	}
	probe := filepath.Join(dir, "probe.parquet")
	if err := exec(conn, "COPY (SELECT 1 AS "+quoteIdent(probeColumn)+") TO "+quoteLiteral(probe)+" (FORMAT parquet)"); err != nil {
		return nil, fmt.Errorf("hive partition types: write probe file: %w", err)
	}
	var list strings.Builder
	for i, v := range values {
		sub := filepath.Join(dir, key+"="+v)
		if err := os.Mkdir(sub, 0o700); err != nil {
			return nil, fmt.Errorf("hive partition types: %w", err)
		}
		f := filepath.Join(sub, "probe.parquet")
		if err := os.Link(probe, f); err != nil {
			return nil, fmt.Errorf("hive partition types: %w", err)
		}
		if i > 0 {
			list.WriteString(", ")
		}
		list.WriteString(quoteLiteral(f))
	}
	q := "SELECT " + quoteIdent(key) + " FROM read_parquet([" + list.String() + "], hive_partitioning = true)"
	col, err := queryColumn(conn, q)
	if err != nil {
		return nil, fmt.Errorf("hive partition types of key %q: %w", key, err)
	}
	if col.Len() != len(values) {
		col.Release()
		return nil, fmt.Errorf("hive partition types of key %q: DuckDB returned %d values for %d", key, col.Len(), len(values))
	}
	return col, nil
}

// queryColumn runs q on conn and returns its first column as one array in Go memory
// (DuckDB's buffers go with its database).
func queryColumn(conn bindings.Connection, q string) (arrow.Array, error) {
	var res bindings.Result
	defer bindings.DestroyResult(&res)
	if bindings.Query(conn, q, &res) == bindings.StateError {
		return nil, duckError(bindings.ResultErrorType(&res), bindings.ResultError(&res))
	}
	opts := bindings.ResultGetArrowOptions(&res)
	defer bindings.DestroyArrowOptions(&opts)
	types := []bindings.LogicalType{bindings.ColumnLogicalType(&res, 0)}
	defer destroyTypes(types)
	schema, err := newArrowSchema(opts, types, []string{bindings.ColumnName(&res, 0)})
	if err != nil {
		return nil, err
	}
	var cols []arrow.Array
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for {
		chunk := bindings.FetchChunk(res)
		if chunk.Ptr == nil {
			if msg := bindings.ResultError(&res); msg != "" {
				return nil, duckError(bindings.ResultErrorType(&res), msg)
			}
			break
		}
		rec, ed := bindings.DataChunkToArrowArray(opts, schema, chunk)
		bindings.DestroyDataChunk(&chunk)
		if err := errorData(ed); err != nil {
			if rec != nil {
				rec.Release()
			}
			return nil, err
		}
		c := rec.Column(0)
		c.Retain()
		rec.Release()
		cols = append(cols, c)
	}
	if len(cols) == 0 {
		return array.MakeArrayOfNull(memory.DefaultAllocator, schema.Field(0).Type, 0), nil
	}
	return array.Concatenate(cols, memory.DefaultAllocator)
}
