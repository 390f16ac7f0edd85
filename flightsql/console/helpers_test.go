package console

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql"
	"github.com/quiverdata/quiver/flightsql/auth"
	"github.com/quiverdata/quiver/flightsql/engine"
)

// testPassword is every test user's password.
const testPassword = "s3cret-pass"

// testToken is the static token of the auth file (read, every dataset).
const testToken = "qv-static-token-for-scripts"

// env is a console in front of a real store, engine and Flight SQL service.
type env struct {
	t       *testing.T
	srv     *httptest.Server
	console *Server
	store   *catalog.Store
	svc     *flightsql.Service
	guard   *auth.Guard
	file    *auth.File
}

type envOptions struct {
	auth         bool
	tls          bool
	queryTimeout time.Duration
	resultMemory int64 // flightsql.ResultLimits.MemoryLimit
	login        auth.LoginLimits
	config       func(*Config)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testAuthFile has alice (read, datasets sales*), bob (read, every dataset) and the
// static token testToken (read, every dataset).
func testAuthFile(t *testing.T) *auth.File {
	t.Helper()
	hash, err := auth.HashPassword(testPassword, 4)
	if err != nil {
		t.Fatal(err)
	}
	return &auth.File{
		Users: []auth.UserEntry{
			{Name: "alice", PasswordHash: hash, Permission: "read", Datasets: []string{"sales*"}},
			{Name: "bob", PasswordHash: hash, Permission: "read"},
		},
		Tokens: []auth.TokenEntry{{Name: "script", TokenHash: auth.HashToken(testToken), Permission: "read"}},
	}
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	log := quietLogger()
	store, err := catalog.Open(t.TempDir(), catalog.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // stops the converter of landed puts
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	svc, err := flightsql.NewService(ctx, flightsql.ServiceConfig{
		Store: store, Logger: log, Version: "test", Allocator: mem,
		Engine:  engine.Config{Threads: 1, QueryTimeout: o.queryTimeout},
		Results: flightsql.ResultLimits{MemoryLimit: o.resultMemory},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		svc.Close()
		// What the console's writers allocate went back.
		mem.AssertSize(t, 0)
	})
	e := &env{t: t, store: store, svc: svc}
	putSales(t, store)
	putSecret(t, store)
	if o.auth {
		e.file = testAuthFile(t)
		a, err := auth.New(e.file, auth.Options{Logger: log, Login: o.login})
		if err != nil {
			t.Fatal(err)
		}
		e.guard = auth.NewGuard(a, log)
		e.guard.SetTableReader(svc.SQL)
	}
	cfg := Config{Service: svc, Store: store, Guard: e.guard, Logger: log, Version: "test", Secure: o.tls}
	if o.config != nil {
		o.config(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.console = c
	hs := httptest.NewUnstartedServer(c)
	if o.tls {
		hs.StartTLS()
	} else {
		hs.Start()
	}
	t.Cleanup(hs.Close)
	e.srv = hs
	return e
}

// putSales stores sales.parquet: 5 rows of id, region, amount, big (past 2^53).
func putSales(t *testing.T, store *catalog.Store) {
	t.Helper()
	mem := memory.DefaultAllocator
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "big", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 3, 4, 5}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"north", "south", "", "east", "west \"quoted\", comma"}, []bool{true, true, false, true, true})
	b.Field(2).(*array.Float64Builder).AppendValues([]float64{1.5, 2.25, 0, -4, 1e10}, []bool{true, true, false, true, true})
	b.Field(3).(*array.Int64Builder).AppendValues([]int64{1 << 60, 7, 8, 9, -(1 << 60)}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	put(t, store, "sales.parquet", rec)
}

// putSecret stores secret.parquet, which alice's grant does not cover.
func putSecret(t *testing.T, store *catalog.Store) {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{{Name: "salary", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{100, 200}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	put(t, store, "secret.parquet", rec)
}

func put(t *testing.T, store *catalog.Store, name string, rec arrow.RecordBatch) {
	t.Helper()
	rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	if _, err := store.Put(context.Background(), name, catalog.Create, rdr); err != nil {
		t.Fatal(err)
	}
}

// client is a browser-like client: it keeps cookies and the CSRF token.
type client struct {
	e      *env
	hc     *http.Client
	csrf   string
	header http.Header // added to every request
}

func (e *env) client() *client {
	jar := newJar()
	hc := *e.srv.Client() // a copy: the server's client is shared
	hc.Jar = jar
	return &client{e: e, hc: &hc, header: http.Header{}}
}

// response is an answer read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (c *client) do(method, path string, body string, hdr ...string) response {
	c.e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.e.srv.URL+path, rd)
	if err != nil {
		c.e.t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.csrf != "" && method == http.MethodPost {
		req.Header.Set(csrfHeader, c.csrf)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.e.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// login logs c in as user and keeps the CSRF token.
func (c *client) login(user string) {
	c.e.t.Helper()
	r := c.do("POST", "/api/login", `{"user":"`+user+`","password":"`+testPassword+`"}`)
	if r.status != 200 {
		c.e.t.Fatalf("login %s: %d %s", user, r.status, r.body)
	}
	var out struct {
		User      string `json:"user"`
		CSRFToken string `json:"csrf_token"`
	}
	decode(c.e.t, r, &out)
	c.csrf = out.CSRFToken
}

func basic(user string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+testPassword))
}

func decode(t *testing.T, r response, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// wantError checks an error answer: its status, its JSON code and words in its message.
func wantError(t *testing.T, r response, status int, code string, mention ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	var body errorBody
	decode(t, r, &body)
	if body.Error.Code != code {
		t.Fatalf("error code %q, want %q: %s", body.Error.Code, code, r.body)
	}
	for _, m := range mention {
		if !strings.Contains(body.Error.Message, m) {
			t.Fatalf("error message %q does not mention %q", body.Error.Message, m)
		}
	}
}

var _ = tls.VersionTLS12
