//go:build duckdb_arrow

package engine

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	bindings "github.com/duckdb/duckdb-go-bindings"
)

// Most results are columns of integers, floats, dates, times, timestamps, booleans and
// strings, which DuckDB's vectors hold in Arrow's own layout or one step from it
// (strings: a 16-byte duckdb_string_t per value instead of offsets; booleans: a byte
// per value instead of a bit). For such a result Rows builds each batch straight from
// DuckDB's chunks, one copy into the batch's own buffers, instead of converting every
// 2048-row chunk to Arrow (duckdb_data_chunk_to_arrow, a copy into buffers DuckDB
// allocates, and a cgo import) and concatenating 32 conversions into one 64Ki-row
// batch (a second copy). The batch's rows are chosen before anything is copied, so a
// chunk of wide rows is cut without converting it first. A result with any other
// column type (decimals, UUIDs, intervals, nested types, ...) goes through DuckDB's
// conversion as before (Rows.fetch). Measured with BenchmarkQueryPaths on the 10M-row
// file, with the fetcher of prefetch.go: SELECT * from the memory tier's copy
// 1.35-1.75x as fast as the conversion, a filtered projection 1.3-1.5x.

// flatKind tells how a column is copied out of DuckDB's vectors.
type flatKind uint8

const (
	flatFixed  flatKind = iota // fixed-width values, the same bytes in DuckDB and Arrow
	flatString                 // duckdb_string_t values into Arrow offsets and data
	flatBool                   // a byte a value in DuckDB, a bit in Arrow
)

// flatColumn is how one result column is copied into Arrow.
type flatColumn struct {
	kind  flatKind
	width int // bytes per value of a flatFixed column
	dt    arrow.DataType
}

// flatType is a DuckDB type whose vectors Arrow can take by copying: the Arrow type
// DuckDB's own conversion gives it, and the value width (0 for strings and
// booleans).
type flatType struct {
	id    arrow.Type
	width int
	unit  arrow.TimeUnit // for timestamps and times
}

var flatTypes = map[bindings.Type]flatType{
	bindings.TypeTinyInt:     {id: arrow.INT8, width: 1},
	bindings.TypeSmallInt:    {id: arrow.INT16, width: 2},
	bindings.TypeInteger:     {id: arrow.INT32, width: 4},
	bindings.TypeBigInt:      {id: arrow.INT64, width: 8},
	bindings.TypeUTinyInt:    {id: arrow.UINT8, width: 1},
	bindings.TypeUSmallInt:   {id: arrow.UINT16, width: 2},
	bindings.TypeUInteger:    {id: arrow.UINT32, width: 4},
	bindings.TypeUBigInt:     {id: arrow.UINT64, width: 8},
	bindings.TypeFloat:       {id: arrow.FLOAT32, width: 4},
	bindings.TypeDouble:      {id: arrow.FLOAT64, width: 8},
	bindings.TypeDate:        {id: arrow.DATE32, width: 4},
	bindings.TypeTime:        {id: arrow.TIME64, width: 8, unit: arrow.Microsecond},
	bindings.TypeTimestamp:   {id: arrow.TIMESTAMP, width: 8, unit: arrow.Microsecond},
	bindings.TypeTimestampTZ: {id: arrow.TIMESTAMP, width: 8, unit: arrow.Microsecond},
	bindings.TypeTimestampS:  {id: arrow.TIMESTAMP, width: 8, unit: arrow.Second},
	bindings.TypeTimestampMS: {id: arrow.TIMESTAMP, width: 8, unit: arrow.Millisecond},
	bindings.TypeTimestampNS: {id: arrow.TIMESTAMP, width: 8, unit: arrow.Nanosecond},
	bindings.TypeBoolean:     {id: arrow.BOOL},
	bindings.TypeVarchar:     {id: arrow.STRING},
	bindings.TypeBlob:        {id: arrow.BINARY},
}

// flatColumns returns how to copy each column of a result with DuckDB types types and
// Arrow schema schema, or nil when some column cannot be copied directly. The Arrow
// type must be the one expected, so that an Arrow option that changes a type (large
// or view strings, other time units) sends the result through DuckDB's conversion.
func flatColumns(types []bindings.LogicalType, schema *arrow.Schema) []flatColumn {
	if len(types) == 0 || len(types) != schema.NumFields() {
		return nil
	}
	cols := make([]flatColumn, len(types))
	for i, lt := range types {
		ft, ok := flatTypes[bindings.GetTypeId(lt)]
		dt := schema.Field(i).Type
		if !ok || dt.ID() != ft.id {
			return nil
		}
		switch t := dt.(type) {
		case *arrow.TimestampType:
			if t.Unit != ft.unit {
				return nil
			}
		case *arrow.Time64Type:
			if t.Unit != ft.unit {
				return nil
			}
		}
		cols[i] = flatColumn{kind: flatFixed, width: ft.width, dt: dt}
		switch ft.id {
		case arrow.STRING, arrow.BINARY:
			cols[i].kind = flatString
		case arrow.BOOL:
			cols[i].kind, cols[i].width = flatBool, 1 // counted as a byte: a little more than its bit
		}
	}
	return cols
}

// flatSpan is rows [from, to) of a DuckDB chunk that go into a batch. owned: the
// span holds the chunk's last rows and frees it once the batch is built.
type flatSpan struct {
	chunk    bindings.DataChunk
	from, to int
	owned    bool
	strs     []int64 // each column's string bytes when the span is the whole chunk; else nil
}

// fetchFlat is fetch for a result of flatColumns: it takes rows from DuckDB's chunks
// until it has Config.BatchRows of them or the next would pass Config.BatchBytes (a
// single larger row goes alone), and copies them into one batch. A chunk not wholly
// taken stays in r.chunk, from row r.chunkAt on, and starts the next batch. The
// chunks come from the fetcher (prefetch.go). r.mu is held, s.mu is not.
func (r *Rows) fetchFlat() (arrow.RecordBatch, error) {
	if r.flatEnded {
		return nil, nil
	}
	r.startFetching()
	var spans []flatSpan
	defer func() {
		for i := range spans {
			if spans[i].owned {
				bindings.DestroyDataChunk(&spans[i].chunk)
			}
		}
	}()
	maxRows, maxBytes := r.eng.batchRows, r.eng.batchBytes
	rows, size := 0, int64(0)
	ended := false
	for rows < maxRows && size < maxBytes {
		if r.chunk.Ptr == nil {
			if err := ctxError(r.ctx); err != nil {
				r.endSession()
				return nil, err
			}
			c, err := r.queue.pop()
			if err != nil {
				return nil, err // the fetcher has freed the result, or Release will
			}
			if c.chunk.Ptr == nil {
				ended = true
				break
			}
			r.chunk, r.chunkAt, r.measured = c.chunk, 0, c
		}
		n := int(bindings.DataChunkGetSize(r.chunk))
		var sp flatSpan
		if m := r.measured; r.chunkAt == 0 && n <= maxRows-rows && m.bytes <= maxBytes-size {
			sp = flatSpan{chunk: r.chunk, from: 0, to: n, strs: m.strs}
			rows += n
			size += m.bytes
		} else {
			take, bytes := fitFlat(r.flat, r.chunk, r.chunkAt, n, maxRows-rows, maxBytes-size, rows == 0)
			if take == 0 {
				break // the next row does not fit: it starts the next batch
			}
			sp = flatSpan{chunk: r.chunk, from: r.chunkAt, to: r.chunkAt + take}
			rows += take
			size += bytes
		}
		if sp.to == n {
			sp.owned = true
			r.chunk.Ptr = nil
			r.chunkAt, r.measured = 0, queuedChunk{}
		} else {
			r.chunkAt = sp.to
		}
		spans = append(spans, sp)
	}
	var rec arrow.RecordBatch
	if rows > 0 {
		var err error
		if rec, err = buildFlat(r.eng.alloc, r.schema, r.flat, spans, rows); err != nil {
			r.endSession()
			return nil, err
		}
	}
	if ended {
		r.flatEnded = true
		// Freed only now: the spans' chunks were DuckDB's until copied.
		r.endSession()
	}
	return rec, nil
}

// nextChunk fetches DuckDB's next non-empty chunk, the caller's to destroy; a chunk
// with a nil Ptr at the clean end of the result. On an error the session's DuckDB
// resources are freed; at the end the reader frees them. s.mu is held.
func (r *Rows) nextChunk() (bindings.DataChunk, error) {
	s := r.s
	for {
		if s.finished {
			return bindings.DataChunk{}, s.err
		}
		if err := ctxError(r.ctx); err != nil {
			s.destroyLocked(nil)
			return bindings.DataChunk{}, err
		}
		chunk := bindings.FetchChunk(s.res)
		if chunk.Ptr == nil {
			// nil is both the end and an error; the result's error tells them apart.
			if msg := bindings.ResultError(&s.res); msg != "" {
				err := r.eng.noteFailure(s.gen, r.eng.explain(r.ctx, duckError(bindings.ResultErrorType(&s.res), msg)))
				s.destroyLocked(nil)
				return bindings.DataChunk{}, err
			}
			return bindings.DataChunk{}, nil
		}
		if bindings.DataChunkGetSize(chunk) == 0 {
			bindings.DestroyDataChunk(&chunk)
			continue
		}
		return chunk, nil
	}
}

// fitFlat returns how many rows of chunk (n rows), from row from on, fit in maxRows and
// maxBytes, and their bytes as catalog.BatchBytes would count them (a byte a row for
// each column's validity, a little more than its bitmap). At least one row when
// first. Strings are measured from their lengths.
func fitFlat(cols []flatColumn, chunk bindings.DataChunk, from, n, maxRows int, maxBytes int64, first bool) (int, int64) {
	limit := min(n-from, maxRows)
	var fixed int64
	var strs []int
	for c, col := range cols {
		fixed++ // validity
		if col.kind == flatString {
			fixed += 4 // offset
			strs = append(strs, c)
		} else {
			fixed += int64(col.width)
		}
	}
	if len(strs) == 0 {
		take := int(min(int64(limit), maxBytes/fixed))
		if take == 0 && first {
			take = 1
		}
		return take, int64(take) * fixed
	}
	type strCol struct {
		data unsafe.Pointer
		mask []uint64
	}
	sc := make([]strCol, len(strs))
	for i, c := range strs {
		vec := bindings.DataChunkGetVector(chunk, bindings.IdxT(c))
		sc[i] = strCol{data: bindings.VectorGetData(vec), mask: validity(vec, n)}
	}
	var size int64
	take := 0
	for row := from; take < limit; row++ {
		cost := fixed
		for _, s := range sc {
			if s.mask == nil || s.mask[row/64]>>(row%64)&1 == 1 {
				cost += int64(*(*uint32)(unsafe.Add(s.data, row*stringTSize)))
			}
		}
		if size+cost > maxBytes && !(take == 0 && first) {
			break
		}
		size += cost
		take++
	}
	return take, size
}

// measureChunk measures a whole chunk: its bytes as fitFlat counts them and each
// column's string bytes.
func measureChunk(cols []flatColumn, chunk bindings.DataChunk) queuedChunk {
	n := int(bindings.DataChunkGetSize(chunk))
	m := queuedChunk{chunk: chunk, strs: make([]int64, len(cols))}
	for c, col := range cols {
		m.bytes += int64(n) // validity
		if col.kind != flatString {
			m.bytes += int64(n * col.width)
			continue
		}
		m.bytes += 4 * int64(n) // offsets
		vec := bindings.DataChunkGetVector(chunk, bindings.IdxT(c))
		data, mask := bindings.VectorGetData(vec), validity(vec, n)
		var sum int64
		for row := range n {
			if mask == nil || mask[row/64]>>(row%64)&1 == 1 {
				sum += int64(*(*uint32)(unsafe.Add(data, row*stringTSize)))
			}
		}
		m.strs[c] = sum
		m.bytes += sum
	}
	return m
}

// buildFlat copies the spans' rows, rows in all, into one batch of schema allocated
// from alloc.
func buildFlat(alloc memory.Allocator, schema *arrow.Schema, cols []flatColumn, spans []flatSpan, rows int) (arrow.RecordBatch, error) {
	arrs := make([]arrow.Array, len(cols))
	defer func() {
		for _, a := range arrs {
			if a != nil {
				a.Release()
			}
		}
	}()
	for c, col := range cols {
		data, err := buildFlatColumn(alloc, col, c, spans, rows)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", schema.Field(c).Name, err)
		}
		arrs[c] = array.MakeFromData(data)
		data.Release()
	}
	return array.NewRecordBatch(schema, arrs, int64(rows)), nil
}

// buildFlatColumn copies column c of the spans into Arrow buffers.
func buildFlatColumn(alloc memory.Allocator, col flatColumn, c int, spans []flatSpan, rows int) (arrow.ArrayData, error) {
	vecs := make([]bindings.Vector, len(spans))
	for i, sp := range spans {
		vecs[i] = bindings.DataChunkGetVector(sp.chunk, bindings.IdxT(c))
	}
	valid, nulls := flatValidity(alloc, vecs, spans, rows)
	if valid != nil {
		defer valid.Release()
	}
	if col.kind == flatBool {
		data := newBuffer(alloc, int(bitutil.BytesForBits(int64(rows))))
		defer data.Release()
		bits := data.Bytes()
		clear(bits)
		at := 0
		for i, sp := range spans {
			src := unsafe.Slice((*byte)(bindings.VectorGetData(vecs[i])), sp.to)
			for row := sp.from; row < sp.to; row++ {
				if src[row] != 0 {
					bitutil.SetBit(bits, at)
				}
				at++
			}
		}
		return array.NewData(col.dt, rows, []*memory.Buffer{valid, data}, nil, nulls, 0), nil
	}
	if col.kind == flatFixed {
		data := newBuffer(alloc, rows*col.width)
		defer data.Release()
		dst := data.Bytes()
		at := 0
		for i, sp := range spans {
			n := (sp.to - sp.from) * col.width
			src := unsafe.Slice((*byte)(bindings.VectorGetData(vecs[i])), sp.to*col.width)
			copy(dst[at:at+n], src[sp.from*col.width:])
			at += n
		}
		return array.NewData(col.dt, rows, []*memory.Buffer{valid, data}, nil, nulls, 0), nil
	}

	// Strings: the lengths first, to size the data buffer once (the fetcher has
	// summed them for whole chunks). A null's duckdb_string_t is not read: DuckDB
	// leaves it as it was.
	var total int64
	for i, sp := range spans {
		if sp.strs != nil {
			total += sp.strs[c]
			continue
		}
		p, mask := bindings.VectorGetData(vecs[i]), validity(vecs[i], sp.to)
		for row := sp.from; row < sp.to; row++ {
			if mask == nil || mask[row/64]>>(row%64)&1 == 1 {
				total += int64(*(*uint32)(unsafe.Add(p, row*stringTSize)))
			}
		}
	}
	if total > math.MaxInt32 {
		return nil, fmt.Errorf("%d bytes of strings in one batch, more than Arrow's 32-bit offsets hold", total)
	}
	offsets := newBuffer(alloc, (rows+1)*4)
	defer offsets.Release()
	data := newBuffer(alloc, int(total))
	defer data.Release()
	offs := arrow.Int32Traits.CastFromBytes(offsets.Bytes())
	dst := data.Bytes()
	at, pos := 0, 0
	for i, sp := range spans {
		p, mask := bindings.VectorGetData(vecs[i]), validity(vecs[i], sp.to)
		for row := sp.from; row < sp.to; row++ {
			offs[at] = int32(pos)
			at++
			if mask != nil && mask[row/64]>>(row%64)&1 == 0 {
				continue
			}
			pos += copy(dst[pos:], duckString(unsafe.Add(p, row*stringTSize)))
		}
	}
	offs[at] = int32(pos)
	return array.NewData(col.dt, rows, []*memory.Buffer{valid, offsets, data}, nil, nulls, 0), nil
}

// duckString is the bytes of the duckdb_string_t at p: inlined after its length when
// they fit in 12 bytes, else behind the pointer in its last 8.
func duckString(p unsafe.Pointer) []byte {
	n := *(*uint32)(p)
	if n <= 12 {
		return unsafe.Slice((*byte)(unsafe.Add(p, 4)), n)
	}
	return unsafe.Slice(*(**byte)(unsafe.Add(p, 8)), n)
}

// flatValidity is the validity bitmap of the spans' rows of vecs and its null count;
// nil when every row is valid.
func flatValidity(alloc memory.Allocator, vecs []bindings.Vector, spans []flatSpan, rows int) (*memory.Buffer, int) {
	masks := make([][]byte, len(spans))
	someNull := false
	for i, sp := range spans {
		if p := bindings.VectorGetValidity(vecs[i]); p != nil {
			// DuckDB's mask is 64-bit words of LSB-first bits: on a little-endian
			// machine (all Quiver builds for), Arrow's byte layout.
			masks[i] = unsafe.Slice((*byte)(p), (sp.to+7)/8)
			someNull = true
		}
	}
	if !someNull {
		return nil, 0
	}
	buf := newBuffer(alloc, int(bitutil.BytesForBits(int64(rows))))
	bits := buf.Bytes()
	at := 0
	for i, sp := range spans {
		n := sp.to - sp.from
		if masks[i] == nil {
			bitutil.SetBitsTo(bits, int64(at), int64(n), true)
		} else {
			bitutil.CopyBitmap(masks[i], sp.from, n, bits, at)
		}
		at += n
	}
	nulls := rows - bitutil.CountSetBits(bits, 0, rows)
	if nulls == 0 {
		buf.Release()
		return nil, 0
	}
	return buf, nulls
}

// newBuffer is a buffer of n bytes from alloc.
func newBuffer(alloc memory.Allocator, n int) *memory.Buffer {
	buf := memory.NewResizableBuffer(alloc)
	buf.Resize(n)
	return buf
}
