package integration

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/quiverdata/quiver/flightsql/auth"
)

// BenchmarkLoad runs many concurrent clients against the real `quiver serve` binary
// (a subprocess on 127.0.0.1:0) doing a mix of what clients do: DoPut, bulk-ingest
// appends, DoGet, SQL statements, prepared statements with bound parameters, and
// metadata (ListFlights, GetFlightInfo, GetTables, GetSqlInfo). It reports, per
// operation, the count, the errors by gRPC code (ResourceExhausted apart: that is a
// limit doing its job, not a failure), p50/p99/max latency; the total ops/s; and the
// server's memory from /proc (VmHWM, and VmRSS sampled every 100 ms).
//
// It is a benchmark so that `go test ./...` never runs it; -short skips it, and a
// duration of 0 skips it too. One run takes -load.duration whatever b.N is: with
// -benchtime=Nx (N > 1) the testing package calls it again, and that call reports
// the figures of the first run instead of loading the machine twice.
//
//	go test -tags duckdb_arrow -run '^$' -bench Load -benchtime 1x ./integration/ -load.duration=60s
//	QUIVER_LOAD_CLIENTS=16 QUIVER_LOAD_MIX=doget=1,sql=1 go test -tags duckdb_arrow -run '^$' -bench Load ./integration/
//
// Every setting is a flag, or an environment variable when the flag is not given
// (flags of this package cannot be passed to `go test ./...`, variables can).
func BenchmarkLoad(b *testing.B) {
	cfg, err := loadConfigFromFlags()
	if err != nil {
		b.Fatal(err)
	}
	if cfg.duration <= 0 {
		b.Skip("load duration is 0")
	}
	if lastLoad != nil && lastLoad.cfg.String() == cfg.String() {
		lastLoad.report(b)
		return
	}
	res := runLoad(b, cfg)
	lastLoad = res
	res.report(b)
}

// lastLoad is the result of this process's load run, reported again when the
// testing package calls BenchmarkLoad a second time with a larger b.N.
var lastLoad *loadResult

var (
	flagLoadDuration  = flag.String("load.duration", "", "BenchmarkLoad: how long the clients run (env QUIVER_LOAD_DURATION; default 60s; 0 skips)")
	flagLoadClients   = flag.String("load.clients", "", "BenchmarkLoad: concurrent clients, one connection each (env QUIVER_LOAD_CLIENTS; default 64)")
	flagLoadMix       = flag.String("load.mix", "", "BenchmarkLoad: op=weight,... (env QUIVER_LOAD_MIX; default "+defaultLoadMix+")")
	flagLoadPrincipal = flag.String("load.principals", "", "BenchmarkLoad: 0 = no auth file; N = an auth file of N write tokens, client i uses token i%N (env QUIVER_LOAD_PRINCIPALS; default 64: every client its own principal, as 64 real clients would be, so the per-client limits apply to each)")
	flagLoadServeArgs = flag.String("load.serve-args", "", "BenchmarkLoad: extra `quiver serve` arguments, space-separated (env QUIVER_LOAD_SERVE_ARGS)")
	flagLoadOrderRows = flag.String("load.orders-rows", "", "BenchmarkLoad: rows of the large dataset (env QUIVER_LOAD_ORDERS_ROWS; default 250000)")
	flagLoadTimeout   = flag.String("load.op-timeout", "", "BenchmarkLoad: deadline of one operation (env QUIVER_LOAD_OP_TIMEOUT; default 60s)")
)

// defaultLoadMix is read-heavy, as a shared dataset service is: a fifth of the
// operations change data, half read it, the rest is what tools ask on connect and
// while browsing.
const defaultLoadMix = "put=5,append=10,doget=20,sql=25,prepared=20,listflights=5,flightinfo=5,tables=5,sqlinfo=5"

// loadConfig is one load run's settings.
type loadConfig struct {
	duration   time.Duration
	clients    int
	mix        []opWeight
	principals int
	serveArgs  []string
	ordersRows int
	opTimeout  time.Duration
}

// opWeight is an operation and its share of the mix.
type opWeight struct {
	op     string
	weight int
}

func (c loadConfig) String() string {
	var mix []string
	for _, m := range c.mix {
		mix = append(mix, fmt.Sprintf("%s=%d", m.op, m.weight))
	}
	return fmt.Sprintf("duration=%v clients=%d principals=%d orders-rows=%d op-timeout=%v mix=%s serve-args=%q",
		c.duration, c.clients, c.principals, c.ordersRows, c.opTimeout, strings.Join(mix, ","), strings.Join(c.serveArgs, " "))
}

// setting is the flag's value if given, else the environment variable's, else def.
func setting(flagValue, env, def string) string {
	if flagValue != "" {
		return flagValue
	}
	if v := os.Getenv(env); v != "" {
		return v
	}
	return def
}

func loadConfigFromFlags() (loadConfig, error) {
	var cfg loadConfig
	var err error
	if cfg.duration, err = time.ParseDuration(setting(*flagLoadDuration, "QUIVER_LOAD_DURATION", "60s")); err != nil {
		return cfg, fmt.Errorf("load duration: %w", err)
	}
	if cfg.opTimeout, err = time.ParseDuration(setting(*flagLoadTimeout, "QUIVER_LOAD_OP_TIMEOUT", "60s")); err != nil || cfg.opTimeout <= 0 {
		return cfg, fmt.Errorf("load op timeout: want a positive duration (%v)", err)
	}
	ints := []struct {
		name string
		val  string
		dst  *int
		min  int
	}{
		{"clients", setting(*flagLoadClients, "QUIVER_LOAD_CLIENTS", "64"), &cfg.clients, 1},
		{"principals", setting(*flagLoadPrincipal, "QUIVER_LOAD_PRINCIPALS", "64"), &cfg.principals, 0},
		{"orders rows", setting(*flagLoadOrderRows, "QUIVER_LOAD_ORDERS_ROWS", "250000"), &cfg.ordersRows, 1000},
	}
	for _, v := range ints {
		n, err := strconv.Atoi(v.val)
		if err != nil || n < v.min {
			return cfg, fmt.Errorf("load %s %q: want an integer of at least %d", v.name, v.val, v.min)
		}
		*v.dst = n
	}
	if cfg.mix, err = parseMix(setting(*flagLoadMix, "QUIVER_LOAD_MIX", defaultLoadMix)); err != nil {
		return cfg, err
	}
	cfg.serveArgs = strings.Fields(setting(*flagLoadServeArgs, "QUIVER_LOAD_SERVE_ARGS", ""))
	return cfg, nil
}

// parseMix reads "op=weight,op=weight"; every op must be one loadOps knows.
func parseMix(s string) ([]opWeight, error) {
	var mix []opWeight
	total := 0
	for _, part := range strings.Split(s, ",") {
		op, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(w)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("load mix %q: %q is not op=weight", s, part)
		}
		if _, known := loadOps[op]; !known {
			return nil, fmt.Errorf("load mix %q: unknown op %q (known: %s)", s, op, strings.Join(loadOpNames(), ", "))
		}
		mix = append(mix, opWeight{op, n})
		total += n
	}
	if total == 0 {
		return nil, fmt.Errorf("load mix %q: every weight is 0", s)
	}
	return mix, nil
}

// pick draws an op from the mix.
func pick(mix []opWeight, rng *rand.Rand) string {
	total := 0
	for _, m := range mix {
		total += m.weight
	}
	n := rng.IntN(total)
	for _, m := range mix {
		if n < m.weight {
			return m.op
		}
		n -= m.weight
	}
	return mix[len(mix)-1].op
}

// runLoad starts the binary, creates the datasets, runs the clients for the
// configured duration and returns what was measured.
func runLoad(b *testing.B, cfg loadConfig) *loadResult {
	dir := b.TempDir()
	root := filepath.Join(dir, "root")
	args := []string{"--root", root, "--addr", "127.0.0.1:0"}
	var tokens []string
	if cfg.principals > 0 {
		var authFile string
		authFile, tokens = writeLoadAuthFile(b, dir, cfg.principals)
		args = append(args, "--auth-file", authFile)
	}
	p := startQuiver(b, dir, append(args, cfg.serveArgs...)...)
	pid := p.cmd.Process.Pid

	data := newLoadData(cfg.ordersRows)
	defer data.release()
	setupStart := time.Now()
	clients := make([]*loadClient, cfg.clients)
	for i := range clients {
		token := ""
		if len(tokens) > 0 {
			token = tokens[i%len(tokens)]
		}
		clients[i] = newLoadClient(b, i, p.addr, token, data)
	}
	if err := data.create(context.Background(), clients[0]); err != nil {
		b.Fatalf("creating the datasets: %v", err)
	}
	setupRSS, _ := readProcMemory(pid)
	b.Logf("datasets created in %v; server RSS %.1f MB", time.Since(setupStart).Round(time.Millisecond), mb(setupRSS.rss))

	sampler := startRSSSampler(pid, 100*time.Millisecond)
	serverCPU0, _ := processCPU(pid)
	clientCPU0 := selfCPU()
	b.ResetTimer()
	start := time.Now()
	deadline := start.Add(cfg.duration)
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(cfg, deadline)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	peak := sampler.stop()
	serverCPU1, err := processCPU(pid)
	if err != nil {
		b.Errorf("reading the server's CPU time: %v", err)
	}
	clientCPU := selfCPU() - clientCPU0
	end, err := readProcMemory(pid)
	if err != nil {
		b.Errorf("reading the server's memory: %v", err)
	}
	// What the server still holds once every client is idle (and after Go's
	// scavenger has had a moment): the memory that did not come back.
	time.Sleep(3 * time.Second)
	settled, _ := readProcMemory(pid)

	res := &loadResult{cfg: cfg, elapsed: elapsed, stats: map[string]*opStats{}, mem: loadMemory{
		setupRSS: setupRSS.rss, peakSampledRSS: max(peak.rss, end.rss), hwm: end.hwm, endRSS: end.rss, settledRSS: settled.rss,
	}, serverCPU: serverCPU1 - serverCPU0, clientCPU: clientCPU}
	leaks := 0
	for _, c := range clients {
		for op, s := range c.stats {
			res.merge(op, s)
		}
		if n := c.mem.CurrentAlloc(); n != 0 {
			b.Errorf("client %d still holds %d bytes of Arrow memory", c.id, n)
			if leaks++; leaks == 1 {
				c.mem.AssertSize(b, 0) // where the first leaking client allocated
			}
		}
		c.conn.close()
	}
	if err, took := p.terminate(b, 60*time.Second); err != nil {
		b.Errorf("quiver exited with %v after SIGTERM (%v)", err, took)
	}
	res.serverErrors = serverErrorLines(p.logText())
	return res
}

// loadClient is one simulated client: its own gRPC connection, its own checked
// allocator (every Arrow buffer it reads must be released by the end), its own
// random stream and its own statistics, merged at the end.
type loadClient struct {
	id    int
	conn  *loadConn
	mem   *memory.CheckedAllocator
	rng   *rand.Rand
	data  *loadData
	stats map[string]*opStats

	putDone     bool // scratch_NN.parquet exists
	appendParts int  // parts of append_NN.parquet since its last replace
}

func newLoadClient(b *testing.B, id int, addr, token string, data *loadData) *loadClient {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	return &loadClient{
		id:    id,
		conn:  dialLoad(b, addr, token, mem),
		mem:   mem,
		rng:   rand.New(rand.NewPCG(uint64(id), 0x9E3779B97F4A7C15)),
		data:  data,
		stats: map[string]*opStats{},
	}
}

// run does operations until deadline; an operation started before the deadline
// runs to its end (or its own timeout).
func (c *loadClient) run(cfg loadConfig, deadline time.Time) {
	for time.Now().Before(deadline) {
		op := pick(cfg.mix, c.rng)
		ctx, cancel := context.WithTimeout(context.Background(), cfg.opTimeout)
		start := time.Now()
		name, err := loadOps[op](ctx, c)
		took := time.Since(start)
		cancel()
		s := c.stats[name]
		if s == nil {
			s = &opStats{}
			c.stats[name] = s
		}
		s.record(took, err)
	}
}

// loadOps are the operations a client draws from. Each returns the name it is
// counted under (an append that resets its dataset counts as ingest_replace).
var loadOps = map[string]func(ctx context.Context, c *loadClient) (string, error){
	"put":         opPut,
	"append":      opAppend,
	"doget":       opDoGet,
	"sql":         opSQL,
	"prepared":    opPrepared,
	"listflights": opListFlights,
	"flightinfo":  opFlightInfo,
	"tables":      opGetTables,
	"sqlinfo":     opGetSqlInfo,
}

func loadOpNames() []string {
	var names []string
	for n := range loadOps {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// loadConn is one client's gRPC connection: the Flight SQL client, whose Client
// field is the plain Flight client on the same connection.
type loadConn struct {
	sql *fsql.Client
}

// bearerToken sends "authorization: Bearer <token>" with every call.
type bearerToken string

func (t bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}

func (bearerToken) RequireTransportSecurity() bool { return false }

func dialLoad(b *testing.B, addr, token string, mem memory.Allocator) *loadConn {
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20), grpc.MaxCallSendMsgSize(256<<20)),
	}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerToken(token)))
	}
	cl, err := fsql.NewClient(addr, nil, nil, opts...)
	if err != nil {
		b.Fatal(err)
	}
	cl.Alloc = mem
	b.Cleanup(func() { cl.Close() }) // when the run fails half-way; runLoad closes it before that
	return &loadConn{sql: cl}
}

func (c *loadConn) close() { c.sql.Close() }

// writeLoadAuthFile writes an auth file of n static write tokens and returns its
// path and the tokens.
func writeLoadAuthFile(b *testing.B, dir string, n int) (string, []string) {
	var sb strings.Builder
	tokens := make([]string, n)
	for i := range tokens {
		tok, hash, err := auth.NewToken()
		if err != nil {
			b.Fatal(err)
		}
		tokens[i] = tok
		fmt.Fprintf(&sb, "[[token]]\nname = \"load-%02d\"\ntoken_hash = %q\npermission = \"write\"\n\n", i, hash)
	}
	path := filepath.Join(dir, "auth.toml")
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	return path, tokens
}
