package console

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

func TestSessionWithoutAuth(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	r := c.do("GET", "/api/session", "")
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var s map[string]any
	decode(t, r, &s)
	if s["auth_required"] != false || s["user"] != nil || s["csrf_token"] != nil || s["version"] != "test" {
		t.Fatalf("session = %v", s)
	}
	for k, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	page := c.do("GET", "/", "")
	if page.status != 200 || !bytes.Contains(page.body, []byte("<")) || page.header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("GET / = %d %q", page.status, page.header)
	}
	// Without an auth file every endpoint answers without credentials.
	for _, path := range []string{"/api/datasets", "/api/datasets/sales.parquet", "/api/datasets/sales.parquet/rows", "/api/status"} {
		if r := c.do("GET", path, ""); r.status != 200 {
			t.Errorf("GET %s = %d %s", path, r.status, r.body)
		}
	}
	if r := c.do("POST", "/api/query", `{"sql":"SELECT 1"}`); r.status != 200 {
		t.Errorf("POST /api/query = %d %s", r.status, r.body)
	}
	wantError(t, c.do("POST", "/api/login", `{"user":"bob","password":"x"}`), 409, "FailedPrecondition", "without authentication")
	wantError(t, c.do("GET", "/api/nothing", ""), 404, "NotFound", "/api/nothing")
}

func TestEndpointsNeedAuth(t *testing.T) {
	e := newEnv(t, envOptions{auth: true})
	endpoints := []struct{ method, path, body string }{
		{"GET", "/api/datasets", ""},
		{"GET", "/api/datasets/sales.parquet", ""},
		{"GET", "/api/datasets/sales.parquet/rows?limit=2", ""},
		{"POST", "/api/query", `{"sql":"SELECT count(*) FROM sales"}`},
		{"GET", "/api/status", ""},
	}
	anon := e.client()
	r := anon.do("GET", "/api/session", "")
	var s map[string]any
	decode(t, r, &s)
	if r.status != 200 || s["auth_required"] != true || s["user"] != nil {
		t.Fatalf("session without login = %d %v", r.status, s)
	}
	cookie := e.client()
	cookie.login("bob")
	bearer := e.client()
	bearer.header.Set("Authorization", "Bearer "+testToken)
	basicAuth := e.client()
	basicAuth.header.Set("Authorization", basic("bob"))
	badToken := e.client()
	badToken.header.Set("Authorization", "Bearer nope")
	for _, ep := range endpoints {
		t.Run(ep.method+" "+ep.path, func(t *testing.T) {
			wantError(t, anon.do(ep.method, ep.path, ep.body), 401, "Unauthenticated", "log in")
			wantError(t, badToken.do(ep.method, ep.path, ep.body), 401, "Unauthenticated", "invalid credentials")
			for name, c := range map[string]*client{"cookie": cookie, "bearer": bearer, "basic": basicAuth} {
				if r := c.do(ep.method, ep.path, ep.body); r.status != 200 {
					t.Errorf("%s: %d %s", name, r.status, r.body)
				}
			}
		})
	}
}

func TestDatasetsDescribeRows(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	var list struct {
		Datasets []datasetSummary `json:"datasets"`
	}
	decode(t, c.do("GET", "/api/datasets", ""), &list)
	if len(list.Datasets) != 2 {
		t.Fatalf("datasets = %+v", list.Datasets)
	}
	sales := list.Datasets[0]
	if sales.Name != "sales.parquet" || sales.Table != "sales" || sales.Rows != 5 || sales.Columns != 4 || sales.Parts != 1 || sales.Bytes <= 0 || sales.Modified == "" {
		t.Fatalf("sales = %+v", sales)
	}

	var d datasetDetail
	decode(t, c.do("GET", "/api/datasets/sales.parquet", ""), &d)
	if d.Rows != 5 || len(d.Schema) != 4 || d.Schema[0] != (schemaColumn{Name: "id", Type: "BIGINT", Nullable: false}) ||
		d.Schema[1] != (schemaColumn{Name: "region", Type: "VARCHAR", Nullable: true}) {
		t.Fatalf("describe = %+v", d)
	}
	if len(d.Stats) != 4 {
		t.Fatalf("stats = %+v", d.Stats)
	}
	region := d.Stats[1]
	if region.Column != "region" || region.Nulls == nil || *region.Nulls != 1 || *region.Min != "east" || *region.Max != `west "quoted", comma` || region.DistinctEstimate == nil || *region.DistinctEstimate != 4 {
		t.Fatalf("region stats = %s", mustJSON(region))
	}
	if id := d.Stats[0]; id.Nulls == nil || *id.Nulls != 0 || *id.Min != "1" || *id.Max != "5" {
		t.Fatalf("id stats = %s", mustJSON(id))
	}

	var page struct {
		Columns []columnInfo `json:"columns"`
		Rows    [][]any      `json:"rows"`
		Offset  int64        `json:"offset"`
		Limit   int64        `json:"limit"`
		Total   int64        `json:"total"`
	}
	decode(t, c.do("GET", "/api/datasets/sales.parquet/rows?offset=1&limit=2", ""), &page)
	if page.Offset != 1 || page.Limit != 2 || page.Total != 5 || len(page.Rows) != 2 || len(page.Columns) != 4 {
		t.Fatalf("rows = %+v", page)
	}
	if fmt.Sprint(page.Rows) != "[[2 south 2.25 7] [3 <nil> <nil> 8]]" {
		t.Fatalf("rows = %v", page.Rows)
	}
	wantError(t, c.do("GET", "/api/datasets/nope.parquet", ""), 404, "NotFound", "nope.parquet")
	wantError(t, c.do("GET", "/api/datasets/nope.parquet/rows", ""), 404, "NotFound", "nope.parquet")
	wantError(t, c.do("GET", "/api/datasets/..%2Fetc/rows", ""), 400, "InvalidArgument")
}

// queryRows runs sql in format and decodes the answer to rows of strings, so that the
// formats can be compared.
func queryRows(t *testing.T, c *client, sql, accept string) [][]string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"sql": sql})
	r := c.do("POST", "/api/query", string(body), "Accept", accept)
	if r.status != 200 {
		t.Fatalf("%s: %d %s", accept, r.status, r.body)
	}
	var out [][]string
	switch accept {
	case mediaJSON:
		var a struct {
			Rows [][]any `json:"rows"`
		}
		decode(t, r, &a)
		for _, row := range a.Rows {
			var cells []string
			for _, v := range row {
				if v == nil {
					cells = append(cells, "")
				} else {
					cells = append(cells, fmt.Sprint(v))
				}
			}
			out = append(out, cells)
		}
	case mediaCSV:
		recs, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(recs[0], ",") != "id,region,amount,big" {
			t.Fatalf("CSV header %v", recs[0])
		}
		out = recs[1:]
	case mediaArrow:
		rdr, err := ipc.NewReader(bytes.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		defer rdr.Release()
		for rdr.Next() {
			out = append(out, recordStrings(rdr.RecordBatch())...)
		}
		if rdr.Err() != nil {
			t.Fatal(rdr.Err())
		}
	case mediaParquet:
		pf, err := file.NewParquetReader(bytes.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1024}, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		rr, err := fr.GetRecordReader(context.Background(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer rr.Release()
		for rr.Next() {
			out = append(out, recordStrings(rr.RecordBatch())...)
		}
	}
	return out
}

func recordStrings(rec arrow.RecordBatch) [][]string {
	var out [][]string
	for i := 0; i < int(rec.NumRows()); i++ {
		var row []string
		for _, col := range rec.Columns() {
			row = append(row, textValue(col, i))
		}
		out = append(out, row)
	}
	return out
}

func TestQueryFormatsAgree(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	const sql = "SELECT * FROM sales ORDER BY id"
	want := queryRows(t, c, sql, mediaCSV)
	if len(want) != 5 || want[0][3] != "1152921504606846976" || want[4][1] != `west "quoted", comma` || want[2][1] != "" {
		t.Fatalf("CSV rows = %q", want)
	}
	for _, accept := range []string{mediaArrow, mediaParquet} {
		if got := queryRows(t, c, sql, accept); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s rows = %q, want %q", accept, got, want)
		}
	}
	// JSON: the same values, numbers printed as Go prints float64.
	jsonRows := queryRows(t, c, sql, mediaJSON)
	if len(jsonRows) != 5 || jsonRows[0][3] != "1152921504606846976" || jsonRows[4][3] != "-1152921504606846976" ||
		jsonRows[1][0] != "2" || jsonRows[1][2] != "2.25" || jsonRows[4][2] != "1e+10" || jsonRows[2][1] != "" {
		t.Fatalf("JSON rows = %q", jsonRows)
	}
	// ?format= overrides Accept.
	r := c.do("POST", "/api/query?format=csv", `{"sql":"SELECT 1 AS x"}`, "Accept", mediaJSON)
	if r.status != 200 || string(r.body) != "x\n1\n" || !strings.HasPrefix(r.header.Get("Content-Type"), mediaCSV) {
		t.Fatalf("format=csv: %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
	}
	wantError(t, c.do("POST", "/api/query?format=xml", `{"sql":"SELECT 1"}`), 400, "InvalidArgument", "format")
}

func TestQueryJSONLimits(t *testing.T) {
	e := newEnv(t, envOptions{config: func(c *Config) { c.MaxJSONBytes = 200 }})
	c := e.client()
	var a queryAnswer
	var rows [][]any
	r := c.do("POST", "/api/query", `{"sql":"SELECT * FROM sales ORDER BY id","limit":2}`)
	decode(t, r, &a)
	if err := json.Unmarshal(a.Rows, &rows); err != nil {
		t.Fatal(err)
	}
	if a.RowCount != 2 || !a.Truncated || len(rows) != 2 || len(a.Columns) != 4 || a.Columns[1] != (columnInfo{Name: "region", Type: "VARCHAR"}) {
		t.Fatalf("limit 2: %s", r.body)
	}
	r = c.do("POST", "/api/query", `{"sql":"SELECT * FROM sales ORDER BY id","limit":5}`)
	decode(t, r, &a)
	if a.Truncated || a.RowCount != 5 {
		t.Fatalf("limit 5: %s", r.body)
	}
	// 200 bytes of JSON rows hold a few of 100 rows of 30 characters.
	r = c.do("POST", "/api/query", `{"sql":"SELECT repeat('x', 30) AS s FROM range(100)"}`)
	decode(t, r, &a)
	if !a.Truncated || a.RowCount == 0 || a.RowCount > 6 || len(a.Rows) > 200 {
		t.Fatalf("byte cap: %s", r.body)
	}
}

func TestQueryJSONValues(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	r := c.do("POST", "/api/query", `{"sql":"SELECT 9007199254740993::BIGINT AS big, 42::HUGEINT AS huge, 'NaN'::DOUBLE AS nan, 'inf'::DOUBLE AS inf, 1.25::DECIMAL(10,2) AS dec, DATE '2024-02-29' AS d, TIMESTAMP '2024-01-02 03:04:05.5' AS ts, '\\xAB'::BLOB AS b, [1, NULL, 3] AS l, {'k': 'v', 'n': 2} AS st, NULL AS nothing, '<script>' AS html"}`)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var a queryAnswer
	decode(t, r, &a)
	want := `[["9007199254740993","42","NaN","Infinity","1.25","2024-02-29","2024-01-02T03:04:05.5","qw==",[1,null,3],{"k":"v","n":2},null,"\u003cscript\u003e"]]`
	if string(a.Rows) != want {
		t.Fatalf("rows\n got %s\nwant %s", a.Rows, want)
	}
	var types []string
	for _, col := range a.Columns {
		types = append(types, col.Type)
	}
	// HUGEINT reaches Arrow as DECIMAL(38,0), and Flight SQL names it so too.
	if got := strings.Join(types, ","); got != `BIGINT,DECIMAL(38,0),DOUBLE,DOUBLE,DECIMAL(10,2),DATE,TIMESTAMP,BLOB,INTEGER[],STRUCT("k" VARCHAR, "n" INTEGER),INTEGER,VARCHAR` {
		t.Fatalf("types %s", got)
	}
}

var _ = http.StatusOK

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
