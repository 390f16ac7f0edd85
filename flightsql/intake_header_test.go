package flightsql

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Headers that are small on the wire but would expand without bound in arrow-go's
// decoding, or make it allocate what a count claims: each is refused by the header
// check with a message naming the problem, through a real server, which then goes
// on serving.
func TestHeaderCheckRefusesExpandingHeaders(t *testing.T) {
	fx := newIntakeFixture(t)
	desc := &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"hdr.parquet"}}
	for _, tc := range []struct {
		name    string
		msgs    []*flight.FlightData
		mention string
	}{
		{"one field table shared a billion times", []*flight.FlightData{{DataHeader: sharedFieldSchema(1000)}},
			"decodes to more than 100000 fields"},
		{"fields nested 100 deep", []*flight.FlightData{{DataHeader: deepSchema(100)}},
			"nests more than 64 levels"},
		{"compressed buffer claiming 100 GB", compressedClaiming(t, 100<<30),
			"claims 107374182400 bytes uncompressed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs := slices.Clone(tc.msgs)
			msgs[0].FlightDescriptor = desc
			err := fx.put(msgs)
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), tc.mention) || !strings.Contains(st.Message(), `"hdr.parquet"`) {
				t.Fatalf("DoPut = %v, want InvalidArgument naming the dataset and %q", err, tc.mention)
			}
			valid := seedMessages(t, strsRecord(t))
			valid[0].FlightDescriptor = desc
			if err := fx.put(valid); err != nil {
				t.Fatalf("a valid DoPut afterwards: %v", err)
			}
		})
	}
}

// fbWriter writes a flatbuffer front to back: a parent is written before its
// children, with its offsets patched (ref) once the children have positions, so
// every uoffset points forward as the format requires.
type fbWriter struct{ b []byte }

func (w *fbWriter) align(n int) {
	for len(w.b)%n != 0 {
		w.b = append(w.b, 0)
	}
}

// table writes a vtable and a table of inline bytes (the soffset included) whose
// field slot i sits at offs[i] in the table (0: absent); it returns the table's
// position.
func (w *fbWriter) table(inline int, offs ...int) int {
	w.align(2)
	vt := len(w.b)
	w.b = binary.LittleEndian.AppendUint16(w.b, uint16(4+2*len(offs)))
	w.b = binary.LittleEndian.AppendUint16(w.b, uint16(inline))
	for _, o := range offs {
		w.b = binary.LittleEndian.AppendUint16(w.b, uint16(o))
	}
	w.align(4)
	t := len(w.b)
	w.b = binary.LittleEndian.AppendUint32(w.b, uint32(t-vt))
	w.b = append(w.b, make([]byte, inline-4)...)
	return t
}

// vector writes a vector of n uoffsets and returns its position (its length word).
func (w *fbWriter) vector(n int) int {
	w.align(4)
	p := len(w.b)
	w.b = binary.LittleEndian.AppendUint32(w.b, uint32(n))
	w.b = append(w.b, make([]byte, 4*n)...)
	return p
}

// ref points the uoffset at at to target.
func (w *fbWriter) ref(at, target int) { binary.LittleEndian.PutUint32(w.b[at:], uint32(target-at)) }

// schemaMessage starts a Schema message and returns the writer and the position of
// the Schema table's fields offset, to be pointed at a vector.
func schemaMessage() (*fbWriter, int) {
	w := &fbWriter{b: make([]byte, 4)}
	msg := w.table(12, 4, 6, 8) // version, header_type, header
	w.ref(0, msg)
	binary.LittleEndian.PutUint16(w.b[msg+4:], metadataV5)
	w.b[msg+6] = headerSchema
	schema := w.table(8, 0, 4) // endianness (absent), fields
	w.ref(msg+8, schema)
	return w, schema + 4
}

// field writes a Field table of type typ (Type in Schema.fbs) with an empty type
// table of its own and returns its position and that of its children offset.
func (w *fbWriter) field(typ byte) (pos, children int) {
	f := w.table(16, 0, 0, 12, 4, 0, 8) // name, nullable absent; type_type, type, children
	w.b[f+12] = typ
	var tt int
	if typ == 2 { // Int: bitWidth 32, signed
		tt = w.table(12, 4, 8)
		binary.LittleEndian.PutUint32(w.b[tt+4:], 32)
		w.b[tt+8] = 1
	} else {
		tt = w.table(4)
	}
	w.ref(f+4, tt)
	return f, f + 8
}

// sharedFieldSchema is a schema of n struct fields, all the same table, whose n
// children are all one struct table, whose n children are all one int field: n³
// fields for arrow-go to decode from a header of some 12n bytes.
func sharedFieldSchema(n int) []byte {
	w, fieldsAt := schemaMessage()
	top := w.vector(n)
	w.ref(fieldsAt, top)
	outer, outerKids := w.field(13) // Struct_
	midVec := w.vector(n)
	w.ref(outerKids, midVec)
	mid, midKids := w.field(13)
	leafVec := w.vector(n)
	w.ref(midKids, leafVec)
	leaf, _ := w.field(2)
	for j := 0; j < n; j++ {
		w.ref(top+4+4*j, outer)
		w.ref(midVec+4+4*j, mid)
		w.ref(leafVec+4+4*j, leaf)
	}
	return w.b
}

// deepSchema is one field of structs nested depth deep around an int.
func deepSchema(depth int) []byte {
	w, at := schemaMessage()
	for i := 0; i < depth; i++ {
		vec := w.vector(1)
		w.ref(at, vec)
		typ := byte(13)
		if i == depth-1 {
			typ = 2
		}
		f, kids := w.field(typ)
		w.ref(vec+4, f)
		at = kids
	}
	return w.b
}

// compressedClaiming is a valid ZSTD-compressed stream of strings whose first
// compressed buffer's length prefix claims size bytes uncompressed: arrow-go
// allocates that before decompressing.
func compressedClaiming(t *testing.T, size int64) []*flight.FlightData {
	msgs := seedMessages(t, strsRecord(t), ipc.WithZstd())
	body := slices.Clone(msgs[1].DataBody)
	// The first buffer with data starts the body (no validity bitmap: no nulls
	// would be written as a zero-length buffer); its prefix is its first 8 bytes.
	binary.LittleEndian.PutUint64(body, uint64(size))
	msgs[1].DataBody = body
	return msgs
}

// strsRecord is a one-column string batch, released when the test ends.
func strsRecord(t *testing.T) arrow.RecordBatch {
	rec := seedRecord(t, memory.DefaultAllocator, arrow.BinaryTypes.String, `["Mario", "Luigi", "Peach"]`)
	t.Cleanup(rec.Release)
	return rec
}

// BenchmarkHeaderCheck measures the header check of a 64Ki-row batch message of
// the 10M x 4 benchmark's shape (int64, float64, int64, string), beside the
// validation the same batch gets after decoding. The check reads only the header,
// so its cost does not grow with the batch's bytes.
func BenchmarkHeaderCheck(b *testing.B) {
	mem := memory.DefaultAllocator
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "y", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	bld := array.NewRecordBuilder(mem, schema)
	defer bld.Release()
	const rows = 64 << 10
	for i := 0; i < rows; i++ {
		bld.Field(0).(*array.Int64Builder).Append(int64(i))
		bld.Field(1).(*array.Float64Builder).Append(float64(i))
		bld.Field(2).(*array.Int64Builder).Append(int64(i))
		bld.Field(3).(*array.StringBuilder).Append("sixteen-chars-xx")
	}
	rec := bld.NewRecordBatch()
	defer rec.Release()
	msgs := seedMessages(b, rec)
	b.Run("header", func(b *testing.B) {
		b.SetBytes(int64(len(msgs[1].DataBody)))
		for i := 0; i < b.N; i++ {
			c := headerCheck{}
			if err := c.check(msgs[0]); err != nil {
				b.Fatal(err)
			}
			if err := c.check(msgs[1]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ValidateFull", func(b *testing.B) {
		b.SetBytes(int64(len(msgs[1].DataBody)))
		for i := 0; i < b.N; i++ {
			for _, col := range rec.Columns() {
				if err := array.ValidateFull(col); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// TestHeaderCheckAcceptsSharedVtables: Go's flatbuffers builder lets tables share a
// vtable when their field offsets match, whatever their sizes, so arrow-go writes
// DictionaryEncoding tables whose id lies past the size the shared vtable claims.
// polars' write_database sent such a schema through ADBC and was refused; a field
// must lie in the header, as flatbuffers' verifier checks.
func TestHeaderCheckAcceptsSharedVtables(t *testing.T) {
	c := &headerCheck{}
	if err := c.check(&flight.FlightData{DataHeader: polarsSchemaHeader(t)}); err != nil {
		t.Fatalf("polars' schema: %v", err)
	}
}
