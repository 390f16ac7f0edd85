package flightsql

import (
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/catalog"
)

// The intake: the one door through which every Arrow stream a client sends enters
// (dataset DoPut, Flight SQL bulk ingest, bound parameters of prepared statements).
// It has two halves:
//
//   - intakeStream wraps the raw DoPut stream in Server.DoPut, before any IPC reader
//     exists, so the header of every FlightData is checked (intake_header.go) before
//     arrow-go decodes it: arrow-go's own DoPut for Flight SQL commands builds its
//     reader on this stream too.
//   - intakeReader wraps the record reader a handler reads, so every decoded batch
//     is fully validated (array.ValidateFull) and of the stream's schema before the
//     store, pqarrow or DuckDB see it, and then converted to plain types
//     (intake_types.go): handlers see storedSchema(the client's schema).
//
// Handlers read client batches only through an intakeReader: openIntake for a plain
// DoPut, newIntakeReader for the reader arrow-go hands a Flight SQL handler.
// DoExchange takes no data (server.go). Errors wrap catalog.ErrInvalidData, so a
// client gets InvalidArgument naming what was wrong.

// intakeStream checks each message of a DoPut stream before passing it on, after
// replaying the first message, which Server.DoPut has already read and checked.
type intakeStream struct {
	flight.FlightService_DoPutServer
	first *flight.FlightData
	check *headerCheck
	err   error
}

// newIntakeStream starts the intake of stream, whose first message first has been
// received. It returns an error if first already fails the header check.
func newIntakeStream(stream flight.FlightService_DoPutServer, first *flight.FlightData) (*intakeStream, error) {
	s := &intakeStream{FlightService_DoPutServer: stream, first: first, check: &headerCheck{}}
	if err := s.check.check(first); err != nil {
		return nil, fmt.Errorf("%w: %w", catalog.ErrInvalidData, err)
	}
	return s, nil
}

// Recv returns the next message whose header passed the check. Once one fails, the
// stream stays failed: a reader never skips past a bad message.
func (s *intakeStream) Recv() (*flight.FlightData, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.first != nil {
		m := s.first
		s.first = nil
		return m, nil
	}
	m, err := s.FlightService_DoPutServer.Recv()
	if err != nil {
		return nil, err
	}
	if err := s.check.check(m); err != nil {
		s.err = badData{err}
		return nil, s.err
	}
	return m, nil
}

// openIntake reads stream (an intakeStream) as a validated record stream.
func openIntake(stream flight.DataStreamReader, mem memory.Allocator) (*intakeReader, error) {
	rdr, err := flight.NewRecordReader(stream, ipc.WithAllocator(mem))
	if err != nil {
		return nil, intakeError(fmt.Errorf("the upload is not an Arrow IPC stream: %w", err))
	}
	return newIntakeReader(rdr, mem), nil
}

// intakeReader validates every batch of a client's stream.
//
// The IPC reader decodes a batch by the stream's schema without checking that its
// buffers fit it: a client can send batches encoded for another schema, or string
// and list offsets that run backwards, which make pqarrow and DuckDB's parameter
// binding panic. array.ValidateFull is O(n) (offsets, UTF-8, null counts, nested
// children), cheap beside encoding the batch to Parquet.
type intakeReader struct {
	flight.MessageReader
	mem     memory.Allocator
	batches int
	err     error

	// stored is storedSchema of the stream's schema, once known; rec is the current
	// batch converted to it, nil where the batch needs no conversion.
	stored *arrow.Schema
	rec    arrow.RecordBatch
}

// newIntakeReader wraps rdr, the reader arrow-go built on an intakeStream; batches
// converted to plain types are allocated from mem. The wrapper shares rdr's
// reference: its Release releases rdr.
func newIntakeReader(rdr flight.MessageReader, mem memory.Allocator) *intakeReader {
	if in, ok := rdr.(*intakeReader); ok {
		return in
	}
	return &intakeReader{MessageReader: rdr, mem: mem}
}

// Schema is the schema of the batches the reader returns: the stream's, with every
// type converted to its plain form (storedSchema). It is nil (and Err set) if the
// stream has none.
func (r *intakeReader) Schema() (schema *arrow.Schema) {
	if r.stored != nil {
		return r.stored
	}
	defer func() {
		if p := recover(); p != nil {
			r.err = intakeError(fmt.Errorf("schema: %w: %v", errDecode, p))
			schema = nil
		}
	}()
	schema = r.MessageReader.Schema()
	if schema == nil {
		if r.err == nil && r.MessageReader.Err() != nil {
			r.err = intakeError(r.MessageReader.Err())
		}
		return nil
	}
	r.stored = storedSchema(schema)
	return r.stored
}

// RecordBatch is the current batch, converted to Schema's types. It is valid until
// the next call to Next or Release.
func (r *intakeReader) RecordBatch() arrow.RecordBatch {
	if r.rec != nil {
		return r.rec
	}
	return r.MessageReader.RecordBatch()
}

// Record is RecordBatch, as the deprecated name has it.
func (r *intakeReader) Record() arrow.RecordBatch { return r.RecordBatch() }

// Release releases the converted batch and the underlying reader.
func (r *intakeReader) Release() {
	r.dropConverted()
	r.MessageReader.Release()
}

func (r *intakeReader) dropConverted() {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
}

// Next decodes and validates the next batch.
func (r *intakeReader) Next() bool {
	if r.err != nil {
		return false
	}
	ok := r.next()
	if !ok && r.err == nil && r.MessageReader.Err() != nil {
		r.err = intakeError(r.MessageReader.Err())
	}
	return ok
}

func (r *intakeReader) next() (ok bool) {
	r.dropConverted()
	defer func() {
		if p := recover(); p != nil {
			r.err = intakeError(fmt.Errorf("batch %d: %w: %v", r.batches+1, errDecode, p))
			ok = false
		}
	}()
	if !r.MessageReader.Next() {
		return false
	}
	r.batches++
	rec := r.MessageReader.RecordBatch()
	if schema := r.MessageReader.Schema(); !rec.Schema().Equal(schema) {
		r.err = intakeError(fmt.Errorf("batch %d has schema %s, the stream's is %s", r.batches, rec.Schema(), schema))
		return false
	}
	for i, col := range rec.Columns() {
		if err := validateColumn(col); err != nil {
			r.err = intakeError(fmt.Errorf("batch %d, column %q is not laid out as the stream's schema says: %w", r.batches, rec.ColumnName(i), err))
			return false
		}
	}
	if stored := r.Schema(); stored != r.MessageReader.Schema() {
		conv, err := storedRecord(r.mem, rec, stored)
		if err != nil {
			r.err = intakeError(fmt.Errorf("batch %d: %w", r.batches, err))
			return false
		}
		r.rec = conv
	}
	return true
}

// validateColumn is array.ValidateFull(col), refusing exactly what it refuses, with a
// cheaper check of top-level string columns: ValidateFull validates UTF-8 one value at
// a time, a call per value, which was 5% of a put's CPU. Here the bytes the values
// span are validated in one pass (utf8.Valid checks eight ASCII bytes at a time), and
// each value's start must be a character's first byte. Valid UTF-8 splits into
// characters in one way only, so cutting it where characters start leaves valid
// strings, and a value starting on a continuation byte would be cut inside one.
// Strings inside nested types take ValidateFull's path.
func validateColumn(col arrow.Array) error {
	switch col.(type) {
	case *array.String:
		return validateStrings(col, arrow.Int32Traits.CastFromBytes)
	case *array.LargeString:
		return validateStrings(col, arrow.Int64Traits.CastFromBytes)
	}
	return validateFull(col)
}

// validateStrings checks a string array whose offsets buffer castOffsets reads.
func validateStrings[O int32 | int64](col arrow.Array, castOffsets func([]byte) []O) error {
	// Validate checks the buffers' presence and sizes, that the offsets buffer
	// holds offset+len+1 values and that the first and last lie within the data.
	if err := array.Validate(col); err != nil {
		return err
	}
	if col.Len() == 0 {
		return nil
	}
	bufs := col.Data().Buffers()
	var data []byte
	if bufs[2] != nil {
		data = bufs[2].Bytes()
	}
	offsets := castOffsets(bufs[1].Bytes())[col.Data().Offset():]
	if nulls := col.Data().Buffers()[0]; nulls != nil && col.Data().NullN() != array.UnknownNullCount {
		actual := col.Len() - bitutil.CountSetBits(nulls.Bytes(), col.Data().Offset(), col.Len())
		if actual != col.Data().NullN() {
			return fmt.Errorf("null count %d does not match the %d nulls in the validity bitmap", col.Data().NullN(), actual)
		}
	}
	offsets = offsets[:col.Len()+1]
	first, last := offsets[0], offsets[len(offsets)-1]
	if first < 0 {
		return fmt.Errorf("string offset at index %d is negative: %d", col.Data().Offset(), first)
	}
	for i := 1; i < len(offsets); i++ {
		if offsets[i] < offsets[i-1] {
			return fmt.Errorf("string offsets are not monotonically non-decreasing at index %d: %d < %d", col.Data().Offset()+i, offsets[i], offsets[i-1])
		}
	}
	// Every offset now lies in [first, last], within data.
	if !utf8.Valid(data[first:last]) {
		return fmt.Errorf("strings at indexes %d to %d are not valid UTF-8", col.Data().Offset(), col.Data().Offset()+col.Len()-1)
	}
	for i, o := range offsets[:len(offsets)-1] {
		if o < last && !utf8.RuneStart(data[o]) {
			return fmt.Errorf("string at index %d is not valid UTF-8: it starts inside a character", col.Data().Offset()+i)
		}
	}
	return nil
}

// Read is Next and RecordBatch, as arrio.Reader has it.
func (r *intakeReader) Read() (arrow.RecordBatch, error) {
	if !r.Next() {
		if err := r.Err(); err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
	return r.RecordBatch(), nil
}

// Chunk is the current batch with its descriptor and metadata.
func (r *intakeReader) Chunk() flight.StreamChunk {
	c := r.MessageReader.Chunk()
	if r.rec != nil {
		c.Data = r.rec
	}
	c.Err = r.err
	return c
}

// Err is the first error: a message that failed its check, a batch that failed
// validation, or the stream's own.
func (r *intakeReader) Err() error {
	if r.err != nil {
		return r.err
	}
	if err := r.MessageReader.Err(); err != nil {
		return intakeError(err)
	}
	return nil
}

// errDecode is a panic of arrow-go's reader or validation on a malformed message,
// recovered.
var errDecode = errors.New("it could not be decoded and validated")

// intakeError marks a decoding error as the client's data at fault
// (catalog.ErrInvalidData: InvalidArgument). gRPC errors from the stream itself (a
// cancelled call) and errors already marked pass unchanged.
func intakeError(err error) error {
	if _, ok := status.FromError(err); ok || errors.Is(err, catalog.ErrInvalidData) {
		return err
	}
	return badData{err}
}

// badData is an error in a client's stream: it is a catalog.ErrInvalidData without
// saying so in its text, which the store's own wrapping already does.
type badData struct{ err error }

func (e badData) Error() string   { return e.err.Error() }
func (e badData) Unwrap() []error { return []error{catalog.ErrInvalidData, e.err} }

// validateFull is array.ValidateFull, except that it accepts columns of Arrow's null
// type as arrow-go's own IPC reader decodes them: with no buffer at all (the format
// sends none), where ValidateFull wants the one, absent, validity buffer of the null
// type's layout. ADBC binds a Python None as such a column. The check runs on a copy
// whose null-typed nodes have that slot; the column itself is not changed.
func validateFull(col arrow.Array) error {
	if !hasNullType(col.DataType()) {
		return array.ValidateFull(col)
	}
	data := withNullSlots(col.Data())
	defer data.Release()
	fixed := array.MakeFromData(data)
	defer fixed.Release()
	return array.ValidateFull(fixed)
}

// hasNullType reports whether dt is, or nests, Arrow's null type.
func hasNullType(dt arrow.DataType) bool {
	switch t := dt.(type) {
	case *arrow.NullType:
		return true
	case *arrow.DictionaryType:
		return hasNullType(t.ValueType)
	case arrow.NestedType:
		for _, f := range t.Fields() {
			if hasNullType(f.Type) {
				return true
			}
		}
	}
	return false
}

// withNullSlots returns a new reference to d, rebuilt where a null-typed node has no
// buffer slot. The caller releases it.
func withNullSlots(d arrow.ArrayData) arrow.ArrayData {
	bufs := d.Buffers()
	if d.DataType().ID() == arrow.NULL && len(bufs) == 0 {
		bufs = []*memory.Buffer{nil}
	}
	children := make([]arrow.ArrayData, len(d.Children()))
	for i, c := range d.Children() {
		children[i] = withNullSlots(c)
		defer children[i].Release()
	}
	out := array.NewData(d.DataType(), d.Len(), bufs, children, d.NullN(), d.Offset())
	if d.DataType().ID() == arrow.DICTIONARY {
		fixedDict := withNullSlots(d.Dictionary())
		defer fixedDict.Release()
		out.SetDictionary(fixedDict)
	}
	return out
}
