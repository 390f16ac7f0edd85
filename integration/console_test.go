package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/flightsql/auth"
	"github.com/quiverdata/quiver/flightsql/console"
)

// consoleServer starts an authenticated Flight server (tokens "sales": read on
// sales*, "admin": admin) over sales.parquet (ids 1-3) and payroll (ids 7-8), and
// the web console over the same service and Guard.
func consoleServer(t *testing.T) (srv *testServer, web *httptest.Server, tokens map[string]string) {
	t.Helper()
	f := &auth.File{}
	tokens = map[string]string{}
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
	guard := auth.NewGuard(a, nil)
	root := t.TempDir()
	writeParquetFile(t, filepath.Join(root, "sales.parquet"), events(t, 1, 2, 3))
	writeParquetFile(t, filepath.Join(root, "payroll"), events(t, 7, 8))
	srv = startServerOpts(t, root, memory.DefaultAllocator, harnessOptions{guard: guard})
	c, err := console.New(console.Config{Service: srv.Service, Store: srv.Store, Guard: guard, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	web = httptest.NewServer(c)
	t.Cleanup(web.Close)
	return srv, web, tokens
}

// consoleCall calls the console's API with a bearer token.
func consoleCall(t *testing.T, web *httptest.Server, token, method, path, body, accept string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, web.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := web.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func recordRows(recs []arrow.RecordBatch) []string {
	var out []string
	for _, rec := range recs {
		for i := 0; i < int(rec.NumRows()); i++ {
			var cells []string
			for _, col := range rec.Columns() {
				cells = append(cells, col.ValueStr(i))
			}
			out = append(out, strings.Join(cells, "|"))
		}
	}
	return out
}

// TestConsoleBesideFlight checks that the console and the Flight port are one server:
// a dataset put over Flight is listed by the console at once, a query gives the same
// rows over Flight SQL and over the console's Arrow API, and a restricted grant is
// refused the same tables with the same words on both.
func TestConsoleBesideFlight(t *testing.T) {
	srv, web, tokens := consoleServer(t)
	ctx := context.Background()
	admin := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tokens["admin"])
	sales := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tokens["sales"])

	// Put over Flight, list over HTTP.
	cl := srv.client(t)
	if err := rawPut(admin, cl, ipcMessages(t, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"sales-2025.parquet"}}, eventSchema, events(t, 4, 5))...); err != nil {
		t.Fatal(err)
	}
	code, body := consoleCall(t, web, tokens["sales"], "GET", "/api/datasets", "", "")
	var list struct {
		Datasets []struct {
			Name string `json:"name"`
			Rows int64  `json:"rows"`
		} `json:"datasets"`
	}
	if err := json.Unmarshal(body, &list); code != 200 || err != nil {
		t.Fatalf("list: %d %s", code, body)
	}
	var names []string
	for _, d := range list.Datasets {
		names = append(names, fmt.Sprintf("%s:%d", d.Name, d.Rows))
	}
	if strings.Join(names, ",") != "sales-2025.parquet:2,sales.parquet:3" {
		t.Fatalf("the sales grant lists %v over the console", names)
	}

	// The same rows over Flight SQL and the console.
	sqlc, err := fsql.NewClient(srv.Addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer sqlc.Close()
	const q = "SELECT * FROM sales UNION ALL SELECT * FROM \"sales-2025\" ORDER BY 1"
	recs, err := fetchSQL(sales, sqlc, q)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	want := recordRows(recs)
	code, body = consoleCall(t, web, tokens["sales"], "POST", "/api/query", `{"sql":`+mustQuote(q)+`}`, "application/vnd.apache.arrow.stream")
	if code != 200 {
		t.Fatalf("console query: %d %s", code, body)
	}
	rdr, err := ipc.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	var got []string
	for rdr.Next() {
		got = append(got, recordRows([]arrow.RecordBatch{rdr.RecordBatch()})...)
	}
	if len(want) != 5 || !slices.Equal(got, want) {
		t.Fatalf("console rows %v, Flight SQL rows %v", got, want)
	}

	// The same refusal on both doors.
	_, ferr := fetchSQL(sales, sqlc, "SELECT * FROM payroll")
	if status.Code(ferr) != codes.PermissionDenied {
		t.Fatalf("Flight SQL: %v", ferr)
	}
	code, body = consoleCall(t, web, tokens["sales"], "POST", "/api/query", `{"sql":"SELECT * FROM payroll"}`, "")
	const words = `table "payroll" is not a dataset the grant covers`
	var e struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal(body, &e)
	if code != 403 || e.Error.Code != "PermissionDenied" || !strings.Contains(e.Error.Message, words) || !strings.Contains(status.Convert(ferr).Message(), words) {
		t.Fatalf("console: %d %s; Flight SQL: %v", code, body, ferr)
	}
	code, body = consoleCall(t, web, tokens["sales"], "GET", "/api/datasets/payroll/rows", "", "")
	if code != 403 || !strings.Contains(string(body), "PermissionDenied") {
		t.Fatalf("preview of payroll: %d %s", code, body)
	}
	// The admin sees it all.
	code, body = consoleCall(t, web, tokens["admin"], "GET", "/api/datasets/payroll/rows", "", "")
	if code != 200 || !strings.Contains(string(body), `"total":2`) {
		t.Fatalf("admin's preview of payroll: %d %s", code, body)
	}
}

func mustQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
