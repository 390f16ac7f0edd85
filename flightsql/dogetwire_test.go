package flightsql

import (
	"bytes"
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// sentMessages is a server stream that marshals what it is sent through wireCodec,
// as gRPC would, decodes it as a client would, and frees the buffers.
type sentMessages struct {
	grpc.ServerStream
	codec wireCodec
	got   []*flight.FlightData
	raw   [][]byte
}

func (s *sentMessages) Context() context.Context     { return context.Background() }
func (s *sentMessages) SetHeader(metadata.MD) error  { return nil }
func (s *sentMessages) SendHeader(metadata.MD) error { return nil }
func (s *sentMessages) SetTrailer(metadata.MD)       {}
func (s *sentMessages) Send(fd *flight.FlightData) error {
	return s.SendMsg(fd)
}

func (s *sentMessages) SendMsg(m any) error {
	bufs, err := s.codec.Marshal(m)
	if err != nil {
		return err
	}
	b := bufs.Materialize()
	bufs.Free()
	var fd flight.FlightData
	if err := proto.Unmarshal(b, &fd); err != nil {
		return err
	}
	s.got = append(s.got, &fd)
	s.raw = append(s.raw, b)
	return nil
}

// wireTestBatches are batches of the shapes a DoGet sends: nulls, strings, a slice
// at an offset (the IPC writer rebases its offsets), a dictionary column, and large
// buffers (above gRPC's pooling threshold, so borrowed, not copied).
func wireTestBatches(t *testing.T, mem memory.Allocator) (*arrow.Schema, []arrow.RecordBatch) {
	t.Helper()
	dictType := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "kind", Type: dictType, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i := range 5000 {
		if i%7 == 0 {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.Int64Builder).Append(int64(i))
		}
		b.Field(1).(*array.StringBuilder).Append(string(rune('a'+i%26)) + "-name")
		if err := b.Field(2).(*array.BinaryDictionaryBuilder).AppendString([]string{"x", "y", "z"}[i%3]); err != nil {
			t.Fatal(err)
		}
	}
	whole := b.NewRecordBatch()
	defer whole.Release()
	return schema, []arrow.RecordBatch{whole.NewSlice(0, 3000), whole.NewSlice(3001, 5000), whole.NewSlice(5, 9)}
}

func TestEncodedMessagesMatchTheFlightWriter(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	schema, recs := wireTestBatches(t, mem)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()

	want := &sentMessages{codec: newWireCodec()}
	fw := flight.NewRecordWriter(want, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	for _, r := range recs {
		if err := fw.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	fw.Close()

	for _, borrowedBuffers := range []bool{true, false} {
		got := &sentMessages{codec: newWireCodec()}
		mw := &messageWriter{stream: got}
		var kept int
		if !borrowedBuffers {
			mw.keep = func([]byte, []byte, int64) { kept++ }
		}
		w := newMessageWriter(mw, ipc.WithSchema(schema))
		released := 0
		for _, r := range recs {
			r.Retain()
			if borrowedBuffers {
				mw.hold = newBatchHold(func() { r.Release(); released++ })
			}
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
			if borrowedBuffers {
				mw.hold.unref()
			} else {
				r.Release()
				released++
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if released != len(recs) {
			t.Fatalf("borrowed %v: %d of %d batches released after gRPC freed their messages", borrowedBuffers, released, len(recs))
		}
		if !borrowedBuffers && kept != len(got.got) {
			t.Fatalf("kept %d messages of %d sent", kept, len(got.got))
		}
		if len(got.got) != len(want.got) {
			t.Fatalf("borrowed %v: %d messages, the Flight writer sends %d", borrowedBuffers, len(got.got), len(want.got))
		}
		for i := range want.got {
			if !bytes.Equal(got.got[i].DataHeader, want.got[i].DataHeader) || !bytes.Equal(got.got[i].DataBody, want.got[i].DataBody) {
				t.Fatalf("borrowed %v: message %d differs from the Flight writer's", borrowedBuffers, i)
			}
			if !bytes.Equal(got.raw[i], want.raw[i]) {
				t.Fatalf("borrowed %v: message %d is not the proto codec's bytes", borrowedBuffers, i)
			}
		}
	}
}

func TestEncodedMessageFreedWhenNeverTaken(t *testing.T) {
	done := 0
	p := &messagePieces{pieces: [][]byte{make([]byte, 10), make([]byte, 4096), make([]byte, 8192)}, size: 10 + 4096 + 8192}
	msg := p.borrowed(func() { done++ })
	if done != 0 {
		t.Fatal("done before the message was freed")
	}
	msg.free() // SendMsg failed before gRPC took it
	msg.free()
	if done != 1 {
		t.Fatalf("done ran %d times, want once", done)
	}
}
