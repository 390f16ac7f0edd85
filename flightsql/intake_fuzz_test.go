package flightsql

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/quiverdata/quiver/catalog"
)

// Fuzz targets for the intake: each drives a real Service on 127.0.0.1:0 with a
// mutated stream of FlightData on one of the three paths client batches take. An
// input is a sequence of messages, each a little-endian uint32 length and the
// header, then a uint32 length and the body (lengths are clipped to what is left);
// the first message carries the path's descriptor. The seeds
// (testdata/fuzz/FuzzIntake*, written by -write-intake-seeds) are valid streams of
// strings, lists, dictionaries, structs and compressed bodies, so mutation starts
// from messages that decode. Whatever the input, the call must end with OK or
// InvalidArgument, and the server must live.
//
//	go test -tags duckdb_arrow -run '^$' -fuzz FuzzIntakeParams -fuzztime 60s ./flightsql/

var writeIntakeSeeds = flag.Bool("write-intake-seeds", false, "write the intake fuzz seed corpora to testdata/fuzz")

func FuzzIntakeDatasetPut(f *testing.F) {
	fx := newIntakeFixture(f)
	fuzzIntake(f, fx, func(testing.TB) *flight.FlightDescriptor {
		return &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"fuzz.parquet"}}
	})
}

func FuzzIntakeIngest(f *testing.F) {
	fx := newIntakeFixture(f)
	fuzzIntake(f, fx, func(t testing.TB) *flight.FlightDescriptor {
		return cmdDescriptor(t, &pb.CommandStatementIngest{
			Table: "fuzz",
			TableDefinitionOptions: &pb.CommandStatementIngest_TableDefinitionOptions{
				IfNotExist: pb.CommandStatementIngest_TableDefinitionOptions_TABLE_NOT_EXIST_OPTION_CREATE,
				IfExists:   pb.CommandStatementIngest_TableDefinitionOptions_TABLE_EXISTS_OPTION_REPLACE,
			},
		})
	})
}

func FuzzIntakeParams(f *testing.F) {
	fx := newIntakeFixture(f)
	stmt, err := fx.sql.Prepare(context.Background(), "SELECT ? AS a")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { stmt.Close(context.Background()) })
	fuzzIntake(f, fx, func(t testing.TB) *flight.FlightDescriptor {
		return cmdDescriptor(t, &pb.CommandPreparedStatementQuery{PreparedStatementHandle: stmt.Handle()})
	})
}

// fuzzIntake runs the fuzz loop of one path.
func fuzzIntake(f *testing.F, fx *intakeFixture, desc func(testing.TB) *flight.FlightDescriptor) {
	if *writeIntakeSeeds {
		writeSeeds(f, intakeSeeds(f))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs := splitMessages(data)
		msgs[0].FlightDescriptor = desc(t)
		err := fx.put(msgs)
		if c := status.Code(err); c != codes.OK && c != codes.InvalidArgument {
			t.Fatalf("DoPut = %v, want OK or InvalidArgument", err)
		}
	})
}

// intakeFixture is a Service on 127.0.0.1:0 with a Flight client and a Flight SQL
// client, stopped when the fuzz target ends.
type intakeFixture struct {
	client flight.Client
	sql    *fsql.Client
}

func newIntakeFixture(tb testing.TB) *intakeFixture {
	tb.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := catalog.Open(tb.TempDir(), catalog.Options{Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() }) // stops the converter of landed puts
	srv, err := NewService(context.Background(), ServiceConfig{Store: store, Logger: quiet})
	if err != nil {
		tb.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	gs := grpc.NewServer(srv.ServerOptions(64 << 20)...)
	srv.Register(gs)
	done := make(chan struct{})
	go func() { defer close(done); gs.Serve(lis) }()
	tb.Cleanup(func() {
		gs.Stop()
		<-done
		srv.Close()
	})
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	c, err := flight.NewClientWithMiddlewareCtx(context.Background(), lis.Addr().String(), nil, nil, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	sc, err := fsql.NewClient(lis.Addr().String(), nil, nil, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sc.Close() })
	return &intakeFixture{client: c, sql: sc}
}

// put sends msgs as one DoPut and returns its outcome.
func (fx *intakeFixture) put(msgs []*flight.FlightData) error {
	// No input may hold a call for long: a hang is a finding too.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := fx.client.DoPut(ctx)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			break // the server ended the call: Recv has its status
		}
	}
	if err := stream.CloseSend(); err != nil {
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

// splitMessages decodes a fuzz input into at least one message (at most 64).
func splitMessages(b []byte) []*flight.FlightData {
	next := func() []byte {
		if len(b) < 4 {
			b = nil
			return nil
		}
		n := min(int(binary.LittleEndian.Uint32(b)), len(b)-4)
		out := b[4 : 4+n]
		b = b[4+n:]
		return out
	}
	var msgs []*flight.FlightData
	for len(b) > 0 && len(msgs) < 64 {
		hdr := next()
		msgs = append(msgs, &flight.FlightData{DataHeader: hdr, DataBody: next()})
	}
	if len(msgs) == 0 {
		msgs = append(msgs, &flight.FlightData{})
	}
	return msgs
}

// joinMessages is splitMessages' inverse.
func joinMessages(msgs []*flight.FlightData) []byte {
	var out []byte
	for _, m := range msgs {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(m.DataHeader)))
		out = append(out, m.DataHeader...)
		out = binary.LittleEndian.AppendUint32(out, uint32(len(m.DataBody)))
		out = append(out, m.DataBody...)
	}
	return out
}

type intakeSeed struct {
	name string
	data []byte
}

// intakeSeeds are valid streams: one column of each kind that has gone wrong
// (strings, lists, dictionaries) and some that reach other parts of the header
// check (nested structs with metadata, string and list views with their variadic
// buffers, compressed bodies, several batches).
func intakeSeeds(tb testing.TB) []intakeSeed {
	tb.Helper()
	mem := memory.DefaultAllocator
	strs := seedRecord(tb, mem, arrow.BinaryTypes.String, `["Mario", "Luigi", null, "Peach"]`)
	defer strs.Release()
	lists := seedRecord(tb, mem, arrow.ListOf(arrow.PrimitiveTypes.Int64), `[[1, 2], [3], null, [4, 5, 6]]`)
	defer lists.Release()
	nested := seedRecord(tb, mem, arrow.StructOf(
		arrow.Field{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true, Metadata: arrow.NewMetadata([]string{"k"}, []string{"v"})},
		arrow.Field{Name: "l", Type: arrow.ListOf(arrow.BinaryTypes.LargeString), Nullable: true},
	), `[{"s": "a", "l": ["x", "y"]}, null, {"s": null, "l": []}]`)
	defer nested.Release()
	ints := seedRecord(tb, mem, arrow.PrimitiveTypes.Int64, `[1, 2, 3, null, 5]`)
	defer ints.Release()
	dict := seedDictRecord(mem)
	defer dict.Release()
	// polars sends string_view; its views point into variadic buffers by index.
	views := seedRecord(tb, mem, arrow.BinaryTypes.StringView, `["short", "a string longer than twelve bytes", null, "another long string value"]`)
	defer views.Release()
	lviews := seedRecord(tb, mem, arrow.ListViewOf(arrow.PrimitiveTypes.Int32), `[[1, 2], [], null, [3]]`)
	defer lviews.Release()
	// The encodings the intake converts to plain types (intake_types.go).
	ree := seedRecord(tb, mem, arrow.RunEndEncodedOf(arrow.PrimitiveTypes.Int32, arrow.BinaryTypes.String), `["a", "a", "b", null, null]`)
	defer ree.Release()
	viewsInside := seedRecord(tb, mem, arrow.StructOf(
		arrow.Field{Name: "v", Type: arrow.BinaryTypes.StringView, Nullable: true},
		arrow.Field{Name: "l", Type: arrow.LargeListViewOf(arrow.FixedWidthTypes.Float16), Nullable: true},
		arrow.Field{Name: "d", Type: &arrow.Decimal32Type{Precision: 7, Scale: 2}, Nullable: true},
		arrow.Field{Name: "t", Type: arrow.FixedWidthTypes.Date64, Nullable: true},
	), `[{"v": "a string longer than twelve bytes", "l": [1.5, null], "d": "1.25", "t": "2024-02-29"}, null, {"v": null, "l": null, "d": null, "t": null}]`)
	defer viewsInside.Release()
	durations := seedRecord(tb, mem, arrow.FixedWidthTypes.Duration_us, `[1, -2, null]`)
	defer durations.Release()
	return []intakeSeed{
		{"run-end-encoded", joinMessages(seedMessages(tb, ree))},
		{"views-inside-struct", joinMessages(seedMessages(tb, viewsInside))},
		{"durations", joinMessages(seedMessages(tb, durations))},
		// The schema polars' write_database sent through ADBC: a vtable shared by
		// tables of different sizes (intake_flatbuf.go).
		{"polars-schema", joinMessages([]*flight.FlightData{{DataHeader: polarsSchemaHeader(tb)}})},
		{"strings", joinMessages(seedMessages(tb, strs))},
		{"lists", joinMessages(seedMessages(tb, lists))},
		{"nested", joinMessages(seedMessages(tb, nested))},
		{"dictionary", joinMessages(seedMessages(tb, dict, dict))},
		{"ints-three-batches", joinMessages(seedMessages(tb, ints, ints, ints))},
		{"string-views", joinMessages(seedMessages(tb, views))},
		{"list-views", joinMessages(seedMessages(tb, lviews))},
		{"strings-zstd", joinMessages(seedMessages(tb, strs, ipc.WithZstd()))},
		{"lists-lz4", joinMessages(seedMessages(tb, lists, ipc.WithLZ4()))},
	}
}

// polarsSchemaHeader is the Schema message header polars 2.1's write_database sent
// through ADBC for a frame of every polars type, as captured.
func polarsSchemaHeader(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "polars-write-database-schema.bin"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// seedRecord is a one-column batch of typ from JSON.
func seedRecord(tb testing.TB, mem memory.Allocator, typ arrow.DataType, js string) arrow.RecordBatch {
	tb.Helper()
	col, _, err := array.FromJSON(mem, typ, strings.NewReader(js))
	if err != nil {
		tb.Fatal(err)
	}
	defer col.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: typ, Nullable: true}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{col}, int64(col.Len()))
}

func seedDictRecord(mem memory.Allocator) arrow.RecordBatch {
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	b := array.NewDictionaryBuilder(mem, dt).(*array.BinaryDictionaryBuilder)
	defer b.Release()
	for _, s := range []string{"x", "y", "x", "z"} {
		if err := b.AppendString(s); err != nil {
			panic(err)
		}
	}
	col := b.NewArray()
	defer col.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: dt, Nullable: true}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{col}, int64(col.Len()))
}

// seedMessages is the FlightData of a stream of rec (repeated by extra records) as
// arrow-go's Flight writer sends it; options (ipc.Option) set compression.
func seedMessages(tb testing.TB, rec arrow.RecordBatch, more ...any) []*flight.FlightData {
	tb.Helper()
	recs := []arrow.RecordBatch{rec}
	opts := []ipc.Option{ipc.WithSchema(rec.Schema())}
	for _, m := range more {
		switch m := m.(type) {
		case arrow.RecordBatch:
			recs = append(recs, m)
		case ipc.Option:
			opts = append(opts, m)
		}
	}
	var c capture
	w := flight.NewRecordWriter(&c, opts...)
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return c.msgs
}

// capture keeps copies of the messages a flight.Writer sends.
type capture struct{ msgs []*flight.FlightData }

func (c *capture) Send(fd *flight.FlightData) error {
	c.msgs = append(c.msgs, proto.Clone(fd).(*flight.FlightData))
	return nil
}

// writeSeeds writes seeds as the corpus of the running fuzz target.
func writeSeeds(tb testing.TB, seeds []intakeSeed) {
	tb.Helper()
	dir := filepath.Join("testdata", "fuzz", tb.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	for _, s := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(s.data)))
		if err := os.WriteFile(filepath.Join(dir, s.name), []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// cmdDescriptor is a Flight SQL command descriptor holding msg.
func cmdDescriptor(tb testing.TB, msg proto.Message) *flight.FlightDescriptor {
	tb.Helper()
	a, err := anypb.New(msg)
	if err != nil {
		tb.Fatal(err)
	}
	cmd, err := proto.Marshal(a)
	if err != nil {
		tb.Fatal(err)
	}
	return &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: cmd}
}
