package console

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHostileInput(t *testing.T) {
	e := newEnv(t, envOptions{queryTimeout: 500 * time.Millisecond})
	c := e.client()
	huge := `{"sql":"SELECT '` + strings.Repeat("x", 2<<20) + `'"}`
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
		mention                  []string
	}{
		{"huge body", "POST", "/api/query", huge, 400, "InvalidArgument", []string{"larger than"}},
		{"invalid JSON", "POST", "/api/query", `{"sql": "SELECT 1"`, 400, "InvalidArgument", []string{"JSON"}},
		{"not an object", "POST", "/api/query", `["SELECT 1"]`, 400, "InvalidArgument", []string{"JSON"}},
		{"unknown field", "POST", "/api/query", `{"sql":"SELECT 1","rows":5}`, 400, "InvalidArgument", []string{"rows"}},
		{"two objects", "POST", "/api/query", `{"sql":"SELECT 1"}{"sql":"SELECT 2"}`, 400, "InvalidArgument", []string{"after the JSON"}},
		{"empty SQL", "POST", "/api/query", `{"sql":"  "}`, 400, "InvalidArgument", []string{"empty"}},
		{"limit 0", "POST", "/api/query", `{"sql":"SELECT 1","limit":0}`, 400, "InvalidArgument", []string{"limit"}},
		{"limit too large", "POST", "/api/query", `{"sql":"SELECT 1","limit":10001}`, 400, "InvalidArgument", []string{"limit"}},
		{"syntax error", "POST", "/api/query", `{"sql":"SELEC 1"}`, 400, "InvalidArgument", []string{"syntax"}},
		{"no such table", "POST", "/api/query", `{"sql":"SELECT * FROM nope"}`, 400, "InvalidArgument", []string{"nope"}},
		{"a write", "POST", "/api/query", `{"sql":"COPY sales TO 'x.parquet'"}`, 403, "PermissionDenied", []string{"COPY"}},
		{"a drop", "POST", "/api/query", `{"sql":"DROP VIEW sales"}`, 403, "PermissionDenied", []string{"DROP"}},
		{"two statements", "POST", "/api/query", `{"sql":"SELECT 1; CREATE TABLE t AS SELECT 1"}`, 403, "PermissionDenied", nil},
		{"a file outside", "POST", "/api/query", `{"sql":"SELECT * FROM read_csv('/etc/passwd')"}`, 403, "PermissionDenied", nil},
		{"over the time limit", "POST", "/api/query", `{"sql":"SELECT count(*) FROM range(100000000000) a"}`, 504, "DeadlineExceeded", nil},
		{"negative offset", "GET", "/api/datasets/sales.parquet/rows?offset=-1", "", 400, "InvalidArgument", []string{"offset"}},
		{"offset not a number", "GET", "/api/datasets/sales.parquet/rows?offset=1e3", "", 400, "InvalidArgument", []string{"offset"}},
		{"limit over the page cap", "GET", "/api/datasets/sales.parquet/rows?limit=1001", "", 400, "InvalidArgument", []string{"limit"}},
		{"limit 0 rows", "GET", "/api/datasets/sales.parquet/rows?limit=0", "", 400, "InvalidArgument", []string{"limit"}},
		{"bad dataset name", "GET", "/api/datasets/.hidden", "", 400, "InvalidArgument", nil},
		{"wrong method", "DELETE", "/api/datasets/sales.parquet", "", 404, "NotFound", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(tc.method, tc.path, tc.body)
			if tc.status == 404 && r.status == http.StatusMethodNotAllowed {
				return // the mux's own answer to a wrong method is fine too
			}
			wantError(t, r, tc.status, tc.code, tc.mention...)
		})
	}
	// An offset past the end is no error: no rows.
	r := c.do("GET", "/api/datasets/sales.parquet/rows?offset=4611686018427387904", "")
	if r.status != 200 || !strings.Contains(string(r.body), `"rows":[]`) {
		t.Fatalf("far offset: %d %s", r.status, r.body)
	}
	// The server still serves, and nothing is left open.
	if r := c.do("POST", "/api/query", `{"sql":"SELECT count(*) FROM sales"}`); r.status != 200 {
		t.Fatalf("after the hostile input: %d %s", r.status, r.body)
	}
	waitIdle(t, e)
}

// waitIdle waits until the service has no stream or query open: every request of the
// console gave back its slots.
func waitIdle(t *testing.T, e *env) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		a := e.svc.Activity()
		if a.Streams == 0 && a.Queries == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still open: %+v", a)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDownloadLimitCutsTheStream(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *Config) { c.MaxDownloadBytes = 1 << 20 }})
	c := e.client()
	// Under the limit: whole.
	r := c.do("POST", "/api/query?format=csv", `{"sql":"SELECT range AS i FROM range(1000)"}`)
	if r.status != 200 || strings.Count(string(r.body), "\n") != 1001 {
		t.Fatalf("small download: %d, %d lines", r.status, strings.Count(string(r.body), "\n"))
	}
	// Over it: the connection is cut, so the client cannot take a short file for the
	// whole result.
	for _, f := range []string{"csv", "arrow", "parquet"} {
		req, _ := http.NewRequest("POST", e.srv.URL+"/api/query?format="+f, strings.NewReader(`{"sql":"SELECT range AS i, repeat('x', 100) AS s FROM range(200000)"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			continue // cut before the headers: fine too
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("%s: a download over the limit was read whole without an error", f)
		}
	}
	waitIdle(t, e)
	if r := c.do("POST", "/api/query", `{"sql":"SELECT 1"}`); r.status != 200 {
		t.Fatalf("after the cut downloads: %d %s", r.status, r.body)
	}
}

func TestConcurrentQueriesShareTheLimits(t *testing.T) {
	e := newEnv(t, envOptions{})
	var wg sync.WaitGroup
	errs := make(chan string, 32)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := fmt.Sprintf(`{"sql":"SELECT sum(range) AS s FROM range(%d)"}`, 1000+i)
			req, _ := http.NewRequest("POST", e.srv.URL+"/api/query", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			// Over the per-client limits a request is refused with 429, never crashes.
			if resp.StatusCode != 200 && resp.StatusCode != 429 {
				errs <- fmt.Sprintf("%d %s", resp.StatusCode, b)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	waitIdle(t, e)
}

// TestResultBudgetReturned runs many queries under a result memory budget that holds
// a few of their results: each must give its share back (JSON, downloads, cut
// downloads and failed ones alike), or the later ones would wait for room forever.
func TestResultBudgetReturned(t *testing.T) {
	e := newEnv(t, envOptions{resultMemory: 256 << 10, config: func(c *Config) { c.MaxDownloadBytes = 1 << 20 }})
	hc := *e.srv.Client()
	hc.Timeout = 20 * time.Second
	const sql = `{"sql":"SELECT range AS i, repeat('x', 100) AS s FROM range(5000)"}`
	const big = `{"sql":"SELECT range AS i, repeat('x', 100) AS s FROM range(20000)"}`
	for i := 0; i < 4; i++ {
		for _, f := range []string{"json", "csv", "arrow", "parquet"} {
			for _, body := range []string{sql, big} {
				req, _ := http.NewRequest("POST", e.srv.URL+"/api/query?format="+f, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					if strings.Contains(err.Error(), "Timeout") {
						t.Fatalf("round %d, %s: %v (the result budget was not given back)", i, f, err)
					}
					continue
				}
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil && strings.Contains(err.Error(), "Timeout") {
					t.Fatalf("round %d, %s: %v (the result budget was not given back)", i, f, err)
				}
				if body == sql && (resp.StatusCode != 200 || err != nil) {
					t.Fatalf("round %d, %s: %d %v", i, f, resp.StatusCode, err)
				}
			}
		}
	}
	waitIdle(t, e)
}
