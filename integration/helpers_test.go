package integration

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
)

// Helpers shared by the error, race, hand-dropped and binary tests.

// wantStatus fails t unless err is a gRPC status with code want whose message
// contains every string in mention.
func wantStatus(t testing.TB, err error, want codes.Code, mention ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("error %v is not a gRPC status, want %v", err, want)
	}
	if st.Code() != want {
		t.Fatalf("code = %v (%q), want %v", st.Code(), st.Message(), want)
	}
	for _, m := range mention {
		if !strings.Contains(st.Message(), m) {
			t.Errorf("message %q does not mention %q", st.Message(), m)
		}
	}
}

// ipcMessages returns the FlightData messages of an Arrow IPC stream of recs: the
// schema message first (carrying desc, if any), then one message per batch. The
// end-of-stream marker is not included: a DoPut ends when the client closes its side.
func ipcMessages(t testing.TB, desc *flight.FlightDescriptor, schema *arrow.Schema, recs ...arrow.RecordBatch) []*flight.FlightData {
	t.Helper()
	var c captureStream
	w := flight.NewRecordWriter(&c, ipc.WithSchema(schema))
	if desc != nil {
		w.SetFlightDescriptor(desc)
	}
	for _, rec := range recs {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return c.msgs
}

// captureStream keeps copies of the messages a flight.Writer sends (it reuses its
// buffers between messages).
type captureStream struct{ msgs []*flight.FlightData }

func (c *captureStream) Send(fd *flight.FlightData) error {
	c.msgs = append(c.msgs, proto.Clone(fd).(*flight.FlightData))
	return nil
}

// rawPut sends msgs as one DoPut and returns the call's outcome. When the server
// ends the call early, a Send fails with io.EOF and the status comes from Recv.
func rawPut(ctx context.Context, c flight.Client, msgs ...*flight.FlightData) error {
	stream, err := c.DoPut(ctx)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			break
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

// tryGet reads a whole ticket and returns the values of its first column as strings
// (Int64 and String columns), or the call's error.
func tryGet(ctx context.Context, c flight.Client, ticket []byte) ([]string, error) {
	stream, err := c.DoGet(ctx, &flight.Ticket{Ticket: ticket})
	if err != nil {
		return nil, err
	}
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		return nil, err
	}
	defer rdr.Release()
	var vals []string
	for rdr.Next() {
		vals = append(vals, columnStrings(rdr.RecordBatch().Column(0))...)
	}
	return vals, rdr.Err()
}

func columnStrings(col arrow.Array) []string {
	out := make([]string, col.Len())
	for i := range out {
		out[i] = col.ValueStr(i)
	}
	return out
}

// stringRecord is a one-column string batch.
func stringRecord(mem memory.Allocator, col string, vals ...string) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{{Name: col, Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues(vals, nil)
	return b.NewRecordBatch()
}

// int64Record is a one-column int64 batch of n values starting at from.
func int64Record(mem memory.Allocator, col string, from, n int64) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{{Name: col, Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	ib := b.Field(0).(*array.Int64Builder)
	ib.Reserve(int(n))
	for i := from; i < from+n; i++ {
		ib.UnsafeAppend(i)
	}
	return b.NewRecordBatch()
}

// tree lists every path under dir (relative, sorted), files and directories.
func tree(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// tempFiles lists the store's temporary and trash entries in root; on an S3 root, the
// keys of unfinished multipart uploads.
func tempFiles(t testing.TB, root string) []string {
	t.Helper()
	if env := s3EnvOf(root); env != nil {
		return env.inProgressUploads(t)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".quiver-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// waitNoTempFiles polls root until no temporary file is left: after a client gives
// up, the server may still be unwinding the upload for a moment.
func waitNoTempFiles(t testing.TB, root string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := tempFiles(t, root)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("temporary files left in the root: %q", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// statementTicket is a real Flight SQL ticket: a serialized Any holding a
// TicketStatementQuery, as a Flight SQL server issues for a query.
func statementTicket(t testing.TB, handle string) []byte {
	t.Helper()
	a, err := anypb.New(&pb.TicketStatementQuery{StatementHandle: []byte(handle)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
