package observe

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/protobuf/proto"
)

// captured collects the FlightData messages a flight.Writer sends. The writer reuses
// its message and buffers, so each is copied.
type captured struct{ msgs []*flight.FlightData }

func (c *captured) Send(fd *flight.FlightData) error {
	c.msgs = append(c.msgs, proto.Clone(fd).(*flight.FlightData))
	return nil
}

// flightStream returns the FlightData messages of a stream of batches with the given
// row counts: a schema message, then one message per batch (a dictionary batch
// before each, for the dictionary-encoded column).
func flightStream(t testing.TB, rowCounts ...int) []*flight.FlightData {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	dictType := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
		{Name: "s", Type: dictType},
	}, nil)
	var out captured
	w := flight.NewRecordWriter(&out, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	for _, n := range rowCounts {
		b := array.NewRecordBuilder(mem, schema)
		for i := range n {
			b.Field(0).(*array.Int64Builder).Append(int64(i))
			if err := b.Field(1).(*array.BinaryDictionaryBuilder).AppendString("v"); err != nil {
				t.Fatal(err)
			}
		}
		rec := b.NewRecordBatch()
		b.Release()
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.msgs
}

func TestRecordBatchRows(t *testing.T) {
	counts := []int{3, 0, 70000, 1}
	msgs := flightStream(t, counts...)
	var got []int
	var others int
	for _, m := range msgs {
		rows, ok := recordBatchRows(m.DataHeader)
		if !ok {
			if rows != 0 {
				t.Errorf("not a record batch, but %d rows", rows)
			}
			others++
			continue
		}
		got = append(got, int(rows))
	}
	if len(got) != len(counts) {
		t.Fatalf("record batches %v, want %v", got, counts)
	}
	for i := range counts {
		if got[i] != counts[i] {
			t.Errorf("batch %d: %d rows, want %d", i, got[i], counts[i])
		}
	}
	// The schema and at least one dictionary batch (the writer sends one only when
	// the dictionary changes).
	if others < 2 {
		t.Errorf("%d messages that are not record batches, want the schema and dictionaries", others)
	}
}

func TestRecordBatchRowsMalformed(t *testing.T) {
	msgs := flightStream(t, 5)
	hdr := msgs[len(msgs)-1].DataHeader
	if rows, ok := recordBatchRows(hdr); !ok || rows != 5 {
		t.Fatalf("intact header: %d, %v", rows, ok)
	}
	// A cut header reads as the same row count (the fields read come first) or as
	// nothing, never as another count.
	var refused int
	for n := range len(hdr) {
		rows, ok := recordBatchRows(hdr[:n])
		if ok && rows != 5 {
			t.Errorf("header cut to %d bytes reads as %d rows", n, rows)
		}
		if !ok {
			refused++
		}
	}
	if refused == 0 {
		t.Error("no cut header was refused")
	}
	for _, b := range [][]byte{nil, {}, {0xff, 0xff, 0xff, 0xff}, {4, 0, 0, 0, 0x80, 0, 0, 0}} {
		if _, ok := recordBatchRows(b); ok {
			t.Errorf("%x: ok", b)
		}
	}
}

func FuzzRecordBatchRows(f *testing.F) {
	for _, m := range flightStream(f, 2, 1000) {
		f.Add(m.DataHeader)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, ok := recordBatchRows(b) // must not panic
		if rows < 0 || (!ok && rows != 0) {
			t.Fatalf("rows %d, ok %v", rows, ok)
		}
	})
}
