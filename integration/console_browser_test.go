package integration

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// browserAPI calls the console's HTTP API from Go, as a script would, to compare
// what the page shows and saves with what the API returns.
type browserAPI struct {
	base       string
	client     *http.Client
	user, pass string // Basic auth when set
	csrf       string // the session's CSRF token otherwise
}

func newBrowserAPI(t *testing.T, base, user, pass string) *browserAPI {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &browserAPI{base: base, client: &http.Client{Jar: jar}, user: user, pass: pass}
	if user == "" {
		var s struct {
			CSRF *string `json:"csrf_token"`
		}
		c.get(t, "/api/session", &s)
		if s.CSRF != nil {
			c.csrf = *s.CSRF
		}
	}
	return c
}

func (c *browserAPI) do(t *testing.T, method, path, accept string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", accept)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	} else if method != http.MethodGet {
		req.Header.Set("Origin", c.base)
		if c.csrf != "" {
			req.Header.Set("X-Quiver-CSRF", c.csrf)
		}
	}
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return resp.StatusCode, data
}

func (c *browserAPI) get(t *testing.T, path string, into any) {
	t.Helper()
	code, data := c.do(t, http.MethodGet, path, "application/json", nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, data)
	}
	if err := json.Unmarshal(data, into); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, data)
	}
}

// query posts sql to /api/query and returns the body in the format accept names.
func (c *browserAPI) query(t *testing.T, sql, accept string) []byte {
	t.Helper()
	code, data := c.do(t, http.MethodPost, "/api/query", accept, map[string]any{"sql": sql})
	if code != http.StatusOK {
		t.Fatalf("POST /api/query %q (%s): %d %s", sql, accept, code, data)
	}
	return data
}

const browserGroupSQL = `SELECT city, count(*) AS n, sum(amount) AS total FROM sales GROUP BY city ORDER BY city`

// checkConsolePages walks every page of the console as a user who may read sales.parquet,
// checking what is rendered against the seed, and saves a screenshot of each.
func checkConsolePages(t *testing.T, b *consoleBrowser, api *browserAPI) {
	t.Helper()

	// The datasets list and its filter.
	b.open("#/datasets", "datasets")
	rows := b.cells("#datasets-table")
	if len(rows) == 0 || rows[len(rows)-1][0] != "sales.parquet" || rows[len(rows)-1][1] != "120" || rows[len(rows)-1][3] != "3" || rows[len(rows)-1][4] != "1" {
		t.Fatalf("datasets list = %q, want sales.parquet last with 120 rows, 3 columns, 1 part", rows)
	}
	b.screenshot("datasets")
	b.do("filter", chromedp.SendKeys(chromedp.ID("filter"), "sal"))
	if rows := b.cells("#datasets-table"); len(rows) != 1 || rows[0][0] != "sales.parquet" {
		t.Fatalf("filtered by \"sal\": %q, want only sales.parquet", rows)
	}
	if got := b.text("#dataset-count"); !strings.HasPrefix(got, "1 of ") {
		t.Errorf("filter count = %q, want 1 of N", got)
	}

	// One dataset: schema, statistics, rows paged.
	b.click(`#datasets-table a[href="#/datasets/sales.parquet"]`, "dataset")
	schema := b.cells("#schema-table")
	wantTable(t, "schema (name, type, nullable)", leadingCells(schema), [][]string{{"id", "BIGINT", "yes"}, {"city", "VARCHAR", "yes"}, {"amount", "DOUBLE", "yes"}})
	if id := schema[0]; id[3] != "0" || id[4] != "1" || id[5] != "120" {
		t.Errorf("stats of id = %q, want 0 nulls, min 1, max 120", id)
	}
	if city := schema[1]; city[4] != "Berlin" || city[5] != "Rome" {
		t.Errorf("stats of city = %q, want min Berlin, max Rome", city)
	}
	page := b.cells("#rows-table")
	if len(page) != 50 || !rowIs(page[0], "1", "Berlin", "0") || !rowIs(page[49], "50", "Rome", "22.5") {
		t.Fatalf("first page: %d rows, first %q, last %q; want 50 rows from 1 Berlin 0 to 50 Rome 22.5", len(page), firstRow(page), lastRow(page))
	}
	if got := b.text("#rows-range"); got != "1–50 of 120" {
		t.Errorf("rows range = %q, want 1–50 of 120", got)
	}
	b.screenshot("dataset")
	b.click("#rows-next", "dataset")
	if got := b.text("#rows-range"); got != "51–100 of 120" {
		t.Errorf("rows range after Next = %q, want 51–100 of 120", got)
	}
	if page := b.cells("#rows-table"); len(page) != 50 || page[0][0] != "51" {
		t.Errorf("second page: %d rows starting %q, want 50 from 51", len(page), firstRow(page))
	}

	// "Query in SQL" opens the editor on the dataset; Run runs it.
	b.click("#query-dataset", "sql")
	if sql := pageEval[string](b, `document.getElementById("sql-editor").value`); sql != `SELECT * FROM "sales" LIMIT 100` {
		t.Errorf("Query in SQL fills the editor with %q", sql)
	}
	b.click("#run", "sql")
	if n := len(b.cells("#result-table")); n != 100 || b.text("#row-count") != "100" {
		t.Errorf("SELECT * FROM sales LIMIT 100 shows %d rows, count %q; want 100", n, b.text("#row-count"))
	}

	// A result longer than the chosen limit says so.
	b.setSelect("sql-limit", "100")
	b.runSQL(`SELECT * FROM sales ORDER BY id`)
	if n := len(b.cells("#result-table")); n != 100 || !strings.Contains(b.text("#result-meta"), "more rows not shown") {
		t.Errorf("120 rows at limit 100: %d shown, meta %q; want 100 and a truncation note", n, b.text("#result-meta"))
	}
	b.setSelect("sql-limit", "1000")

	// SQL: the result table matches /api/query, the row count and timing show.
	b.runSQL(browserGroupSQL)
	var want struct {
		Rows     [][]any `json:"rows"`
		RowCount int     `json:"row_count"`
	}
	if err := json.Unmarshal(api.query(t, browserGroupSQL, "application/json"), &want); err != nil {
		t.Fatal(err)
	}
	got := b.cells("#result-table")
	wantTable(t, "query result", got, [][]string{
		{"Berlin", "24", "1050"}, {"Lisbon", "24", "1110"}, {"Oslo", "24", "1170"}, {"Paris", "24", "1230"}, {"Rome", "24", "1290"},
	})
	if want.RowCount != 5 || len(want.Rows) != 5 {
		t.Errorf("/api/query: row_count %d, %d rows; want 5", want.RowCount, len(want.Rows))
	}
	if meta := b.text("#result-meta"); !strings.HasPrefix(meta, "5 rows in ") || !strings.Contains(meta, " ms") {
		t.Errorf("result meta = %q, want \"5 rows in N ms\"", meta)
	}

	// Charts: a bar per city, a line through five points, a histogram of 120 values.
	if n, sum := b.chartBars(); n != 5 || sum != 1050+1110+1170+1230+1290 {
		t.Errorf("bar chart: %d bars summing to %v, want 5 summing to 5850", n, sum)
	}
	b.screenshot("sql-bar-chart")
	b.setSelect("chart-kind", "line")
	if pts := pageEval[int](b, `document.querySelectorAll("#chart svg circle.point").length`); pts != 5 {
		t.Errorf("line chart: %d points, want 5", pts)
	}

	// Download as CSV: the file saved equals what /api/query returns for text/csv.
	csv := b.download("download-csv")
	if wantCSV := api.query(t, browserGroupSQL, "text/csv"); !bytes.Equal(csv, wantCSV) || !bytes.HasPrefix(csv, []byte("city,n,total")) {
		t.Errorf("downloaded CSV:\n%s\nwant (from /api/query):\n%s", csv, wantCSV)
	}

	// Parquet and Arrow downloads are whole files of their format with every row.
	pq := b.download("download-parquet")
	if pr, err := file.NewParquetReader(bytes.NewReader(pq)); err != nil || pr.NumRows() != 5 {
		t.Errorf("the Parquet download (%d bytes): %v, want a Parquet file of 5 rows", len(pq), err)
	}
	if rows, err := arrowStreamRows(b.download("download-arrows")); err != nil || rows != 5 {
		t.Errorf("the Arrow download: %d rows, %v; want an Arrow IPC stream of 5 rows", rows, err)
	}

	b.runSQL(`SELECT amount FROM sales`)
	b.setSelect("chart-kind", "histogram")
	if n, sum := b.chartBars(); n != 20 || sum != 120 {
		t.Errorf("histogram: %d bins counting %v values, want 20 bins counting 120", n, sum)
	}
	b.screenshot("sql-histogram")

	// A line over a numeric X runs left to right in X order, whatever the row order.
	b.runSQL(`SELECT id, amount FROM sales ORDER BY id DESC LIMIT 10`)
	b.setSelect("chart-kind", "line")
	b.setSelect("chart-x", "0")
	b.setSelect("chart-y", "1")
	xs := pageEval[[]float64](b, `[...document.querySelectorAll("#chart svg circle.point")].map(c => Number(c.getAttribute("cx")))`)
	ids := pageEval[[]string](b, `[...document.querySelectorAll("#chart svg circle.point title")].map(t => t.textContent.split(":")[0])`)
	if len(xs) != 10 || !slices.IsSorted(xs) || ids[0] != "111" || ids[9] != "120" {
		t.Errorf("line over id: x positions %v for ids %q, want 10 increasing from 111 to 120", xs, ids)
	}

	// Data is text, never markup.
	b.runSQL(`SELECT '<img src=x id=injected>' AS html`)
	if got := b.cells("#result-table"); len(got) != 1 || got[0][0] != "<img src=x id=injected>" {
		t.Errorf("markup in a value rendered as %q", got)
	}
	if n := pageEval[int](b, `document.querySelectorAll("#injected").length`); n != 0 {
		t.Errorf("a value's markup became an element")
	}

	// Errors show the code and the server's message.
	b.runSQL(`SELEC 1`)
	if msg := b.text("#query-error"); !strings.HasPrefix(msg, "InvalidArgument: ") {
		t.Errorf("bad SQL shows %q, want InvalidArgument: ...", msg)
	}
	b.runSQL(`DROP VIEW sales`)
	if msg := b.text("#query-error"); !strings.HasPrefix(msg, "PermissionDenied: ") {
		t.Errorf("a write shows %q, want PermissionDenied: ...", msg)
	}
	b.screenshot("sql-error")

	// Status.
	b.open("#/status", "status")
	status := pageEval[map[string]string](b, `Object.fromEntries([...document.querySelectorAll("#status dd")].map(d => [d.dataset.key, d.textContent]))`)
	if status["Version"] == "" || status["Uptime"] == "" || status["Open streams"] == "" || status["Queries running"] == "" {
		t.Errorf("status page = %q, want version, uptime, open streams and queries running", status)
	}
	b.screenshot("status")
}

// arrowStreamRows counts the rows of an Arrow IPC stream.
func arrowStreamRows(data []byte) (int64, error) {
	rdr, err := ipc.NewReader(bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	defer rdr.Release()
	var n int64
	for rdr.Next() {
		n += rdr.RecordBatch().NumRows()
	}
	return n, rdr.Err()
}

func leadingCells(rows [][]string) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = r[:min(3, len(r))]
	}
	return out
}

func rowIs(got []string, want ...string) bool {
	return strings.Join(got, "\x00") == strings.Join(want, "\x00")
}

func firstRow(rows [][]string) []string {
	if len(rows) == 0 {
		return nil
	}
	return rows[0]
}

func lastRow(rows [][]string) []string {
	if len(rows) == 0 {
		return nil
	}
	return rows[len(rows)-1]
}

// TestConsoleBrowserNoAuth: without an auth file there is no login and every page works.
func TestConsoleBrowserNoAuth(t *testing.T) {
	b := newConsoleBrowser(t)
	base := startBrowserConsole(t)
	b.base = base
	api := newBrowserAPI(t, base, "", "")

	b.open("", "datasets")
	if n := pageEval[int](b, `document.querySelectorAll("#login-form").length`); n != 0 {
		t.Fatal("a login form is shown without an auth file")
	}
	if rows := b.cells("#datasets-table"); len(rows) != 2 || rows[0][0] != "payroll" {
		t.Fatalf("datasets = %q, want payroll and sales.parquet", rows)
	}
	// Headers sort: Rows puts the largest first, a second click the smallest.
	b.do("sort by rows", chromedp.Click(chromedp.CSS(`#datasets-table button.sort[data-key="rows"]`)))
	if rows := b.cells("#datasets-table"); rows[0][0] != "sales.parquet" {
		t.Errorf("sorted by rows: %q, want sales.parquet (120 rows) first", rows)
	}
	b.do("sort by rows again", chromedp.Click(chromedp.CSS(`#datasets-table button.sort[data-key="rows"]`)))
	if rows := b.cells("#datasets-table"); rows[0][0] != "payroll" {
		t.Errorf("sorted by rows ascending: %q, want payroll (2 rows) first", rows)
	}
	checkConsolePages(t, b, api)
}

// TestConsoleBrowserAuth: with an auth file the console asks for a login, refuses a
// wrong password, shows a restricted user only its grant, and logs out.
func TestConsoleBrowserAuth(t *testing.T) {
	b := newConsoleBrowser(t)
	base := startBrowserConsole(t, "--auth-file", browserUsers(t, t.TempDir()))
	b.base = base

	login := func(user, pass string) {
		t.Helper()
		b.do("log in as "+user,
			chromedp.WaitVisible(chromedp.ID("login-form")),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("login-user").value = ""`),
			chromedp.SendKeys(chromedp.ID("login-user"), user),
			chromedp.SendKeys(chromedp.ID("login-password"), pass),
			chromedp.Click(chromedp.ID("login-submit")),
		)
	}

	b.open("#/sql", "login")
	b.screenshot("login")
	login("alice", "not-her-password")
	b.do("wait for the login error", chromedp.WaitVisible(chromedp.ID("login-error")))
	if msg := b.text("#login-error"); msg != "Wrong user name or password." {
		t.Errorf("wrong password shows %q", msg)
	}
	b.screenshot("login-wrong-password")

	// bob sees only what his grant covers, on every page. Logging in returns him
	// to the page he asked for.
	login("bob", "pw-bob")
	b.waitView("sql")
	b.open("#/datasets", "datasets")
	if rows := b.cells("#datasets-table"); len(rows) != 1 || rows[0][0] != "sales.parquet" {
		t.Fatalf("bob's datasets = %q, want only sales.parquet", rows)
	}
	if who := b.text("#whoami"); who != "bob" {
		t.Errorf("header names %q, want bob", who)
	}
	if cookie := pageEval[string](b, `document.cookie`); strings.Contains(cookie, "quiver_session") {
		t.Errorf("the session cookie is readable from JavaScript: %q", cookie)
	}
	b.screenshot("datasets-bob")
	b.open("#/datasets/payroll", "dataset")
	if msg := b.text("#error"); !strings.HasPrefix(msg, "NotFound: ") && !strings.HasPrefix(msg, "PermissionDenied: ") {
		t.Errorf("bob opening payroll sees %q, want NotFound or PermissionDenied", msg)
	}
	b.open("#/sql", "sql")
	b.runSQL(`SELECT * FROM payroll`)
	if msg := b.text("#query-error"); !strings.Contains(msg, "payroll") {
		t.Errorf("bob querying payroll sees %q, want an error naming payroll", msg)
	}
	b.screenshot("sql-bob-refused")

	// A session that ends (here: its cookie is gone) sends the page to the login
	// form, and back to where it was after logging in.
	if _, err := chromedp.Call(b.ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	b.open("#/status", "login")
	login("bob", "pw-bob")
	b.waitView("status")

	b.click("#logout", "login")

	// alice reads everything; the pages work as without auth.
	login("alice", "pw-alice")
	b.waitView("datasets")
	if rows := b.cells("#datasets-table"); len(rows) != 2 {
		t.Fatalf("alice's datasets = %q, want payroll and sales.parquet", rows)
	}
	checkConsolePages(t, b, newBrowserAPI(t, base, "alice", "pw-alice"))
}
