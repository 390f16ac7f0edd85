package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql"
	"github.com/quiverdata/quiver/flightsql/auth"
	"github.com/quiverdata/quiver/flightsql/wire"
)

// The DoGet half of the memory tier (--memory-tier): a hot dataset version's encoded
// stream is kept and sent again as it is.

// tierServer starts a server with a memory tier of tierBytes, reading batches of at
// most 1000 rows (so that a stream has many messages), with a checked allocator.
func tierServer(t *testing.T, tierBytes int64) *testServer {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	srv := startServerOpts(t, t.TempDir(), mem, harnessOptions{
		store:   catalog.Options{ReadBatchRows: 1000},
		service: func(c *flightsql.ServiceConfig) { c.MemoryTier = tierBytes },
	})
	srv.Mem = mem
	return srv
}

// numbered makes n rows of (id int64, name string) from id from on.
func numbered(t testing.TB, from, n int64) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, eventSchema)
	defer b.Release()
	for i := from; i < from+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(i)
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("row-%08d", i))
	}
	rec := b.NewRecordBatch()
	t.Cleanup(rec.Release)
	return rec
}

// tierGet returns the FlightData messages of a DoGet as they arrive.
func tierGet(ctx context.Context, c flight.Client, ticket []byte) ([]*flight.FlightData, error) {
	stream, err := c.DoGet(ctx, &flight.Ticket{Ticket: ticket})
	if err != nil {
		return nil, err
	}
	var msgs []*flight.FlightData
	for {
		fd, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return msgs, nil
		}
		if err != nil {
			return msgs, err
		}
		msgs = append(msgs, fd)
	}
}

// sameMessages fails unless a and b carry the same headers and bodies.
func sameMessages(t *testing.T, what string, a, b []*flight.FlightData) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d messages, want %d", what, len(b), len(a))
	}
	for i := range a {
		if !bytes.Equal(a[i].DataHeader, b[i].DataHeader) || !bytes.Equal(a[i].DataBody, b[i].DataBody) {
			t.Fatalf("%s: message %d differs", what, i)
		}
	}
}

// ids reads a dataset ticket and returns its id column.
func ids(t *testing.T, c flight.Client, ticket []byte) []int64 {
	t.Helper()
	_, recs := getAll(t, c, &flight.Ticket{Ticket: ticket})
	var out []int64
	for _, r := range recs {
		out = append(out, r.Column(0).(*array.Int64).Int64Values()...)
	}
	return out
}

func span(from, n int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = from + int64(i)
	}
	return out
}

// corruptInPlace overwrites the middle of a file and restores its modification time:
// size, inode and time stay, so the store sees the same version, but reading the
// Parquet pages fails.
func corruptInPlace(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := bytes.Repeat([]byte{0xff}, int(fi.Size()/2))
	if _, err := f.WriteAt(junk, fi.Size()/8); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

func TestDoGetTierSendsTheKeptStream(t *testing.T) {
	srv := tierServer(t, 64<<20)
	c := srv.client(t)
	ctx := context.Background()
	putRecords(t, c, "hot.parquet", eventSchema, numbered(t, 0, 20_000))
	ticket := []byte("hot.parquet")

	first, err := tierGet(ctx, c, ticket)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) < 20 {
		t.Fatalf("%d messages: want a schema and 20 batches at least", len(first))
	}
	second, err := tierGet(ctx, c, ticket)
	if err != nil {
		t.Fatal(err)
	}
	sameMessages(t, "second DoGet", first, second)
	if got := ids(t, c, ticket); !slices.Equal(got, span(0, 20_000)) {
		t.Fatalf("ids from the tier: %d rows, want 0..19999 in order", len(got))
	}

	if onS3() {
		return // an object cannot change under the same version: the rest needs a file
	}
	// Same version, pages broken underneath: a DoGet from the tier does not read
	// them; one that reads Parquet (a parts ticket of the same version, kept
	// apart) fails on them.
	info, err := srv.Store.Stat(ctx, "hot.parquet")
	if err != nil {
		t.Fatal(err)
	}
	corruptInPlace(t, filepath.Join(srv.Root, "hot.parquet"))
	third, err := tierGet(ctx, c, ticket)
	if err != nil {
		t.Fatalf("DoGet after the pages broke, from the tier: %v", err)
	}
	sameMessages(t, "DoGet from the tier", first, third)
	parts := wire.PartsTicket{Dataset: "hot.parquet", Version: info.Version, First: 0, Count: 1}.Encode()
	if _, err := tierGet(ctx, c, parts); err == nil {
		t.Fatal("a parts ticket of the broken version read it: the check above proves nothing")
	}
}

func TestDoGetTierNeverSendsAnOldVersion(t *testing.T) {
	srv := tierServer(t, 64<<20)
	c := srv.client(t)
	ctx := context.Background()
	ticket := []byte("v.parquet")

	putRecords(t, c, "v.parquet", eventSchema, numbered(t, 0, 3000))
	for range 2 { // fill, then from the tier
		if got := ids(t, c, ticket); !slices.Equal(got, span(0, 3000)) {
			t.Fatalf("version 1: %d rows", len(got))
		}
	}
	putRecords(t, c, "v.parquet", eventSchema, numbered(t, 5000, 2000)) // replace
	for range 2 {
		if got := ids(t, c, ticket); !slices.Equal(got, span(5000, 2000)) {
			t.Fatalf("after a replace: %d rows from %v, want 5000..6999", len(got), got[:min(1, len(got))])
		}
	}
	rdr, err := array.NewRecordReader(eventSchema, []arrow.RecordBatch{numbered(t, 7000, 500)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Store.Put(ctx, "v.parquet", catalog.Append, rdr); err != nil {
		t.Fatal(err)
	}
	rdr.Release()
	want := append(span(5000, 2000), span(7000, 500)...)
	for range 2 {
		if got := ids(t, c, ticket); !slices.Equal(got, want) {
			t.Fatalf("after an append: %d rows, want %d", len(got), len(want))
		}
	}

	// Changed by hand, not through the store (no notice): the version differs.
	// (On S3 a dataset's parts are objects under a manifest; there is no one file
	// to swap by hand there.)
	if !onS3() {
		changeByHand(t, srv, ticket)
	}

	if err := srv.Store.Drop(ctx, "v.parquet"); err != nil {
		t.Fatal(err)
	}
	_, err = tierGet(ctx, c, ticket)
	wantStatus(t, err, codes.NotFound, "v.parquet")
}

// changeByHand replaces the directory of parts of v.parquet by one file, as a user
// would, and checks that the next DoGet sends the file's rows.
func changeByHand(t *testing.T, srv *testServer, ticket []byte) {
	t.Helper()
	c := srv.client(t)
	hand := t.TempDir()
	writeParquetFile(t, filepath.Join(hand, "x.parquet"), numbered(t, 9000, 10))
	if err := os.RemoveAll(filepath.Join(srv.Root, "v.parquet")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(hand, "x.parquet"), filepath.Join(srv.Root, "v.parquet")); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, c, ticket); !slices.Equal(got, span(9000, 10)) {
		t.Fatalf("after a change by hand: %d rows from %v, want 9000..9009", len(got), got[:min(1, len(got))])
	}
}

func TestDoGetTierKeepsPartRangesApart(t *testing.T) {
	srv := tierServer(t, 64<<20)
	c := srv.client(t)
	ctx := context.Background()
	putRecords(t, c, "p.parquet", eventSchema, numbered(t, 0, 1500))
	rdr, err := array.NewRecordReader(eventSchema, []arrow.RecordBatch{numbered(t, 1500, 700)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Store.Put(ctx, "p.parquet", catalog.Append, rdr); err != nil {
		t.Fatal(err)
	}
	rdr.Release()
	info, err := srv.Store.Stat(ctx, "p.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Keys) != 2 {
		t.Fatalf("%d parts, want 2", len(info.Keys))
	}
	for range 2 {
		if got := ids(t, c, []byte("p.parquet")); !slices.Equal(got, span(0, 2200)) {
			t.Fatalf("whole dataset: %d rows", len(got))
		}
		second := wire.PartsTicket{Dataset: "p.parquet", Version: info.Version, First: 1, Count: 1}.Encode()
		if got := ids(t, c, second); !slices.Equal(got, span(1500, 700)) {
			t.Fatalf("second part: %d rows", len(got))
		}
		first := wire.PartsTicket{Dataset: "p.parquet", Version: info.Version, First: 0, Count: 1}.Encode()
		if got := ids(t, c, first); !slices.Equal(got, span(0, 1500)) {
			t.Fatalf("first part: %d rows", len(got))
		}
	}
	// A parts ticket of the version before an append is refused, kept or not.
	rdr, err = array.NewRecordReader(eventSchema, []arrow.RecordBatch{numbered(t, 2200, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Store.Put(ctx, "p.parquet", catalog.Append, rdr); err != nil {
		t.Fatal(err)
	}
	rdr.Release()
	_, err = tierGet(ctx, c, wire.PartsTicket{Dataset: "p.parquet", Version: info.Version, First: 1, Count: 1}.Encode())
	wantStatus(t, err, codes.FailedPrecondition, "p.parquet")
}

func TestDoGetTierTooSmallKeepsNothing(t *testing.T) {
	skipOnS3(t, "proves nothing was kept by breaking a file under the same version")
	srv := tierServer(t, 16<<10) // less than the stream of 20,000 rows
	c := srv.client(t)
	ctx := context.Background()
	putRecords(t, c, "big.parquet", eventSchema, numbered(t, 0, 20_000))
	for range 2 {
		if got := ids(t, c, []byte("big.parquet")); !slices.Equal(got, span(0, 20_000)) {
			t.Fatalf("%d rows", len(got))
		}
	}
	// Nothing was kept: a DoGet reads the file, and fails on broken pages.
	corruptInPlace(t, filepath.Join(srv.Root, "big.parquet"))
	if _, err := tierGet(ctx, c, []byte("big.parquet")); err == nil {
		t.Fatal("DoGet of broken pages succeeded: a stream over the budget was kept")
	}
}

func TestDoGetTierChecksGrantsFirst(t *testing.T) {
	f := &auth.File{}
	tokens := map[string]string{}
	for _, g := range []struct {
		name, perm string
		datasets   []string
	}{{"sales", "read", []string{"sales*"}}, {"admin", "admin", nil}} {
		tok, hash, err := auth.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		tokens[g.name] = tok
		f.Tokens = append(f.Tokens, auth.TokenEntry{Name: g.name, TokenHash: hash, Permission: g.perm, Datasets: g.datasets})
	}
	a, err := auth.New(f, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeParquetFile(t, filepath.Join(root, "sales.parquet"), numbered(t, 0, 100))
	writeParquetFile(t, filepath.Join(root, "payroll.parquet"), numbered(t, 500, 100))
	srv := startServerOpts(t, root, memory.DefaultAllocator, harnessOptions{
		guard:   auth.NewGuard(a, nil),
		service: func(c *flightsql.ServiceConfig) { c.MemoryTier = 64 << 20 },
	})
	c := srv.client(t)
	as := func(who string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tokens[who])
	}
	// The admin reads payroll twice: it is in the tier now.
	for range 2 {
		msgs, err := tierGet(as("admin"), c, []byte("payroll.parquet"))
		if err != nil || len(msgs) < 2 {
			t.Fatalf("admin: %d messages, %v", len(msgs), err)
		}
	}
	// sales may read sales*, not payroll, kept or not.
	msgs, err := tierGet(as("sales"), c, []byte("payroll.parquet"))
	wantStatus(t, err, codes.PermissionDenied, "payroll.parquet")
	if len(msgs) != 0 {
		t.Fatalf("a refused DoGet sent %d messages", len(msgs))
	}
	_, err = tierGet(context.Background(), c, []byte("payroll.parquet"))
	wantStatus(t, err, codes.Unauthenticated)
	for range 2 {
		if _, err := tierGet(as("sales"), c, []byte("sales.parquet")); err != nil {
			t.Fatalf("sales reading sales.parquet: %v", err)
		}
	}
}

func TestDoGetTierServesHivePartitions(t *testing.T) {
	skipOnS3(t, "writes a hive directory tree into the root directory")
	srv := tierServer(t, 64<<20)
	writeHiveTree(t, srv.Root)
	c := srv.client(t)
	ctx := context.Background()
	info, err := srv.Store.Stat(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	rows := func(ticket []byte) string {
		_, recs := getAll(t, c, &flight.Ticket{Ticket: ticket})
		var got []string
		for _, rec := range recs {
			ids, years, months := rec.Column(0).(*array.Int64), rec.Column(1).(*array.Int64), rec.Column(2).(*array.String)
			for i := range int(rec.NumRows()) {
				got = append(got, fmt.Sprintf("%d:%d-%s", ids.Value(i), years.Value(i), months.Value(i)))
			}
		}
		return fmt.Sprint(got)
	}
	middle := wire.PartsTicket{Dataset: "events", Version: info.Version, First: 1, Count: 1}.Encode()
	var first []*flight.FlightData
	for i := range 2 { // fill, then from the tier
		if got, want := rows([]byte("events")), "[0:2024-01 1:2024-01 2:2024-01 3:2024-02 4:2024-02 5:2025-01]"; got != want {
			t.Fatalf("DoGet %d of events: %s, want %s", i, got, want)
		}
		if got, want := rows(middle), "[3:2024-02 4:2024-02]"; got != want {
			t.Fatalf("DoGet %d of the second part: %s, want %s", i, got, want)
		}
		msgs, err := tierGet(ctx, c, []byte("events"))
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = msgs
		} else {
			sameMessages(t, "events from the tier", first, msgs)
		}
	}
}
