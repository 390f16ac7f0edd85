//go:build duckdb_arrow

package duckread

/*
#include <stdlib.h>
#include <stdint.h>

struct ArrowArrayStream {
	void (*get_schema)(struct ArrowArrayStream*);
	void (*get_next)(struct ArrowArrayStream*);
	void (*get_last_error)(struct ArrowArrayStream*);
	void (*release)(struct ArrowArrayStream*);
	void* private_data;
};

static void* quiver_alloc_stream(void) { return calloc(1, sizeof(struct ArrowArrayStream)); }
*/
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/cdata"
	bindings "github.com/duckdb/duckdb-go-bindings"
)

// RegisterArrow makes rdr a view called name that DuckDB scans once, lazily, batch
// by batch. The returned function drops the view and frees the stream; call it after
// the last query of the view is released, and release rdr after that.
func (d *DB) RegisterArrow(name string, rdr array.RecordReader) (func(), error) {
	// The stream lives in C memory: DuckDB keeps a pointer to it.
	stream := C.quiver_alloc_stream()
	cdata.ExportRecordReader(rdr, (*cdata.CArrowArrayStream)(stream))
	release := func() {
		d.exec("DROP VIEW IF EXISTS " + quoteIdent(name))
		cdata.ReleaseCArrowArrayStream((*cdata.CArrowArrayStream)(stream))
		C.free(stream)
	}
	if bindings.ArrowScan(d.conn, name, bindings.ArrowStream{Ptr: unsafe.Pointer(stream)}) == bindings.StateError {
		release()
		return nil, fmt.Errorf("duckdb cannot scan Arrow data of schema %s", rdr.Schema())
	}
	return release, nil
}

// DescribeArrow returns the DuckDB type names that DuckDB gives the columns of an
// Arrow schema, by scanning an empty stream of that schema: the types whose values
// DuckDB hands back as (or closest to) that schema's Arrow types.
func (d *DB) DescribeArrow(schema *arrow.Schema) ([]string, error) {
	rdr, err := array.NewRecordReader(schema, nil)
	if err != nil {
		return nil, err
	}
	defer rdr.Release()
	const view = "quiver_arrow_schema"
	release, err := d.RegisterArrow(view, rdr)
	if err != nil {
		return nil, err
	}
	defer release()
	cols, err := d.Describe(view)
	if err != nil {
		return nil, err
	}
	if len(cols) != schema.NumFields() {
		return nil, fmt.Errorf("duckdb described %d columns of %d", len(cols), schema.NumFields())
	}
	types := make([]string, len(cols))
	for i, c := range cols {
		types[i] = c.Type
	}
	return types, nil
}

// Describe returns the columns (names and DuckDB types) of a table expression.
func (d *DB) Describe(from string) ([]Column, error) {
	rows, err := d.queryStrings("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM " + from + ")")
	if err != nil {
		return nil, err
	}
	cols := make([]Column, len(rows))
	for i, r := range rows {
		cols[i] = Column{Name: r[0], Type: r[1]}
	}
	return cols, nil
}
