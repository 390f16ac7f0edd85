package integration

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/parquet/file"
	"google.golang.org/grpc/codes"

	"github.com/quiverdata/quiver/flightsql/wire"
)

// rawGet runs DoGet with a raw-Parquet ticket's bytes and returns the bytes streamed.
func rawGet(ctx context.Context, c flight.Client, ticket []byte) ([]byte, error) {
	stream, err := c.DoGet(ctx, &flight.Ticket{Ticket: ticket})
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for {
		fd, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out.Bytes(), nil
		}
		if err != nil {
			return out.Bytes(), err
		}
		out.Write(fd.GetDataBody())
	}
}

// parquetRows opens path as Parquet and returns its row count.
func parquetRows(t *testing.T, path string) int64 {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatalf("%s is not valid Parquet: %v", path, err)
	}
	defer r.Close()
	return r.NumRows()
}

// `get -o x.parquet` copies the stored file byte for byte; a multi-part dataset is
// re-encoded into one valid file and get says so.
func TestCLIGetParquetAsStored(t *testing.T) {
	srv := startSQLServer(t)
	dir := t.TempDir()
	csv := filepath.Join(dir, "n.csv")
	var b strings.Builder
	b.WriteString("n,s\n")
	for i := range 3000 {
		b.WriteString(strings.Repeat("x", i%7) + "1,abc\n")
	}
	must(t, os.WriteFile(csv, []byte(b.String()), 0o644))
	srv.ok(t, dir, "put", "nums.parquet", csv)

	out := filepath.Join(dir, "copy.parquet")
	r := srv.ok(t, dir, "get", "nums.parquet", "-o", out)
	if !strings.Contains(r.stderr, "the stored Parquet file, as is") {
		t.Errorf("stderr = %q", r.stderr)
	}
	stored := srv.readStored(t, "nums.parquet")
	got, err := os.ReadFile(out)
	must(t, err)
	if !bytes.Equal(got, stored) {
		t.Fatalf("get -o copy.parquet wrote %d bytes that differ from the stored %d bytes", len(got), len(stored))
	}
	// On a pipe too.
	if r := srv.ok(t, dir, "get", "nums.parquet", "--format", "parquet"); r.stdout != string(stored) {
		t.Errorf("get --format parquet to a pipe: %d bytes, stored %d", len(r.stdout), len(stored))
	}
	// --reencode writes the batches anew: a valid file with the same rows.
	re := filepath.Join(dir, "re.parquet")
	if r := srv.ok(t, dir, "get", "nums.parquet", "-o", re, "--reencode"); strings.Contains(r.stderr, "as is") {
		t.Errorf("--reencode: %q", r.stderr)
	}
	if n := parquetRows(t, re); n != 3000 {
		t.Errorf("--reencode: %d rows", n)
	}

	// Two parts after an append: re-encoded into one file, with a note.
	srv.ok(t, dir, "put", "nums.parquet", csv, "--append")
	both := filepath.Join(dir, "both.parquet")
	r = srv.ok(t, dir, "get", "nums.parquet", "-o", both)
	if !strings.Contains(r.stderr, "re-encoding nums.parquet") || !strings.Contains(r.stderr, "2 Parquet parts") {
		t.Errorf("multi-part stderr = %q", r.stderr)
	}
	if n := parquetRows(t, both); n != 6000 {
		t.Errorf("multi-part: %d rows, want 6000", n)
	}
}

// The raw-Parquet ticket is client bytes: validated like every ticket, and a restricted
// grant gets the files of exactly the datasets it may read.
func TestRawParquetTicketChecks(t *testing.T) {
	srv, ctxs := grantServer(t)
	c := srv.client(t)
	stored := srv.readStored(t, "sales.parquet")

	got, err := rawGet(ctxs["sales"], c, wire.RawParquetTicket("sales.parquet"))
	if err != nil || !bytes.Equal(got, stored) {
		t.Errorf("sales grant, sales.parquet: err %v, %d bytes of %d", err, len(got), len(stored))
	}
	_, err = rawGet(ctxs["sales"], c, wire.RawParquetTicket("payroll"))
	wantStatus(t, err, codes.PermissionDenied, "payroll")
	_, err = rawGet(context.Background(), c, wire.RawParquetTicket("sales.parquet"))
	wantStatus(t, err, codes.Unauthenticated)

	admin := ctxs["admin"]
	for _, tc := range []struct {
		name   string
		ticket []byte
		code   codes.Code
		says   string
	}{
		{"traversal", wire.RawParquetTicket("../sales.parquet"), codes.InvalidArgument, "raw-Parquet ticket"},
		{"empty name", wire.RawParquetTicket(""), codes.InvalidArgument, "raw-Parquet ticket"},
		{"NUL in name", wire.RawParquetTicket("a\x00b"), codes.InvalidArgument, "raw-Parquet ticket"},
		{"prefix cut short", []byte(wire.RawParquetTicketPrefix[:5]), codes.InvalidArgument, "neither a dataset name"},
		{"missing dataset", wire.RawParquetTicket("nope.parquet"), codes.NotFound, "nope.parquet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rawGet(admin, c, tc.ticket)
			wantStatus(t, err, tc.code, tc.says)
		})
	}
}
