package flightsql

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the codec wireCodec wraps
	"google.golang.org/grpc/mem"
)

// Plain DoGet hands gRPC its FlightData messages already in wire form.
//
// arrow-go's Flight writer copies a batch's buffers into one body slice, and gRPC's
// proto codec copies that slice again into the message it sends: two copies of every
// byte before the transport's own. Instead a plain DoGet builds each message's
// protobuf framing itself and gives gRPC the batch's buffers as they are
// (encodedMsg), through a codec that passes such messages through and marshals
// everything else as the proto codec does (wireCodec). The memory tier
// (dogettier.go) keeps these messages, so a hit sends them without encoding anything.
//
// Lifetime: gRPC frees a message's buffers once the transport has written them (or
// the call ended); the buffers that point into a batch are tracked, and the batch —
// with its share of the result memory budget — is released only when gRPC has freed
// the last of them. The result memory budget thus counts a batch until it has left
// the process, not just until it was handed to gRPC.

// wireCodec is the server's gRPC codec: encodedMsg goes out as it is, anything else
// through the proto codec.
type wireCodec struct{ proto encoding.CodecV2 }

// newWireCodec returns the codec plain DoGet's messages need (Service.ServerOptions
// installs it with grpc.ForceServerCodecV2).
func newWireCodec() wireCodec { return wireCodec{proto: encoding.GetCodecV2("proto")} }

// Marshal hands over an encodedMsg's buffers; gRPC frees them when it is done.
func (c wireCodec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(*encodedMsg); ok {
		return m.take(), nil
	}
	return c.proto.Marshal(v)
}

// Unmarshal is the proto codec's, but for FlightData, whose body it decodes with one
// copy instead of two (putwire.go).
func (c wireCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if fd, ok := v.(*flight.FlightData); ok {
		return decodeFlightData(data.Materialize(), fd)
	}
	return c.proto.Unmarshal(data, v)
}

// Name is "proto": the messages are protobuf on the wire.
func (c wireCodec) Name() string { return c.proto.Name() }

// encodedMsg is one FlightData message in protobuf wire form, in pieces. gRPC takes
// its buffers once (take); a message that was never taken must be freed by its
// sender (free).
type encodedMsg struct {
	bufs  mem.BufferSlice
	taken atomic.Bool
	// header is the Arrow IPC message header (FlightData.data_header) and bodyLen the
	// length of data_body: what the observer counts (observe.SentFlightData).
	header  []byte
	bodyLen int64
}

func (m *encodedMsg) take() mem.BufferSlice {
	m.taken.Store(true)
	return m.bufs
}

// free frees the buffers when gRPC never took them (its SendMsg failed first).
func (m *encodedMsg) free() {
	if !m.taken.Swap(true) {
		m.bufs.Free()
	}
}

// FlightDataHeader is the IPC message header the message carries.
func (m *encodedMsg) FlightDataHeader() []byte { return m.header }

// FlightDataBodyLen is the length of the message's body.
func (m *encodedMsg) FlightDataBodyLen() int64 { return m.bodyLen }

// FlightData field tags (Flight.proto): data_header = 2 and data_body = 1000, both
// length-delimited.
var (
	tagDataHeader = protoTag(2)
	tagDataBody   = protoTag(1000)
)

func protoTag(field uint64) []byte { return binary.AppendUvarint(nil, field<<3|2) }

// messagePieces is one IPC payload laid out as a FlightData message: the framing and
// the header in one piece, then the body's buffers and their padding as the IPC
// writer serialises them (no copy).
type messagePieces struct {
	header []byte   // IPC message header
	pieces [][]byte // framing+header, then body pieces
	size   int      // bytes of all pieces
}

// Write collects a body piece without copying it: SerializeBody's writer.
func (p *messagePieces) Write(b []byte) (int, error) {
	p.pieces = append(p.pieces, b)
	p.size += len(b)
	return len(b), nil
}

// layOut returns payload as the pieces of one FlightData message. The body pieces
// point into the payload's buffers: valid while the batch it encodes is held.
func layOut(payload ipc.Payload) (*messagePieces, error) {
	meta := payload.Meta()
	var header []byte
	if meta != nil {
		header = append([]byte(nil), meta.Bytes()...) // small: a flatbuffer per batch
		meta.Release()
	}
	var body messagePieces
	if err := payload.SerializeBody(&body); err != nil {
		return nil, fmt.Errorf("lay out an IPC message: %w", err)
	}
	framing := make([]byte, 0, len(header)+32)
	if len(header) > 0 {
		framing = append(framing, tagDataHeader...)
		framing = binary.AppendUvarint(framing, uint64(len(header)))
		framing = append(framing, header...)
	}
	if body.size > 0 {
		framing = append(framing, tagDataBody...)
		framing = binary.AppendUvarint(framing, uint64(body.size))
	}
	p := &messagePieces{header: header, pieces: make([][]byte, 0, len(body.pieces)+1)}
	p.pieces = append(p.pieces, framing)
	p.pieces = append(p.pieces, body.pieces...)
	p.size = len(framing) + body.size
	return p, nil
}

// bytes copies the message into one slice the caller owns.
func (p *messagePieces) bytes() []byte {
	b := make([]byte, 0, p.size)
	for _, piece := range p.pieces {
		b = append(b, piece...)
	}
	return b
}

// ownedMsg is a message that owns its bytes (a copy, or one kept by the memory
// tier): gRPC may hold it as long as it likes.
func ownedMsg(b []byte, header []byte, bodyLen int64) *encodedMsg {
	return &encodedMsg{bufs: mem.BufferSlice{mem.SliceBuffer(b)}, header: header, bodyLen: bodyLen}
}

// borrowed returns p as a message whose large pieces are the batch's own buffers:
// done runs once gRPC has freed all of them. Pieces smaller than gRPC's pooling
// threshold are copied (gRPC cannot report when it is done with those), so that no
// piece the message hands gRPC points into the batch untracked.
func (p *messagePieces) borrowed(done func()) *encodedMsg {
	t := &pieceTracker{done: done}
	bufs := make(mem.BufferSlice, 0, len(p.pieces))
	var small []byte
	flush := func() {
		if len(small) > 0 {
			bufs = append(bufs, mem.SliceBuffer(small))
			small = nil
		}
	}
	var large [][]byte
	for _, piece := range p.pieces {
		if mem.IsBelowBufferPoolingThreshold(len(piece)) {
			small = append(small, piece...)
			continue
		}
		flush()
		large = append(large, piece)
		bufs = append(bufs, nil) // placed below, once the count is known
	}
	flush()
	t.left.Store(int64(len(large)))
	i := 0
	for j := range bufs {
		if bufs[j] == nil {
			piece := large[i]
			i++
			bufs[j] = mem.NewBuffer(&piece, t)
		}
	}
	if len(large) == 0 {
		done()
	}
	return &encodedMsg{bufs: bufs, header: p.header, bodyLen: int64(p.size)}
}

// pieceTracker is the mem.BufferPool of a message's borrowed pieces: gRPC returns
// each piece to it when it has freed it, and the last return runs done. It never
// hands out buffers.
type pieceTracker struct {
	left atomic.Int64
	done func()
}

// Get is never called: gRPC only returns borrowed buffers here.
func (t *pieceTracker) Get(length int) *[]byte {
	b := make([]byte, length)
	return &b
}

// Put is gRPC freeing one piece.
func (t *pieceTracker) Put(*[]byte) {
	if t.left.Add(-1) == 0 {
		t.done()
	}
}

// messageWriter is the ipc.PayloadWriter of a plain DoGet: each payload goes out as
// an encodedMsg. hold, when set, is the batch being written: its messages borrow its
// buffers and take a reference on it (holdRef). keep, when set, receives a copy of
// every message (the memory tier filling).
type messageWriter struct {
	stream grpc.ServerStream
	hold   *batchHold
	keep   func(msg []byte, header []byte, bodyLen int64)
}

func (w *messageWriter) Start() error { return nil }
func (w *messageWriter) Close() error { return nil }

// WritePayload sends one message, waiting until gRPC has queued it.
func (w *messageWriter) WritePayload(payload ipc.Payload) error {
	p, err := layOut(payload)
	if err != nil {
		return err
	}
	var msg *encodedMsg
	if w.keep != nil || w.hold == nil {
		// Filling the tier needs a copy anyway: send the copy. Messages of no batch
		// (the schema) are small: copied too.
		b := p.bytes()
		if w.keep != nil {
			w.keep(b, p.header, int64(p.size))
		}
		msg = ownedMsg(b, p.header, int64(p.size))
	} else {
		w.hold.ref()
		msg = p.borrowed(w.hold.unref)
	}
	err = w.stream.SendMsg(msg)
	msg.free()
	return err
}

// batchHold keeps a written batch (and its reservation) until the writer and every
// message borrowing from it are done with it.
type batchHold struct {
	refs    atomic.Int64
	once    sync.Once
	release func()
}

// newBatchHold returns a hold with the writer's reference.
func newBatchHold(release func()) *batchHold {
	h := &batchHold{release: release}
	h.refs.Store(1)
	return h
}

func (h *batchHold) ref() { h.refs.Add(1) }

func (h *batchHold) unref() {
	if h.refs.Add(-1) == 0 {
		h.once.Do(h.release)
	}
}

// heldBatches are the holds of one stream not yet released. gRPC frees the
// messages of a stream it cleans up, but not those still queued when a connection
// closes: settle releases what is left once the stream has ended, so that no batch
// nor reservation outlives its call.
type heldBatches struct {
	mu    sync.Mutex
	live  map[*batchHold]struct{}
	empty chan struct{} // signalled when live becomes empty
}

func newHeldBatches() *heldBatches {
	return &heldBatches{live: map[*batchHold]struct{}{}, empty: make(chan struct{}, 1)}
}

// hold returns a hold of a batch that release lets go, tracked until released.
func (s *heldBatches) hold(release func()) *batchHold {
	var h *batchHold
	h = newBatchHold(func() {
		release()
		s.mu.Lock()
		delete(s.live, h)
		n := len(s.live)
		s.mu.Unlock()
		if n == 0 {
			select {
			case s.empty <- struct{}{}:
			default:
			}
		}
	})
	s.mu.Lock()
	s.live[h] = struct{}{}
	s.mu.Unlock()
	return h
}

// settle waits until gRPC has freed every message (the last batches are then
// written), or until the stream ends (ctx), and then releases what is left. Memory
// gRPC may still point to after that is Go's (the allocator the IPC writer uses and
// the server's default), so it stays valid; only its accounting ends.
func (s *heldBatches) settle(ctx context.Context) {
	for {
		s.mu.Lock()
		n := len(s.live)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-s.empty:
		case <-ctx.Done():
			s.mu.Lock()
			left := make([]*batchHold, 0, len(s.live))
			for h := range s.live {
				left = append(left, h)
			}
			s.mu.Unlock()
			for _, h := range left {
				h.once.Do(h.release)
			}
			return
		}
	}
}

// sendEncoded sends one message the memory tier keeps (owned bytes: gRPC holds them
// as long as it needs).
func sendEncoded(stream grpc.ServerStream, b []byte, header []byte, bodyLen int64) error {
	msg := ownedMsg(b, header, bodyLen)
	err := stream.SendMsg(msg)
	msg.free()
	return err
}

// newMessageWriter returns the IPC writer of a plain DoGet over w. Buffers the IPC
// writer makes itself (the offsets of a sliced column, rebased) come from Go's
// allocator, whatever the server's: gRPC may still hold them after the writer has
// released them, and Go's collector frees them only when nobody does.
func newMessageWriter(w *messageWriter, opts ...ipc.Option) *ipc.Writer {
	return ipc.NewWriterWithPayloadWriter(w, append(opts, ipc.WithAllocator(goAllocator))...)
}

// goAllocator makes the IPC writer's own buffers (newMessageWriter).
var goAllocator = memory.NewGoAllocator()

var (
	_ ipc.PayloadWriter = (*messageWriter)(nil)
	_ mem.BufferPool    = (*pieceTracker)(nil)
	_ encoding.CodecV2  = wireCodec{}
)
