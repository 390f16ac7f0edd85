package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
)

// errorCase is one bad request and what the server must answer.
type errorCase struct {
	name    string
	call    func(context.Context) error
	code    codes.Code
	mention []string // strings the status message must contain
	intact  bool     // target.parquet must still hold 1, 2, 3 afterwards
}

// TestErrors sends the server every kind of bad request a client can make and checks
// the exact gRPC code, that the message names what it is about, that nothing appears
// on disk (inside the root or next to it), and that the server still serves a normal
// request afterwards.
func TestErrors(t *testing.T) {
	sandbox := t.TempDir()
	root := filepath.Join(sandbox, "root") // so that "../x" would land in sandbox
	srv := startServerAt(t, root)
	c := srv.client(t)
	mem := memory.DefaultAllocator

	chars := characters(mem)
	defer chars.Release()
	putRecords(t, c, "characters.parquet", chars.Schema(), chars)
	putRecords(t, c, "sales.parquet", chars.Schema(), chars)
	putRecords(t, c, "orders", chars.Schema(), chars)
	target := int64Record(mem, "v", 1, 3)
	defer target.Release()
	putRecords(t, c, "target.parquet", target.Schema(), target)
	waitNoTempFiles(t, srv.Root) // landed puts converted: the tree compared below is settled

	put := func(name string) func(context.Context) error {
		return func(ctx context.Context) error {
			return rawPut(ctx, c, ipcMessages(t, pathDescriptor(name), chars.Schema(), chars)...)
		}
	}
	info := func(desc *flight.FlightDescriptor) func(context.Context) error {
		return func(ctx context.Context) error { _, err := c.GetFlightInfo(ctx, desc); return err }
	}
	schema := func(desc *flight.FlightDescriptor) func(context.Context) error {
		return func(ctx context.Context) error { _, err := c.GetSchema(ctx, desc); return err }
	}
	get := func(ticket string) func(context.Context) error {
		return func(ctx context.Context) error { _, err := tryGet(ctx, c, []byte(ticket)); return err }
	}
	action := func(typ, body string) func(context.Context) error {
		return func(ctx context.Context) error {
			stream, err := c.DoAction(ctx, &flight.Action{Type: typ, Body: []byte(body)})
			if err != nil {
				return err
			}
			for {
				if _, err := stream.Recv(); err != nil {
					if errors.Is(err, io.EOF) {
						return nil
					}
					return err
				}
			}
		}
	}

	cases := []errorCase{
		{name: "GetFlightInfo/unknown", call: info(pathDescriptor("nosuch.parquet")), code: codes.NotFound, mention: []string{`"nosuch.parquet"`}},
		{name: "GetSchema/unknown", call: schema(pathDescriptor("nosuch.parquet")), code: codes.NotFound, mention: []string{`"nosuch.parquet"`}},
		{name: "DoGet/unknown", call: get("nosuch.parquet"), code: codes.NotFound, mention: []string{`"nosuch.parquet"`}},
		{name: "drop/unknown", call: action("drop_dataset", "nosuch.parquet"), code: codes.NotFound, mention: []string{`"nosuch.parquet"`}},

		{name: "GetFlightInfo/path-0-elements", call: info(&flight.FlightDescriptor{Type: flight.DescriptorPATH}), code: codes.InvalidArgument, mention: []string{"0 path elements"}},
		{name: "GetFlightInfo/path-2-elements", call: info(&flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"a", "b.parquet"}}), code: codes.InvalidArgument, mention: []string{"2 path elements", `"b.parquet"`}},
		{name: "GetSchema/path-2-elements", call: schema(&flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"a", "b"}}), code: codes.InvalidArgument, mention: []string{"2 path elements"}},
		{name: "DoPut/path-0-elements", call: put2(t, c, &flight.FlightDescriptor{Type: flight.DescriptorPATH}, chars), code: codes.InvalidArgument, mention: []string{"0 path elements"}},
		{name: "DoPut/path-2-elements", call: put2(t, c, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"a", "b"}}, chars), code: codes.InvalidArgument, mention: []string{"2 path elements"}},
		{name: "GetFlightInfo/unknown-descriptor-type", call: info(&flight.FlightDescriptor{}), code: codes.InvalidArgument, mention: []string{"descriptor"}},

		// arrow-go's own Flight SQL server dereferences the missing descriptor and
		// crashes; ours must answer, and the health check after it proves it still runs.
		{name: "DoPut/no-descriptor", call: func(ctx context.Context) error {
			return rawPut(ctx, c, ipcMessages(t, nil, chars.Schema(), chars)...)
		}, code: codes.InvalidArgument, mention: []string{"FlightDescriptor"}},
		{name: "DoPut/no-messages", call: func(ctx context.Context) error { return rawPut(ctx, c) }, code: codes.InvalidArgument},
		{name: "DoPut/cmd-not-flight-sql", call: put2(t, c, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte("SELECT 1")}, chars), code: codes.InvalidArgument, mention: []string{"command"}},
		{name: "GetFlightInfo/cmd-not-flight-sql", call: info(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte("SELECT 1")}), code: codes.InvalidArgument, mention: []string{"command"}},
		{name: "DoGet/sql-ticket-malformed-handle", call: get(string(statementTicket(t, "h"))), code: codes.InvalidArgument, mention: []string{"ticket"}},

		{name: "DoPut/garbage-header", call: func(ctx context.Context) error {
			return rawPut(ctx, c, &flight.FlightData{FlightDescriptor: pathDescriptor("garbage.parquet"), DataHeader: []byte("this is not a flatbuffer at all"), DataBody: []byte("nor this")})
		}, code: codes.InvalidArgument, mention: []string{`"garbage.parquet"`}},
		{name: "DoPut/descriptor-only", call: func(ctx context.Context) error {
			return rawPut(ctx, c, &flight.FlightData{FlightDescriptor: pathDescriptor("garbage.parquet")})
		}, code: codes.InvalidArgument, mention: []string{`"garbage.parquet"`}},
		{name: "DoPut/garbage-after-schema", call: func(ctx context.Context) error {
			msgs := ipcMessages(t, pathDescriptor("target.parquet"), chars.Schema(), chars)
			msgs = append(msgs, &flight.FlightData{DataHeader: []byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8}, DataBody: []byte("junk")})
			return rawPut(ctx, c, msgs...)
		}, code: codes.InvalidArgument, mention: []string{`"target.parquet"`}, intact: true},
		{name: "DoPut/truncated-body", call: func(ctx context.Context) error {
			msgs := ipcMessages(t, pathDescriptor("target.parquet"), target.Schema(), target)
			msgs[1].DataBody = msgs[1].DataBody[:len(msgs[1].DataBody)/2]
			return rawPut(ctx, c, msgs...)
		}, code: codes.InvalidArgument, mention: []string{`"target.parquet"`}, intact: true},
		{name: "DoPut/no-columns", call: func(ctx context.Context) error {
			return rawPut(ctx, c, ipcMessages(t, pathDescriptor("garbage.parquet"), arrow.NewSchema(nil, nil))...)
		}, code: codes.InvalidArgument, mention: []string{`"garbage.parquet"`}},

		{name: "unknown-action", call: action("frobnicate", "target.parquet"), code: codes.Unimplemented, mention: []string{`"frobnicate"`}},
		{name: "DoPut/same-table-without-suffix", call: put("sales"), code: codes.AlreadyExists, mention: []string{`"sales"`, `"sales.parquet"`}},
		{name: "DoPut/same-table-with-suffix", call: put("orders.parquet"), code: codes.AlreadyExists, mention: []string{`"orders.parquet"`, `"orders"`}},
		{name: "DoPut/same-table-other-case", call: put("SALES.parquet"), code: codes.AlreadyExists, mention: []string{`"SALES.parquet"`, `"sales.parquet"`}},
	}
	cases = append(cases, schemaChangeCases(t, c)...)

	// Every bad name, in every place a name can come from.
	for _, bad := range []string{"../x", "/etc/passwd", "a/b", ".hidden", "", "a\x00b", strings.Repeat("n", 300), "..", "x y", "sales.parquet\n"} {
		mention := fmt.Sprintf("%q", bad)
		switch {
		case bad == "":
			mention = "empty"
		case len(bad) > 200:
			// The store does not echo an overlong name; it says how long it is.
			mention = "300 bytes"
		}
		label := fmt.Sprintf("%.20q", bad)
		cases = append(cases,
			errorCase{name: "GetFlightInfo/bad-name/" + label, call: info(pathDescriptor(bad)), code: codes.InvalidArgument, mention: []string{mention}},
			errorCase{name: "GetSchema/bad-name/" + label, call: schema(pathDescriptor(bad)), code: codes.InvalidArgument, mention: []string{mention}},
			errorCase{name: "DoPut/bad-name/" + label, call: put(bad), code: codes.InvalidArgument, mention: []string{mention}},
			errorCase{name: "DoGet/bad-ticket/" + label, call: get(bad), code: codes.InvalidArgument, mention: []string{mention}},
			errorCase{name: "drop/bad-name/" + label, call: action("drop_dataset", bad), code: codes.InvalidArgument, mention: []string{mention}},
		)
	}
	// Bytes that are not UTF-8 cannot travel in a descriptor path (a proto3 string) but
	// can in a ticket or an action body.
	cases = append(cases,
		errorCase{name: "DoGet/bad-ticket/not-utf8", call: get("\xff\xfe.parquet"), code: codes.InvalidArgument},
		errorCase{name: "drop/bad-name/not-utf8", call: action("drop_dataset", "\xff\xfe.parquet"), code: codes.InvalidArgument},
	)

	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tree(t, sandbox)
			err := tc.call(ctx)
			t.Logf("answer: %v", err)
			wantStatus(t, err, tc.code, tc.mention...)
			waitNoTempFiles(t, srv.Root)
			if after := tree(t, sandbox); !slices.Equal(before, after) {
				t.Errorf("files changed:\nbefore %q\nafter  %q", before, after)
			}
			if tc.intact {
				if got, err := tryGet(ctx, c, []byte("target.parquet")); err != nil || !slices.Equal(got, []string{"1", "2", "3"}) {
					t.Errorf("target.parquet after the failed put = %q, %v; want the previous version [1 2 3]", got, err)
				}
			}
			checkServes(t, c)
		})
	}
}

// put2 is a DoPut of recs under an arbitrary descriptor.
func put2(t testing.TB, c flight.Client, desc *flight.FlightDescriptor, recs ...arrow.RecordBatch) func(context.Context) error {
	return func(ctx context.Context) error {
		return rawPut(ctx, c, ipcMessages(t, desc, recs[0].Schema(), recs...)...)
	}
}

// schemaChangeCases are uploads to target.parquet whose schema changes mid-stream.
// The IPC layer allows a client to send a second schema message (the server's reader
// must refuse it) and to send batches encoded for another schema under the first
// schema (the server's reader decodes them with the wrong layout): both must be
// refused with InvalidArgument, and the previous version stays.
func schemaChangeCases(t *testing.T, c flight.Client) []errorCase {
	mem := memory.DefaultAllocator
	desc := pathDescriptor("target.parquet")
	a := int64Record(mem, "v", 10, 5)
	t.Cleanup(a.Release)
	// b has another column type; swapped has the same number of buffers as two
	// columns (string, int64) in the other order, so a lax reader would accept it.
	b := stringRecord(mem, "v", "x", "y")
	t.Cleanup(b.Release)
	twoSchema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	swappedSchema := arrow.NewSchema([]arrow.Field{
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	two := twoColumns(mem, twoSchema, 1000)
	t.Cleanup(two.Release)
	swapped := twoColumns(mem, swappedSchema, 1000)
	t.Cleanup(swapped.Release)

	send := func(msgs ...*flight.FlightData) func(context.Context) error {
		return func(ctx context.Context) error { return rawPut(ctx, c, msgs...) }
	}
	first := ipcMessages(t, desc, a.Schema(), a, a)
	other := ipcMessages(t, nil, b.Schema(), b)
	twoMsgs := ipcMessages(t, pathDescriptor("target.parquet"), twoSchema, two)
	swappedMsgs := ipcMessages(t, nil, swappedSchema, swapped)
	// Offsets that pass arrow-go's O(1) checks (first 0, last = data length) but go
	// backwards in the middle: a writer slicing values[10:2] would panic.
	chars := stringRecord(mem, "Character", "Mario", "Luigi", "Peach")
	t.Cleanup(chars.Release)
	corrupt := ipcMessages(t, pathDescriptor("target.parquet"), chars.Schema(), chars)
	corrupt[1].DataBody = replaceInt32s(t, corrupt[1].DataBody, []int32{0, 5, 10, 15}, []int32{0, 10, 2, 15})
	putChars := func(ctx context.Context) error { return rawPut(ctx, c, corrupt...) }
	return []errorCase{
		{name: "DoPut/non-monotonic-offsets", call: putChars,
			code: codes.InvalidArgument, mention: []string{`"target.parquet"`}, intact: true},
		{name: "DoPut/second-schema-message", call: send(append(slices.Clone(first), other...)...),
			code: codes.InvalidArgument, mention: []string{`"target.parquet"`}, intact: true},
		{name: "DoPut/batch-of-other-schema", call: send(append(slices.Clone(first), other[1:]...)...),
			code: codes.InvalidArgument, mention: []string{`"target.parquet"`}, intact: true},
		{name: "DoPut/batch-of-swapped-schema", call: send(append(slices.Clone(twoMsgs), swappedMsgs[1:]...)...),
			code: codes.InvalidArgument, mention: []string{`"target.parquet"`}, intact: true},
	}
}

// twoColumns is a batch of n rows of (int64, string) in the order schema gives.
func twoColumns(mem memory.Allocator, schema *arrow.Schema, n int) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i, f := range schema.Fields() {
		for j := 0; j < n; j++ {
			switch fb := b.Field(i).(type) {
			case *array.Int64Builder:
				fb.Append(int64(j) << 40)
			case *array.StringBuilder:
				fb.Append(fmt.Sprintf("%s-%d", f.Name, j))
			}
		}
	}
	return b.NewRecordBatch()
}

// checkServes fails t unless the server still answers a normal request.
func checkServes(t testing.TB, c flight.Client) {
	t.Helper()
	got, err := tryGet(context.Background(), c, []byte("characters.parquet"))
	if err != nil || !slices.Equal(got, []string{"Mario", "Luigi", "Peach"}) {
		t.Fatalf("after the bad request, DoGet characters.parquet = %q, %v", got, err)
	}
}

// replaceInt32s replaces the little-endian int32 sequence old in body by new.
func replaceInt32s(t testing.TB, body []byte, old, new []int32) []byte {
	t.Helper()
	enc := func(v []int32) []byte {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
		}
		return b
	}
	i := bytes.Index(body, enc(old))
	if i < 0 {
		t.Fatalf("offsets %v not found in the batch body", old)
	}
	out := slices.Clone(body)
	copy(out[i:], enc(new))
	return out
}
