//go:build duckdb_arrow

package engine

import (
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	bindings "github.com/duckdb/duckdb-go-bindings"
)

// DuckDB hands results over in chunks of up to 2048 rows, whatever their width: a
// chunk of SELECT repeat('x', 10000000) FROM range(100) is 1 GB. Converting such a
// chunk to Arrow at once copies all of it, so the server held the chunk twice before
// sending the first byte. Instead the engine measures a chunk's rows where DuckDB
// keeps them, and converts it a batch's worth of rows at a time (chunkRows,
// convertRows): what the engine holds beyond DuckDB's own chunk stays near one batch.
// DuckDB's chunk itself is DuckDB's to hold and is outside any limit Quiver sets.

// stringTSize is sizeof(duckdb_string_t): a uint32 length first, then either the
// inlined bytes or a prefix and a pointer.
const stringTSize = 16

// fixedRowBytes is what a row of a column is taken to cost when its width is not
// read from the chunk: the widest fixed-width Arrow value (16 bytes: decimal128,
// uuid, interval), plus room for a validity bit.
const fixedRowBytes = 17

// chunkRowBytes estimates, for each of the n rows of chunk, the bytes of Arrow
// buffers that converting it makes. VARCHAR, BLOB and BIT columns, at the top level
// and inside structs, are measured from their string lengths; every other column is
// taken at fixedRowBytes a row. Lists, maps and arrays of strings are not measured
// (their children are not guaranteed flat in DuckDB's vectors): such a chunk is
// still cut after conversion (Rows.takeCarry), only not before.
func chunkRowBytes(chunk bindings.DataChunk, n int) []int64 {
	costs := make([]int64, n)
	ncol := int(bindings.DataChunkGetColumnCount(chunk))
	for c := range ncol {
		addVectorBytes(bindings.DataChunkGetVector(chunk, bindings.IdxT(c)), costs)
	}
	return costs
}

// addVectorBytes adds the estimated bytes of each row of vec to costs.
func addVectorBytes(vec bindings.Vector, costs []int64) {
	lt := bindings.VectorGetColumnType(vec)
	defer bindings.DestroyLogicalType(&lt)
	switch bindings.GetTypeId(lt) {
	case bindings.TypeVarchar, bindings.TypeBlob, bindings.TypeBit:
		data := bindings.VectorGetData(vec)
		mask := validity(vec, len(costs))
		for i := range costs {
			costs[i] += 5 // offset and validity
			if mask == nil || mask[i/64]>>(i%64)&1 == 1 {
				costs[i] += int64(*(*uint32)(unsafe.Add(data, i*stringTSize)))
			}
		}
	case bindings.TypeStruct:
		for k := range int(bindings.StructTypeChildCount(lt)) {
			addVectorBytes(bindings.StructVectorGetChild(vec, bindings.IdxT(k)), costs)
		}
		for i := range costs {
			costs[i]++ // validity
		}
	default:
		for i := range costs {
			costs[i] += fixedRowBytes
		}
	}
}

// validity is vec's validity mask for n rows, nil when every row is valid.
func validity(vec bindings.Vector, n int) []uint64 {
	p := bindings.VectorGetValidity(vec)
	if p == nil {
		return nil
	}
	return unsafe.Slice((*uint64)(p), (n+63)/64)
}

// convertRows converts rows [from, to) of chunk to Arrow. The rows are selected by
// reference, not copied, into a chunk of their own that only the conversion copies.
func convertRows(opts bindings.ArrowOptions, schema *arrow.Schema, chunk bindings.DataChunk, from, to int) (arrow.RecordBatch, bindings.ErrorData) {
	n := to - from
	ncol := int(bindings.DataChunkGetColumnCount(chunk))
	types := make([]bindings.LogicalType, ncol)
	for c := range ncol {
		types[c] = bindings.VectorGetColumnType(bindings.DataChunkGetVector(chunk, bindings.IdxT(c)))
	}
	part := bindings.CreateDataChunk(types)
	destroyTypes(types)
	defer bindings.DestroyDataChunk(&part)

	sel := bindings.CreateSelectionVector(bindings.IdxT(n))
	defer bindings.DestroySelectionVector(&sel)
	idx := unsafe.Slice(bindings.SelectionVectorGetDataPtr(sel), n)
	for i := range idx {
		idx[i] = bindings.SelT(from + i)
	}
	for c := range ncol {
		dst := bindings.DataChunkGetVector(part, bindings.IdxT(c))
		bindings.VectorReferenceVector(dst, bindings.DataChunkGetVector(chunk, bindings.IdxT(c)))
		bindings.SliceVector(dst, sel, bindings.IdxT(n))
	}
	bindings.DataChunkSetSize(part, bindings.IdxT(n))
	return bindings.DataChunkToArrowArray(opts, schema, part)
}
