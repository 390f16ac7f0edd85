package flightsql

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// flightDataCases are FlightData messages in wire form: what clients send, and what
// only a hostile or broken one would.
func flightDataCases(t testing.TB) map[string][]byte {
	marshal := func(fd *flight.FlightData) []byte {
		b, err := proto.Marshal(fd)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	body := bytes.Repeat([]byte("body"), 1000)
	full := marshal(&flight.FlightData{
		FlightDescriptor: &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"x.parquet"}},
		DataHeader:       []byte("header"),
		AppMetadata:      []byte("meta"),
		DataBody:         body,
	})
	bytesField := func(num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	return map[string][]byte{
		"empty":                 {},
		"full":                  full,
		"header only":           marshal(&flight.FlightData{DataHeader: []byte("h")}),
		"body only":             bytesField(dataBodyField, body),
		"empty body":            cat(bytesField(2, []byte("h")), bytesField(dataBodyField, nil)),
		"body first":            cat(bytesField(dataBodyField, body), bytesField(2, []byte("h"))),
		"two bodies, last wins": cat(bytesField(dataBodyField, []byte("first")), bytesField(2, []byte("h")), bytesField(dataBodyField, []byte("second"))),
		"body then empty body":  cat(bytesField(dataBodyField, body), bytesField(dataBodyField, nil)),
		"body as a varint":      cat(bytesField(dataBodyField, body), protowire.AppendVarint(protowire.AppendTag(nil, dataBodyField, protowire.VarintType), 7)),
		"unknown fields":        cat(bytesField(77, []byte("?")), full, protowire.AppendFixed32(protowire.AppendTag(nil, 5000, protowire.Fixed32Type), 1)),
		"header as a varint":    protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 1),
		"path not UTF-8":        cat(bytesField(1, cat(protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1), bytesField(2, []byte("\xff")))), bytesField(dataBodyField, body)),
		"truncated body":        full[:len(full)-10],
		"truncated tag":         cat(bytesField(2, []byte("h")), []byte{0x80}),
		"length past the end":   cat(protowire.AppendTag(nil, dataBodyField, protowire.BytesType), protowire.AppendVarint(nil, 1<<40)),
		"field number zero":     cat([]byte{0x02, 0x01, 'x'}, bytesField(dataBodyField, body)),
		"stray end group":       cat(bytesField(dataBodyField, body), protowire.AppendTag(nil, 9, protowire.EndGroupType)),
		"group":                 cat(protowire.AppendTag(nil, 9, protowire.StartGroupType), bytesField(1, []byte("in")), protowire.AppendTag(nil, 9, protowire.EndGroupType), bytesField(dataBodyField, body)),
	}
}

// checkLikeProto decodes b both ways and fails t if they differ: the same message,
// or an error both ways.
func checkLikeProto(t *testing.T, b []byte) {
	t.Helper()
	var want, got flight.FlightData
	werr := proto.Unmarshal(b, &want)
	gerr := decodeFlightData(b, &got)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("decodeFlightData error = %v, proto.Unmarshal's = %v", gerr, werr)
	}
	if werr != nil {
		return
	}
	if !proto.Equal(&got, &want) {
		t.Fatalf("decodeFlightData = %v, proto.Unmarshal = %v", &got, &want)
	}
	if (got.DataBody == nil) != (want.DataBody == nil) {
		t.Fatalf("DataBody nil = %v, proto.Unmarshal's nil = %v", got.DataBody == nil, want.DataBody == nil)
	}
}

// TestDecodeFlightDataLikeProto: every message decodes as proto.Unmarshal decodes it,
// errors included, and the body is not a copy but lies inside the received bytes.
func TestDecodeFlightDataLikeProto(t *testing.T) {
	for name, b := range flightDataCases(t) {
		t.Run(name, func(t *testing.T) {
			checkLikeProto(t, b)
		})
	}
	t.Run("the body aliases the message", func(t *testing.T) {
		b := flightDataCases(t)["full"]
		var fd flight.FlightData
		if err := decodeFlightData(b, &fd); err != nil {
			t.Fatal(err)
		}
		start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		body := uintptr(unsafe.Pointer(unsafe.SliceData(fd.DataBody)))
		if body < start || body+uintptr(len(fd.DataBody)) > start+uintptr(len(b)) {
			t.Errorf("the body was copied out of the message")
		}
	})
}

// TestWireCodecDecodesFlightData: the server's codec decodes FlightData gathered from
// several transport buffers with the body in a slice of its own (the buffers go back
// to gRPC's pool after Unmarshal), and other messages as the proto codec does.
func TestWireCodecDecodesFlightData(t *testing.T) {
	b := flightDataCases(t)["full"]
	var slice mem.BufferSlice
	for len(b) > 0 { // in pieces, as the transport's frames arrive
		n := min(len(b), 1000)
		slice = append(slice, mem.SliceBuffer(append([]byte(nil), b[:n]...)))
		b = b[n:]
	}
	c := newWireCodec()
	var fd flight.FlightData
	if err := c.Unmarshal(slice, &fd); err != nil {
		t.Fatal(err)
	}
	for _, buf := range slice { // what gRPC's pool would do with them
		clear(buf.ReadOnlyData())
	}
	if want := bytes.Repeat([]byte("body"), 1000); !bytes.Equal(fd.DataBody, want) {
		t.Errorf("the body changed when the transport's buffers were reused")
	}
	if string(fd.DataHeader) != "header" || fd.FlightDescriptor.GetPath()[0] != "x.parquet" {
		t.Errorf("decoded %v", &fd)
	}
	var ticket flight.Ticket
	raw, err := proto.Marshal(&flight.Ticket{Ticket: []byte("t")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(raw)}, &ticket); err != nil || string(ticket.Ticket) != "t" {
		t.Errorf("a Ticket decoded as %v, %v", &ticket, err)
	}
}

// FuzzDecodeFlightData: any bytes decode as proto.Unmarshal decodes them.
func FuzzDecodeFlightData(f *testing.F) {
	for _, b := range flightDataCases(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkLikeProto(t, b)
	})
}
