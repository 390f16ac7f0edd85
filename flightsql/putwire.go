package flightsql

import (
	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// FlightData received (DoPut, DoExchange) is decoded with one copy of its body, not
// two.
//
// gRPC's proto codec gathers a received message into one pooled buffer (a copy of the
// transport's frames), and proto.Unmarshal copies the data_body field out of it
// again, since the pooled buffer goes back to the pool: 2 copies of every uploaded
// byte, 110-160 ms of CPU per 440 MB put on the receiving goroutine. wireCodec's
// Unmarshal instead gathers a FlightData into a slice of its own, which it never
// hands back (the garbage collector frees it with the batch), and lets the body alias
// it. Every other field goes through proto.Unmarshal as before.

// dataBodyField is FlightData's data_body field number (Flight.proto).
const dataBodyField protowire.Number = 1000

// decodeFlightData decodes b, a whole FlightData message, into fd as proto.Unmarshal
// does, except that fd.DataBody aliases b: b must not change or be reused while fd
// is in use. A message that does not parse is left to proto.Unmarshal, so its error
// is the proto codec's.
func decodeFlightData(b []byte, fd *flight.FlightData) error {
	var body []byte
	var rest []byte // every field but data_body, in wire form
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return proto.Unmarshal(b, fd)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[off+n:])
		if m < 0 {
			return proto.Unmarshal(b, fd)
		}
		if num == dataBodyField && typ == protowire.BytesType {
			// The last occurrence wins, as for any scalar field.
			body, _ = protowire.ConsumeBytes(b[off+n : off+n+m])
		} else {
			// A data_body of another wire type is an unknown field to proto too.
			rest = append(rest, b[off:off+n+m]...)
		}
		off += n + m
	}
	if err := proto.Unmarshal(rest, fd); err != nil {
		return err
	}
	if len(body) > 0 { // proto leaves an empty bytes field nil
		fd.DataBody = body
	}
	return nil
}
