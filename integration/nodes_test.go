package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/quiverdata/quiver/catalog/storage/s3/s3test"
	"github.com/quiverdata/quiver/flightsql/engine"
	"github.com/quiverdata/quiver/flightsql/wire"
)

// freeAddr returns a loopback HOST:PORT that was free a moment ago. Nodes must know
// each other's addresses before they start, so port 0 does not do.
func freeAddr(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// s3Nodes runs n `quiver serve` binaries on one versitygw bucket, each with the
// others as --peers and its own part cache.
func s3Nodes(t testing.TB, n int) []*quiverProcess {
	t.Helper()
	s3srv := s3test.Start(t)
	return startS3Nodes(t, s3srv, s3srv.NewBucket(t), n)
}

// startS3Nodes runs n `quiver serve` binaries on bucket, each with the others as
// --peers (none when n is 1), its own part cache, and the flags extra.
func startS3Nodes(t testing.TB, s3srv *s3test.Server, bucket string, n int, extra ...string) []*quiverProcess {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	t.Setenv("AWS_REGION", s3test.Region)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = freeAddr(t)
	}
	procs := make([]*quiverProcess, n)
	for i := range procs {
		var peers []string
		for j, a := range addrs {
			if j != i {
				peers = append(peers, a)
			}
		}
		args := []string{"--root", "s3://" + bucket + "/warehouse", "--addr", addrs[i], "--s3-endpoint", s3srv.Endpoint,
			"--s3-path-style", "--cache-dir", t.TempDir(), "--cache-size", "256MiB"}
		if len(peers) > 0 {
			args = append(args, "--peers", strings.Join(peers, ","))
		}
		procs[i] = startQuiver(t, t.TempDir(), append(args, extra...)...)
	}
	return procs
}

func nodeSQLClient(t testing.TB, addr string) *fsql.Client {
	t.Helper()
	cl, err := fsql.NewClient(addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// sqlInt runs a query whose result is one BIGINT through cl.
func sqlInt(ctx context.Context, cl *fsql.Client, query string) (int64, error) {
	info, err := cl.Execute(ctx, query)
	if err != nil {
		return 0, err
	}
	rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		return 0, err
	}
	defer rdr.Release()
	if !rdr.Next() {
		return 0, fmt.Errorf("%s: no rows: %v", query, rdr.Err())
	}
	return rdr.RecordBatch().Column(0).(*array.Int64).Value(0), nil
}

// streamIDs reads the "id" column of one ticket from c.
func streamIDs(ctx context.Context, c flight.Client, ticket *flight.Ticket) ([]int64, error) {
	return streamIDsHook(ctx, c, ticket, nil)
}

// streamIDsHook is streamIDs calling afterBatch (when not nil) after each batch.
func streamIDsHook(ctx context.Context, c flight.Client, ticket *flight.Ticket, afterBatch func()) ([]int64, error) {
	stream, err := c.DoGet(ctx, ticket)
	if err != nil {
		return nil, err
	}
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		return nil, err
	}
	defer rdr.Release()
	var ids []int64
	for rdr.Next() {
		ids = append(ids, rdr.RecordBatch().Column(0).(*array.Int64).Int64Values()...)
		if afterBatch != nil {
			afterBatch()
		}
	}
	return ids, rdr.Err()
}

// endpointClients dials each location once: what a parallel client does.
type endpointClients struct {
	t  testing.TB
	mu sync.Mutex
	c  map[string]flight.Client
}

func (e *endpointClients) at(uri string) flight.Client {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.c[uri]; ok {
		return c
	}
	addr := strings.TrimPrefix(uri, "grpc://")
	c, err := flight.NewClientWithMiddlewareCtx(context.Background(), addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	if e.c == nil {
		e.c = map[string]flight.Client{}
	}
	e.c[uri] = c
	return c
}

// fetchEndpoint reads one endpoint from its first location, and on failure from the
// next, dropping what a failed attempt got: how a client survives a dead node.
// It returns the ids and the location that served them.
func (e *endpointClients) fetchEndpoint(ctx context.Context, ep *flight.FlightEndpoint) ([]int64, string, error) {
	return e.fetchEndpointHook(ctx, ep, nil)
}

// fetchEndpointHook is fetchEndpoint calling afterBatch(location) after each batch.
func (e *endpointClients) fetchEndpointHook(ctx context.Context, ep *flight.FlightEndpoint, afterBatch func(string)) ([]int64, string, error) {
	var errs []string
	for _, loc := range ep.Location {
		var hook func()
		if afterBatch != nil {
			hook = func() { afterBatch(loc.Uri) }
		}
		ids, err := streamIDsHook(ctx, e.at(loc.Uri), ep.Ticket, hook)
		if err == nil {
			return ids, loc.Uri, nil
		}
		errs = append(errs, fmt.Sprintf("%s: %v", loc.Uri, err))
	}
	return nil, "", fmt.Errorf("every location failed: %s", strings.Join(errs, "; "))
}

// Two binaries on one bucket: a put through one is visible through the other at the
// next request; appends through both at once lose no acknowledged row; the
// FlightInfo of the multi-part dataset spreads endpoints over both nodes whose union,
// each read from its own location, is the dataset in order.
func TestTwoNodesOnS3(t *testing.T) {
	nodes := s3Nodes(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, b := dial(t, nodes[0].addr), dial(t, nodes[1].addr)
	sqlA, sqlB := nodeSQLClient(t, nodes[0].addr), nodeSQLClient(t, nodes[1].addr)
	mem := memory.DefaultAllocator

	// Visibility: no wait between the put through A and the reads through B.
	rec := int64Record(mem, "id", 0, 100)
	putRecords(t, a, "ids.parquet", rec.Schema(), rec)
	rec.Release()
	info, err := b.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"ids.parquet"}})
	if err != nil || info.TotalRecords != 100 {
		t.Fatalf("GetFlightInfo through B right after the put through A: %v, %v", info, err)
	}
	if ids, err := streamIDs(ctx, b, info.Endpoint[0].Ticket); err != nil || len(ids) != 100 {
		t.Fatalf("DoGet through B: %d rows, %v", len(ids), err)
	}
	if n, err := sqlInt(ctx, sqlB, "SELECT count(*) FROM ids"); err != nil || n != 100 {
		t.Fatalf("SQL through B right after the put through A: %d, %v", n, err)
	}

	// Appends through both nodes at once: each acknowledged one is in the result.
	const writers = 8
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked = map[int64]bool{}
		fails []string
	)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			cl := []*fsql.Client{sqlA, sqlB}[w%2]
			from := int64(1000 * (w + 1))
			rec := int64Record(mem, "id", from, 10)
			defer rec.Release()
			rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
			if err != nil {
				t.Error(err)
				return
			}
			defer rdr.Release()
			_, err = cl.ExecuteIngest(ctx, rdr, &fsql.ExecuteIngestOpts{Table: "ids",
				TableDefinitionOptions: &fsql.TableDefinitionOptions{IfNotExist: fsql.TableDefinitionOptionsTableNotExistOptionFail,
					IfExists: fsql.TableDefinitionOptionsTableExistsOptionAppend}})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fails = append(fails, fmt.Sprintf("writer %d: %v", w, err))
				return
			}
			acked[from] = true
		}(w)
	}
	wg.Wait()
	if len(acked) < 2 {
		t.Fatalf("only %d of %d concurrent appends acknowledged: %v", len(acked), writers, fails)
	}
	if len(fails) > 0 {
		t.Logf("appends not acknowledged (allowed, not counted): %v", fails)
	}
	want := make([]int64, 0, 100+10*len(acked))
	for i := int64(0); i < 100; i++ {
		want = append(want, i)
	}
	for from := range acked {
		for i := from; i < from+10; i++ {
			want = append(want, i)
		}
	}
	for _, cl := range []*fsql.Client{sqlA, sqlB} {
		if n, err := sqlInt(ctx, cl, "SELECT count(*) FROM ids"); err != nil || n != int64(len(want)) {
			t.Fatalf("SQL count after the appends: %d, %v; want %d", n, err, len(want))
		}
	}

	// The endpoints, each read from its own first location, are the dataset in order.
	whole, err := streamIDs(ctx, a, &flight.Ticket{Ticket: []byte("ids.parquet")})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	if sorted := slices.Sorted(slices.Values(whole)); !slices.Equal(sorted, want) {
		t.Fatalf("dataset holds %d ids, want %d (the put and every acknowledged append)", len(whole), len(want))
	}
	info, err = a.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"ids.parquet"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Endpoint) != 1+len(acked) {
		t.Fatalf("%d endpoints, want one per part: %d", len(info.Endpoint), 1+len(acked))
	}
	ec := &endpointClients{t: t}
	var union []int64
	served := map[string]int{}
	for i, ep := range info.Endpoint {
		if len(ep.Location) != 2 {
			t.Fatalf("endpoint %d has locations %v, want both nodes", i, ep.Location)
		}
		ids, loc, err := ec.fetchEndpoint(ctx, ep)
		if err != nil {
			t.Fatalf("endpoint %d: %v", i, err)
		}
		served[loc]++
		union = append(union, ids...)
	}
	if !slices.Equal(union, whole) {
		t.Fatalf("union of the endpoints (%d ids) differs from the dataset read whole (%d)", len(union), len(whole))
	}
	if served["grpc://"+nodes[0].addr] == 0 || served["grpc://"+nodes[1].addr] == 0 {
		t.Fatalf("endpoints served by %v: want both nodes", served)
	}
}

// A node killed (SIGKILL) while a client fetches the endpoints: the client retries
// each endpoint the dead node led at its next location and gets every row.
func TestTwoNodesKill(t *testing.T) {
	nodes := s3Nodes(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := dial(t, nodes[0].addr)
	sqlA := nodeSQLClient(t, nodes[0].addr)
	mem := memory.DefaultAllocator
	const parts, perPart = 6, 200_000
	rec := int64Record(mem, "id", 0, perPart)
	putRecords(t, a, "ids.parquet", rec.Schema(), rec)
	rec.Release()
	for p := int64(1); p < parts; p++ {
		rec := int64Record(mem, "id", p*perPart, perPart)
		rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
		if err != nil {
			t.Fatal(err)
		}
		_, err = sqlA.ExecuteIngest(ctx, rdr, &fsql.ExecuteIngestOpts{Table: "ids",
			TableDefinitionOptions: &fsql.TableDefinitionOptions{IfNotExist: fsql.TableDefinitionOptionsTableNotExistOptionFail,
				IfExists: fsql.TableDefinitionOptionsTableExistsOptionAppend}})
		rdr.Release()
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	info, err := a.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"ids.parquet"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Endpoint) != parts {
		t.Fatalf("%d endpoints, want %d", len(info.Endpoint), parts)
	}
	// The endpoints are fetched in order; B dies (SIGKILL) after the first batch it
	// streams, in the middle of its first endpoint.
	ec := &endpointClients{t: t}
	bURI := "grpc://" + nodes[1].addr
	var killed bool
	kill := func(loc string) {
		if loc == bURI && !killed {
			killed = true
			if err := nodes[1].cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
		}
	}
	var union []int64
	retried := 0
	for i, ep := range info.Endpoint {
		ids, loc, err := ec.fetchEndpointHook(ctx, ep, kill)
		if err != nil {
			t.Fatalf("endpoint %d: %v", i, err)
		}
		if ep.Location[0].Uri == bURI && loc != bURI {
			retried++
		}
		union = append(union, ids...)
	}
	if !killed || retried == 0 {
		t.Fatalf("B killed %v, endpoints retried elsewhere %d: the kill was not exercised", killed, retried)
	}
	if len(union) != parts*perPart {
		t.Fatalf("%d rows after the kill, want %d", len(union), parts*perPart)
	}
	for i, id := range union {
		if id != int64(i) {
			t.Fatalf("row %d is id %d: endpoints out of order or rows lost", i, id)
		}
	}
	// B is gone; A still serves the acknowledged data.
	if n, err := sqlInt(ctx, sqlA, "SELECT count(*) FROM ids"); err != nil || n != parts*perPart {
		t.Fatalf("SQL through A after the kill: %d, %v", n, err)
	}
	t.Logf("endpoints led by the killed node and served by the other: %d of %d", retried, parts/2)
}

// drainGet reads a DoGet stream to its end and returns its error.
func drainGet(ctx context.Context, c flight.Client, ticket []byte) error {
	stream, err := c.DoGet(ctx, &flight.Ticket{Ticket: ticket})
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

// A parts ticket is client bytes: grants apply to the dataset it names, and one
// that does not decode names none and is refused before it reaches the store.
func TestPartsTicketGrants(t *testing.T) {
	srv, ctxs := grantServer(t)
	c := srv.client(t)
	payroll := wire.PartsTicket{Dataset: "payroll", Version: "v", First: 0, Count: 1}.Encode()
	sales := wire.PartsTicket{Dataset: "sales.parquet", Version: "v", First: 0, Count: 1}.Encode()
	wantStatus(t, drainGet(ctxs["sales"], c, payroll), codes.PermissionDenied, "payroll")
	wantStatus(t, drainGet(context.Background(), c, sales), codes.Unauthenticated)
	// Past the grant check, the version is checked: this one was never handed out.
	wantStatus(t, drainGet(ctxs["sales"], c, sales), codes.FailedPrecondition, "sales.parquet")
	garbled := []byte(wire.PartsTicketPrefix + `{"dataset":"sales.parquet"`)
	wantStatus(t, drainGet(ctxs["admin"], c, garbled), codes.InvalidArgument, "parts ticket")
	// A restricted grant covers no request that names no dataset.
	wantStatus(t, drainGet(ctxs["sales"], c, garbled), codes.PermissionDenied, "names no dataset")
}

// An append through one node, and nothing through the other: plain Flight on the
// other node sees it at the next request (it reads the layout per request); SQL and
// ListFlights there see it within engine.FullScanInterval, the bound of the engine's
// catalog snapshot for changes it was not told of (on object storage a dataset's
// prefix has no stamp a cheap scan could compare).
func TestOtherNodeSeesAppendsWithinBound(t *testing.T) {
	nodes := s3Nodes(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := dial(t, nodes[0].addr), dial(t, nodes[1].addr)
	sqlA, sqlB := nodeSQLClient(t, nodes[0].addr), nodeSQLClient(t, nodes[1].addr)
	rec := int64Record(memory.DefaultAllocator, "id", 0, 10)
	defer rec.Release()
	putRecords(t, a, "ids.parquet", rec.Schema(), rec)
	if n, err := sqlInt(ctx, sqlB, "SELECT count(*) FROM ids"); err != nil || n != 10 {
		t.Fatalf("SQL through B after the put through A: %d, %v", n, err)
	}
	desc := &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"ids.parquet"}}
	for round := 1; round <= 3; round++ {
		rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
		if err != nil {
			t.Fatal(err)
		}
		_, err = sqlA.ExecuteIngest(ctx, rdr, &fsql.ExecuteIngestOpts{Table: "ids",
			TableDefinitionOptions: &fsql.TableDefinitionOptions{IfNotExist: fsql.TableDefinitionOptionsTableNotExistOptionFail,
				IfExists: fsql.TableDefinitionOptionsTableExistsOptionAppend}})
		rdr.Release()
		if err != nil {
			t.Fatal(err)
		}
		acked := time.Now()
		want := int64(10 * (round + 1))
		info, err := b.GetFlightInfo(ctx, desc)
		if err != nil || info.TotalRecords != want {
			t.Fatalf("round %d: GetFlightInfo through B right after the append through A: %v rows, %v; want %d", round, info.GetTotalRecords(), err, want)
		}
		bound := engine.FullScanInterval + time.Second // the interval, and a refresh's own time
		for {
			n, err := sqlInt(ctx, sqlB, "SELECT count(*) FROM ids")
			if err != nil {
				t.Fatal(err)
			}
			if n == want {
				t.Logf("round %d: SQL through B saw the append after %v", round, time.Since(acked).Round(time.Millisecond))
				break
			}
			if time.Since(acked) > bound {
				t.Fatalf("round %d: SQL through B still counts %d rows %v after the append through A, want %d within %v", round, n, time.Since(acked), want, bound)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
