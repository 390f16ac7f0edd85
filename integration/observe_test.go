package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/flightsql/auth"
	"github.com/quiverdata/quiver/flightsql/observe"
)

// syncBuffer is a bytes.Buffer that the server's goroutines may log into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// observedServer is a test server with the observe interceptors, logging JSON into
// logs, its metrics and /healthz served at metricsURL, and health checking.
type observedServer struct {
	*testServer
	logs       *syncBuffer
	metricsURL string
	health     *observe.Health
}

// extra options (authentication's interceptors) come after the observer's, as in
// quiver serve.
func startObserved(t *testing.T, extra ...grpc.ServerOption) *observedServer {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	reg := prometheus.NewRegistry()
	metrics, err := observe.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	obs := observe.New(observe.Options{Logger: log, Metrics: metrics})
	health := observe.NewHealth()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	t.Cleanup(func() { mem.AssertSize(t, 0) }) // first, so it runs after the server stopped
	srv := startServerOpts(t, t.TempDir(), mem, harnessOptions{
		logger:      log,
		grpcOptions: append(obs.ServerOptions(), extra...),
		register:    health.Register,
		serving:     health.SetServing,
	})
	reg.MustRegister(observe.NewCatalogCollector(srv.Store, log))
	web := httptest.NewServer(observe.HTTPHandler(reg, health))
	t.Cleanup(web.Close)
	return &observedServer{testServer: srv, logs: logs, metricsURL: web.URL, health: health}
}

// rpcLines are the "rpc" log lines logged so far, decoded.
func (s *observedServer) rpcLines(t *testing.T) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if m["msg"] == "rpc" {
			lines = append(lines, m)
		}
	}
	return lines
}

// lastRPC is the last rpc line of method, failing the test if there is none.
func (s *observedServer) lastRPC(t *testing.T, method string) map[string]any {
	t.Helper()
	lines := s.rpcLines(t)
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i]["method"] == method {
			return lines[i]
		}
	}
	t.Fatalf("no rpc line for %s in:\n%s", method, s.logs.String())
	return nil
}

// checkLine checks fields of a log line: want's values must equal the line's (JSON
// numbers compare as float64); positive lists fields that must be numbers > 0.
func checkLine(t *testing.T, line map[string]any, want map[string]any, positive ...string) {
	t.Helper()
	for k, v := range want {
		if n, ok := v.(int); ok {
			v = float64(n)
		}
		if line[k] != v {
			t.Errorf("%s = %v (%T), want %v in %v", k, line[k], line[k], v, line)
		}
	}
	for _, k := range positive {
		if n, ok := line[k].(float64); !ok || n <= 0 {
			t.Errorf("%s = %v, want a positive number in %v", k, line[k], line)
		}
	}
	for _, k := range []string{"time", "level", "duration_ms", "peer", "code"} {
		if _, ok := line[k]; !ok {
			t.Errorf("no %s in %v", k, line)
		}
	}
	if p, _ := line["peer"].(string); !strings.HasPrefix(p, "127.0.0.1:") {
		t.Errorf("peer %q, want the client's 127.0.0.1 address", p)
	}
}

// scrape fetches /metrics.
func (s *observedServer) scrape(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(s.metricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v\n%s", resp.StatusCode, err, body)
	}
	return string(body)
}

// metricValue finds the sample series (name and labels in the exposition's order,
// which sorts labels) in a scrape.
func metricValue(t *testing.T, scrape, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(scrape, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("no series %s in the scrape:\n%s", series, grepQuiver(scrape))
	return 0
}

func grepQuiver(scrape string) string {
	var out []string
	for _, l := range strings.Split(scrape, "\n") {
		if strings.HasPrefix(l, "quiver_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// someRPCs makes the calls the log and metrics tests check: a put of 1000 rows, a
// get of them, a NotFound, a SQL query of 10 rows, a drop.
func someRPCs(t *testing.T, srv *observedServer) {
	t.Helper()
	c := srv.client(t)
	ctx := context.Background()
	putNumbers(t, c, "sales.parquet", 1000)
	_, recs := getAll(t, c, &flight.Ticket{Ticket: []byte("sales.parquet")})
	if n := len(int64s(recs, 0)); n != 1000 {
		t.Fatalf("got %d rows", n)
	}
	_, err := c.GetFlightInfo(ctx, pathDescriptor("nope.parquet"))
	if status.Code(err) != codes.NotFound {
		t.Fatalf("GetFlightInfo nope: %v", err)
	}
	sc := srv.sqlClient(t)
	info, err := sc.Execute(ctx, "SELECT id\n  FROM sales WHERE id < 10")
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := sc.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for rdr.Next() {
		rows += rdr.RecordBatch().NumRows()
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	rdr.Release()
	if rows != 10 {
		t.Fatalf("query: %d rows", rows)
	}
}

func TestRPCLogLines(t *testing.T) {
	srv := startObserved(t)
	someRPCs(t, srv)

	checkLine(t, srv.lastRPC(t, "DoPut"), map[string]any{
		"level": "INFO", "dataset": "sales.parquet", "rows_in": 1000, "rows_out": 0, "bytes_out": 0, "code": "OK",
	}, "bytes_in")
	get := srv.lastRPC(t, "DoGet")
	// The last DoGet is the query's; find the dataset's.
	for _, l := range srv.rpcLines(t) {
		if l["method"] == "DoGet" && l["dataset"] == "sales.parquet" {
			get = l
		}
	}
	checkLine(t, get, map[string]any{"dataset": "sales.parquet", "rows_out": 1000, "rows_in": 0, "code": "OK"}, "bytes_out")
	if get["bytes_out"].(float64) < 1000*8 {
		t.Errorf("bytes_out %v: fewer than the id column's 8000 bytes", get["bytes_out"])
	}

	var notFound, plan map[string]any
	for _, l := range srv.rpcLines(t) {
		if l["method"] != "GetFlightInfo" {
			continue
		}
		if l["dataset"] == "nope.parquet" {
			notFound = l
		}
		if l["command"] == "CommandStatementQuery" {
			plan = l
		}
	}
	if notFound == nil || plan == nil {
		t.Fatalf("GetFlightInfo lines missing:\n%s", srv.logs.String())
	}
	checkLine(t, notFound, map[string]any{"code": "NotFound", "level": "INFO"})
	if e, _ := notFound["error"].(string); !strings.Contains(e, "nope.parquet") {
		t.Errorf("error %q does not name the dataset", e)
	}
	if _, ok := notFound["rows_in"]; ok {
		t.Errorf("a unary call has rows: %v", notFound)
	}
	checkLine(t, plan, map[string]any{"code": "OK", "sql": "SELECT id FROM sales WHERE id < 10"})

	checkLine(t, srv.lastRPC(t, "DoGet"), map[string]any{
		"command": "TicketStatementQuery", "sql": "SELECT id FROM sales WHERE id < 10", "rows_out": 10, "code": "OK",
	}, "bytes_out")

	if err := tryDrop(srv.client(t), "sales.parquet"); err != nil {
		t.Fatal(err)
	}
	checkLine(t, srv.lastRPC(t, "DoAction"), map[string]any{"action": "drop_dataset", "dataset": "sales.parquet", "code": "OK"})
}

func tryDrop(c flight.Client, name string) error {
	stream, err := c.DoAction(context.Background(), &flight.Action{Type: "drop_dataset", Body: []byte(name)})
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

func TestRPCLogsNoSecrets(t *testing.T) {
	srv := startObserved(t)
	c := srv.client(t)
	const password, token = "pa55-w0rd-xyzzy", "t0ken-plugh"
	// A Basic login (Handshake payload and header), and a bearer token on a call.
	_, _ = c.AuthenticateBasicToken(context.Background(), "alice", password)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
	_, _ = c.GetFlightInfo(ctx, pathDescriptor("x.parquet"))
	logs := srv.logs.String()
	if strings.Contains(logs, password) || strings.Contains(logs, token) || strings.Contains(strings.ToLower(logs), "authorization") {
		t.Fatalf("a secret reached the log:\n%s", logs)
	}
	srv.lastRPC(t, "Handshake")
	srv.lastRPC(t, "GetFlightInfo")
}

// TestRPCLogsWithAuthentication: calls that authentication refuses are logged and
// counted too, and neither passwords nor tokens reach the log.
func TestRPCLogsWithAuthentication(t *testing.T) {
	hash, err := auth.HashPassword("pw-reader-secret", 4)
	if err != nil {
		t.Fatal(err)
	}
	token, tokenHash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(&auth.File{
		Users:  []auth.UserEntry{{Name: "reader", PasswordHash: hash, Permission: "read"}},
		Tokens: []auth.TokenEntry{{Name: "dash", TokenHash: tokenHash, Permission: "read"}},
	}, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	principal := observe.AttrsInterceptors(func(ctx context.Context) []slog.Attr {
		if p, ok := auth.FromContext(ctx); ok {
			return []slog.Attr{slog.String("principal", p.Name)}
		}
		return nil
	})
	srv := startObserved(t, append(auth.NewGuard(a, nil).ServerOptions(), principal...)...)
	c := srv.client(t)
	ctx := context.Background()

	if _, err := c.GetFlightInfo(ctx, pathDescriptor("sales.parquet")); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no credentials: %v", err)
	}
	checkLine(t, srv.lastRPC(t, "GetFlightInfo"), map[string]any{"dataset": "sales.parquet", "code": "Unauthenticated"})

	if _, err := c.AuthenticateBasicToken(ctx, "reader", "pw-reader-secret"); err != nil {
		t.Fatalf("login: %v", err)
	}
	// The guard answers a Basic login itself (and logs it); the call is logged too.
	checkLine(t, srv.lastRPC(t, "Handshake"), map[string]any{"code": "OK"})

	tctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	if _, err := c.GetFlightInfo(tctx, pathDescriptor("sales.parquet")); status.Code(err) != codes.NotFound {
		t.Fatalf("with a token: %v", err)
	}
	checkLine(t, srv.lastRPC(t, "GetFlightInfo"), map[string]any{"dataset": "sales.parquet", "code": "NotFound", "principal": "token dash"})

	logs := srv.logs.String()
	if strings.Contains(logs, "pw-reader-secret") || strings.Contains(logs, token) {
		t.Fatalf("a secret reached the log:\n%s", logs)
	}
	m := srv.scrape(t)
	if got := metricValue(t, m, `quiver_rpc_requests_total{code="Unauthenticated",method="GetFlightInfo"}`); got != 1 {
		t.Errorf("Unauthenticated GetFlightInfo counted %v times, want 1", got)
	}
}

func TestMetricsAfterRPCs(t *testing.T) {
	srv := startObserved(t)
	someRPCs(t, srv)
	m := srv.scrape(t)
	for series, want := range map[string]float64{
		`quiver_rpc_requests_total{code="OK",method="DoPut"}`:                        1,
		`quiver_rpc_requests_total{code="NotFound",method="GetFlightInfo"}`:          1,
		`quiver_rpc_requests_total{code="OK",method="GetFlightInfo"}`:                1,
		`quiver_rpc_requests_total{code="OK",method="DoGet"}`:                        2,
		`quiver_rpc_duration_seconds_count{code="OK",method="DoGet"}`:                2,
		`quiver_flight_data_rows_total{direction="in",method="DoPut"}`:               1000,
		`quiver_flight_data_rows_total{direction="out",method="DoGet"}`:              1010,
		`quiver_flight_data_rows_total{direction="out",method="DoPut"}`:              0,
		`quiver_query_duration_seconds_count{code="OK",kind="statement"}`:            1,
		`quiver_rpc_active_streams{method="DoGet"}`:                                  0,
		`quiver_rpc_active_streams{method="DoPut"}`:                                  0,
		`quiver_catalog_datasets`:                                                    1,
		`quiver_catalog_rows`:                                                        1000,
		`quiver_query_duration_seconds_bucket{code="OK",kind="statement",le="+Inf"}`: 1,
	} {
		if got := metricValue(t, m, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	for _, series := range []string{
		`quiver_flight_data_bytes_total{direction="in",method="DoPut"}`,
		`quiver_flight_data_bytes_total{direction="out",method="DoGet"}`,
		`quiver_catalog_bytes`,
	} {
		if got := metricValue(t, m, series); got <= 0 {
			t.Errorf("%s = %v, want > 0", series, got)
		}
	}
}

// TestMetricsDuringUpload scrapes while a DoPut is still open: the stream is active
// and the rows it sent so far are already counted.
func TestMetricsDuringUpload(t *testing.T) {
	srv := startObserved(t)
	c := srv.client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := c.DoPut(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := constantRecord(500, 7)
	defer rec.Release()
	w := flight.NewRecordWriter(stream, ipc.WithSchema(rec.Schema()))
	w.SetFlightDescriptor(pathDescriptor("slow.parquet"))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		m := srv.scrape(t)
		return strings.Contains(m, `quiver_flight_data_rows_total{direction="in",method="DoPut"} 500`) &&
			strings.Contains(m, `quiver_rpc_active_streams{method="DoPut"} 1`)
	})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := stream.Recv(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
	}
	waitFor(t, func() bool {
		return strings.Contains(srv.scrape(t), `quiver_rpc_active_streams{method="DoPut"} 0`)
	})
}

func TestHealthServingThenNotServing(t *testing.T) {
	srv := startObserved(t)
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, service := range []string{"", "arrow.flight.protocol.FlightService"} {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("Check(%q): %v %v, want SERVING", service, resp.GetStatus(), err)
		}
	}
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("Check(nope): %v, want NotFound", err)
	}
	watch, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch: %v %v, want SERVING", resp.GetStatus(), err)
	}
	if code := httpStatus(t, srv.metricsURL+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while serving: %d", code)
	}

	srv.health.Shutdown()
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Watch after shutdown: %v %v, want NOT_SERVING", resp.GetStatus(), err)
	}
	// The Watch ends, so that it does not hold up a graceful stop.
	if _, err := watch.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("Watch after NOT_SERVING: %v, want the end of the stream", err)
	}
	resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Check after shutdown: %v %v, want NOT_SERVING", resp.GetStatus(), err)
	}
	if code := httpStatus(t, srv.metricsURL+"/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz while shutting down: %d, want 503", code)
	}
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
