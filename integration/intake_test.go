package integration

import (
	"context"
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Hostile Arrow streams on each of the three paths by which a client sends batches
// (dataset DoPut, Flight SQL ingest, bound parameters of a prepared statement): each
// is refused with InvalidArgument naming what was wrong, and the server keeps
// serving. Before the intake, the offsets cases on ingest and parameters killed the
// process (a panic in pqarrow and in DuckDB's binding) and the field-count case was a
// fatal out-of-memory in arrow-go's schema decoding, on every path; the parameters
// path needs only read permission, which is what it runs with here.
func TestIntakeRefusesHostileStreams(t *testing.T) {
	srv, _ := authServer(t)
	ctx := context.Background()
	c := srv.sqlClient(t)
	writerCtx, err := c.Client.AuthenticateBasicToken(ctx, "writer", "pw-writer")
	if err != nil {
		t.Fatal(err)
	}
	readerCtx, err := c.Client.AuthenticateBasicToken(ctx, "reader", "pw-reader")
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := c.Prepare(readerCtx, "SELECT ? AS a")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stmt.Close(readerCtx) })

	paths := []struct {
		name    string
		ctx     context.Context
		desc    *flight.FlightDescriptor
		mention string
	}{
		{"DoPut", writerCtx, pathDescriptor("target.parquet"), `"target.parquet"`},
		{"ingest", writerCtx, commandDescriptor(t, &pb.CommandStatementIngest{
			Table: "intake",
			TableDefinitionOptions: &pb.CommandStatementIngest_TableDefinitionOptions{
				IfNotExist: pb.CommandStatementIngest_TableDefinitionOptions_TABLE_NOT_EXIST_OPTION_CREATE,
				IfExists:   pb.CommandStatementIngest_TableDefinitionOptions_TABLE_EXISTS_OPTION_REPLACE,
			},
		}), `"intake"`},
		{"params", readerCtx, commandDescriptor(t, &pb.CommandPreparedStatementQuery{PreparedStatementHandle: stmt.Handle()}), "prepared statement"},
	}

	mem := memory.DefaultAllocator
	chars := stringRecord(mem, "Character", "Mario", "Luigi", "Peach")
	t.Cleanup(chars.Release)
	lists := listRecord(mem, [][]int64{{1, 2}, {3}, {4, 5, 6}})
	t.Cleanup(lists.Release)
	ints := int64Record(mem, "Character", 1, 3)
	t.Cleanup(ints.Release)
	dicts := dictRecord(mem, []string{"x", "y", "z"}, []int32{0, 1, 2})
	t.Cleanup(dicts.Release)

	cases := []struct {
		name    string
		msgs    func(desc *flight.FlightDescriptor) []*flight.FlightData
		mention string
	}{
		{"string offsets backwards", func(desc *flight.FlightDescriptor) []*flight.FlightData {
			m := ipcMessages(t, desc, chars.Schema(), chars)
			m[1].DataBody = replaceInt32s(t, m[1].DataBody, []int32{0, 5, 10, 15}, []int32{0, 10, 2, 15})
			return m
		}, "not laid out as the stream's schema says"},
		{"list offsets backwards", func(desc *flight.FlightDescriptor) []*flight.FlightData {
			m := ipcMessages(t, desc, lists.Schema(), lists)
			m[1].DataBody = replaceInt32s(t, m[1].DataBody, []int32{0, 2, 3, 6}, []int32{0, 5, 1, 6})
			return m
		}, "not laid out as the stream's schema says"},
		{"schema field count patched", func(desc *flight.FlightDescriptor) []*flight.FlightData {
			m := ipcMessages(t, desc, chars.Schema(), chars)
			m[0].DataHeader = patchSchemaFieldCount(t, m[0].DataHeader, 0xF0000000)
			return m
		}, "schema fields"},
		{"schema field count patched, after a descriptor alone", func(desc *flight.FlightDescriptor) []*flight.FlightData {
			m := ipcMessages(t, nil, chars.Schema(), chars)
			m[0].DataHeader = patchSchemaFieldCount(t, m[0].DataHeader, 0xF0000000)
			return append([]*flight.FlightData{{FlightDescriptor: desc}}, m...)
		}, "schema fields"},
		{"body length oversize", func(desc *flight.FlightDescriptor) []*flight.FlightData {
			m := ipcMessages(t, desc, chars.Schema(), chars)
			m[1].DataHeader = patchBodyLength(t, m[1].DataHeader, 1<<40)
			return m
		}, "claims a body of 1099511627776 bytes"},
		{"batch of another schema", func(desc *flight.FlightDescriptor) []*flight.FlightData {
			m := ipcMessages(t, desc, ints.Schema(), ints)
			return append(m, ipcMessages(t, nil, chars.Schema(), chars)[1:]...)
		}, "batch 2"},
		{"dictionary batch the schema does not declare", func(desc *flight.FlightDescriptor) []*flight.FlightData {
			m := ipcMessages(t, desc, chars.Schema(), chars)
			dm := ipcMessages(t, nil, dicts.Schema(), dicts)
			return slices.Insert(m, 1, dm[1])
		}, "no field of the schema declares"},
		{"dictionary values with offsets backwards", func(desc *flight.FlightDescriptor) []*flight.FlightData {
			m := ipcMessages(t, desc, dicts.Schema(), dicts)
			m[1].DataBody = replaceInt32s(t, m[1].DataBody, []int32{0, 1, 2, 3}, []int32{0, 2, 1, 3})
			return m
		}, "dictionary"},
		{"dictionary indices out of range", func(desc *flight.FlightDescriptor) []*flight.FlightData {
			m := ipcMessages(t, desc, dicts.Schema(), dicts)
			m[2].DataBody = replaceInt32s(t, m[2].DataBody, []int32{0, 1, 2}, []int32{0, 1, 77})
			return m
		}, "not laid out as the stream's schema says"},
	}
	for _, p := range paths {
		t.Run(p.name+"/valid stream", func(t *testing.T) {
			if err := rawPut(p.ctx, c.Client, ipcMessages(t, p.desc, chars.Schema(), chars)...); err != nil {
				t.Fatalf("a valid stream: %v", err)
			}
		})
		for _, tc := range cases {
			t.Run(p.name+"/"+tc.name, func(t *testing.T) {
				err := rawPut(p.ctx, c.Client, tc.msgs(p.desc)...)
				wantStatus(t, err, codes.InvalidArgument, p.mention, tc.mention)
				// The server still serves: a query and a DoGet succeed.
				rdr, err := c.Execute(readerCtx, "SELECT 42 AS answer")
				if err != nil {
					t.Fatalf("a query after the bad stream: %v", err)
				}
				if len(rdr.Endpoint) != 1 {
					t.Fatalf("a query after the bad stream: %d endpoints", len(rdr.Endpoint))
				}
				vals, err := tryGet(readerCtx, c.Client, rdr.Endpoint[0].Ticket.Ticket)
				if err != nil || !slices.Equal(vals, []string{"42"}) {
					t.Fatalf("a query after the bad stream = %q, %v", vals, err)
				}
			})
		}
	}
}

// commandDescriptor is a Flight SQL command descriptor holding msg.
func commandDescriptor(t testing.TB, msg proto.Message) *flight.FlightDescriptor {
	t.Helper()
	a, err := anypb.New(msg)
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := proto.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: cmd}
}

// listRecord is a one-column list<int64> batch named "Character" (so it binds to
// the same statements as the string batches).
func listRecord(mem memory.Allocator, rows [][]int64) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{{Name: "Character", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	lb := b.Field(0).(*array.ListBuilder)
	vb := lb.ValueBuilder().(*array.Int64Builder)
	for _, r := range rows {
		lb.Append(true)
		vb.AppendValues(r, nil)
	}
	return b.NewRecordBatch()
}

// dictRecord is a one-column dictionary<int32, string> batch.
func dictRecord(mem memory.Allocator, dict []string, indices []int32) arrow.RecordBatch {
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	sb := array.NewStringBuilder(mem)
	defer sb.Release()
	sb.AppendValues(dict, nil)
	values := sb.NewArray()
	defer values.Release()
	ib := array.NewInt32Builder(mem)
	defer ib.Release()
	ib.AppendValues(indices, nil)
	idx := ib.NewArray()
	defer idx.Release()
	col := array.NewDictionaryArray(dt, idx, values)
	defer col.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "Character", Type: dt, Nullable: true}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{col}, int64(len(indices)))
}

// The IPC message header is an Arrow Message flatbuffer; these find a field in it.
// Message: slot 2 header, slot 3 bodyLength; Schema: slot 1 fields.

// fbSlot is the position of field slot in the table at pos, or -1 if absent.
func fbSlot(t testing.TB, b []byte, pos, slot int) int {
	t.Helper()
	vt := pos - int(int32(binary.LittleEndian.Uint32(b[pos:])))
	if 4+2*slot >= int(binary.LittleEndian.Uint16(b[vt:])) {
		return -1
	}
	off := int(binary.LittleEndian.Uint16(b[vt+4+2*slot:]))
	if off == 0 {
		return -1
	}
	return pos + off
}

func fbDeref(b []byte, p int) int { return p + int(binary.LittleEndian.Uint32(b[p:])) }

// patchSchemaFieldCount sets the length of a Schema message's fields vector.
func patchSchemaFieldCount(t testing.TB, hdr []byte, n uint32) []byte {
	t.Helper()
	out := slices.Clone(hdr)
	root := fbDeref(out, 0)
	schema := fbDeref(out, fbSlot(t, out, root, 2))
	fields := fbDeref(out, fbSlot(t, out, schema, 1))
	binary.LittleEndian.PutUint32(out[fields:], n)
	return out
}

// patchBodyLength sets a message's bodyLength.
func patchBodyLength(t testing.TB, hdr []byte, n int64) []byte {
	t.Helper()
	out := slices.Clone(hdr)
	p := fbSlot(t, out, fbDeref(out, 0), 3)
	if p < 0 {
		t.Fatal("the message has no bodyLength field")
	}
	binary.LittleEndian.PutUint64(out[p:], uint64(n))
	return out
}

// `quiver serve --max-bind-bytes` caps the parameter rows one bind may send: over
// it, InvalidArgument naming the cap and the flag; under it, the statement runs.
func TestMaxBindBytesFlag(t *testing.T) {
	p := newBinaryRoot(t).serve(t, "--max-bind-bytes", "4096")
	srv := &testServer{Addr: p.addr}
	c := srv.sqlClient(t)
	ctx := context.Background()
	stmt, err := c.Prepare(ctx, "SELECT ? AS a")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close(ctx)

	big := stringRecord(memory.DefaultAllocator, "a", strings.Repeat("x", 3000), strings.Repeat("y", 3000))
	defer big.Release()
	stmt.SetParameters(big)
	_, err = stmt.Execute(ctx)
	wantStatus(t, err, codes.InvalidArgument, "4096 bytes", "--max-bind-bytes", `"SELECT ? AS a"`)

	small := stringRecord(memory.DefaultAllocator, "a", "Mario")
	defer small.Release()
	stmt.SetParameters(small)
	info, err := stmt.Execute(ctx)
	if err != nil {
		t.Fatalf("a bind under the cap: %v", err)
	}
	vals, err := tryGet(ctx, c.Client, info.Endpoint[0].Ticket.Ticket)
	if err != nil || !slices.Equal(vals, []string{"Mario"}) {
		t.Fatalf("a bind under the cap = %q, %v", vals, err)
	}
}
