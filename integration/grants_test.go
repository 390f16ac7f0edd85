package integration

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/flightsql/auth"
)

// grantServer starts an authenticated server with three static tokens: "parquet"
// (write on *.parquet), "sales" (read on sales*) and "admin". Its root holds
// sales.parquet (ids 1-3), and payroll (ids 7-8), a Parquet file copied in by hand
// without the suffix.
func grantServer(t *testing.T) (*testServer, map[string]context.Context) {
	t.Helper()
	f := &auth.File{}
	tokens := map[string]string{}
	for _, g := range []struct {
		name, perm string
		datasets   []string
	}{{"parquet", "write", []string{"*.parquet"}}, {"sales", "read", []string{"sales*"}}, {"admin", "admin", nil}} {
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
	writeParquetFile(t, filepath.Join(root, "sales.parquet"), events(t, 1, 2, 3))
	writeParquetFile(t, filepath.Join(root, "payroll"), events(t, 7, 8))
	srv := startServerOpts(t, root, memory.DefaultAllocator, harnessOptions{guard: auth.NewGuard(a, nil)})
	ctxs := map[string]context.Context{}
	for name, tok := range tokens {
		ctxs[name] = metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
	}
	return srv, ctxs
}

// fetch runs GetFlightInfo for a Flight SQL statement and reads its first endpoint.
func fetchSQL(ctx context.Context, cl *fsql.Client, sql string) ([]arrow.RecordBatch, error) {
	info, err := cl.Execute(ctx, sql)
	if err != nil {
		return nil, err
	}
	return readEndpoint(ctx, cl, info)
}

func readEndpoint(ctx context.Context, cl *fsql.Client, info *flight.FlightInfo) ([]arrow.RecordBatch, error) {
	rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		return nil, err
	}
	defer rdr.Release()
	var out []arrow.RecordBatch
	for rdr.Next() {
		rec := rdr.RecordBatch()
		rec.Retain()
		out = append(out, rec)
	}
	return out, rdr.Err()
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// A grant is matched against the dataset's name on every path: "*.parquet" does not
// cover the hand-copied dataset "payroll", whose SQL table is payroll, whether it is
// reached by plain Flight, by SQL or by ingest; it covers sales.parquet on all of them.
func TestGrantMatchesDatasetNameOnEveryPath(t *testing.T) {
	skipOnS3(t, "appends to and replaces a hand-dropped single-file dataset, which on S3 is read-only (catalog.ErrReadOnly)")
	srv, ctxs := grantServer(t)
	ctx := ctxs["parquet"]
	c := srv.client(t)
	cl := srv.sqlClient(t)

	denied := func(what string, err error) {
		t.Helper()
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(strings.ToLower(err.Error()), `"payroll" is not a dataset the grant covers`) {
			t.Errorf("%s: %v, want PermissionDenied naming payroll", what, err)
		}
	}
	_, err := tryGet(ctx, c, []byte("payroll"))
	denied("DoGet", err)
	_, err = c.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"payroll"}})
	denied("GetFlightInfo", err)
	err = drainAction(ctx, c, &flight.Action{Type: "drop_dataset", Body: []byte("payroll")})
	denied("drop_dataset", err)
	_, err = fetchSQL(ctx, cl, "SELECT * FROM payroll")
	denied("SQL", err)
	_, err = fetchSQL(ctx, cl, "SELECT * FROM sales.main.payroll")
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("SQL qualified: %v, want PermissionDenied", err)
	}
	_, err = cl.Prepare(ctx, "SELECT * FROM payroll WHERE id = ?")
	denied("prepared SQL", err)
	const (
		create   = fsql.TableDefinitionOptionsTableNotExistOptionCreate
		noCreate = fsql.TableDefinitionOptionsTableNotExistOptionFail
		fail     = fsql.TableDefinitionOptionsTableExistsOptionFail
		appendTo = fsql.TableDefinitionOptionsTableExistsOptionAppend
		replace  = fsql.TableDefinitionOptionsTableExistsOptionReplace
	)
	ingest := func(table string, ifNotExist fsql.TableDefinitionOptionsTableNotExistOption, ifExists fsql.TableDefinitionOptionsTableExistsOption) error {
		rec := events(t, 100)
		rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
		if err != nil {
			t.Fatal(err)
		}
		defer rdr.Release()
		_, err = cl.ExecuteIngest(ctx, rdr, &fsql.ExecuteIngestOpts{Table: table,
			TableDefinitionOptions: &fsql.TableDefinitionOptions{IfNotExist: ifNotExist, IfExists: ifExists}})
		return err
	}
	for _, m := range []struct {
		name      string
		notExist  fsql.TableDefinitionOptionsTableNotExistOption
		ifExists  fsql.TableDefinitionOptionsTableExistsOption
		wantSales codes.Code
	}{
		{"create", create, fail, codes.AlreadyExists},
		{"append", noCreate, appendTo, codes.OK},
		{"replace", create, replace, codes.OK},
		{"create_append", create, appendTo, codes.OK},
	} {
		denied("ingest "+m.name, ingest("payroll", m.notExist, m.ifExists))
		denied("ingest "+m.name+" (case folded)", ingest("PAYROLL", m.notExist, m.ifExists))
		if err := ingest("sales", m.notExist, m.ifExists); status.Code(err) != m.wantSales {
			t.Errorf("ingest %s into sales: %v, want %v", m.name, err, m.wantSales)
		}
	}

	// The grant still covers what it names, on the same paths.
	if _, err := tryGet(ctx, c, []byte("sales.parquet")); err != nil {
		t.Errorf("DoGet sales.parquet: %v", err)
	}
	recs, err := fetchSQL(ctx, cl, "SELECT count(*) FROM sales")
	if err != nil {
		t.Errorf("SQL over sales: %v", err)
	}
	releaseAll(recs)
	// GetTables lists sales, not payroll.
	info, err := cl.GetTables(ctx, &fsql.GetTablesOpts{})
	if err != nil {
		t.Fatal(err)
	}
	recs, err = readEndpoint(ctx, cl, info)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for _, r := range recs {
		tables = append(tables, columnStrings(r.Column(2))...)
	}
	releaseAll(recs)
	if !slices.Equal(tables, []string{"sales"}) {
		t.Errorf("GetTables = %q, want [sales]", tables)
	}
	// payroll is untouched, as the admin sees.
	if got := flightIDsCtx(t, ctxs["admin"], c, "payroll"); !slices.Equal(got, []int64{7, 8}) {
		t.Errorf("payroll after the refused requests = %v, want [7 8]", got)
	}
}

func drainAction(ctx context.Context, c flight.Client, a *flight.Action) error {
	st, err := c.DoAction(ctx, a)
	if err != nil {
		return err
	}
	for {
		if _, err := st.Recv(); err != nil {
			if err.Error() == "EOF" {
				return nil
			}
			return err
		}
	}
}

func flightIDsCtx(t testing.TB, ctx context.Context, c flight.Client, dataset string) []int64 {
	t.Helper()
	st, err := c.DoGet(ctx, &flight.Ticket{Ticket: []byte(dataset)})
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := flight.NewRecordReader(st)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	var ids []int64
	for rdr.Next() {
		ids = append(ids, rdr.RecordBatch().Column(0).(*array.Int64).Int64Values()...)
	}
	return ids
}

// A name outside the grant gets one answer whether or not it exists: the same code and
// the same message but for the name, on every path, so a refusal confirms nothing.
func TestHiddenNamesGetOneAnswer(t *testing.T) {
	srv, ctxs := grantServer(t)
	ctx := ctxs["sales"]
	c := srv.client(t)
	cl := srv.sqlClient(t)
	paths := map[string]func(name string) error{
		"DoGet": func(name string) error { _, err := tryGet(ctx, c, []byte(name)); return err },
		"GetFlightInfo": func(name string) error {
			_, err := c.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{name}})
			return err
		},
		"SQL":          func(name string) error { _, err := fetchSQL(ctx, cl, "SELECT * FROM sales, "+name); return err },
		"SQL subquery": func(name string) error { _, err := fetchSQL(ctx, cl, "SELECT (SELECT 1 FROM "+name+")"); return err },
		"prepared":     func(name string) error { _, err := cl.Prepare(ctx, "SELECT * FROM "+name+" WHERE id = ?"); return err },
		"GetPrimaryKeys": func(name string) error {
			info, err := cl.GetPrimaryKeys(ctx, fsql.TableRef{Table: name})
			if err == nil {
				var recs []arrow.RecordBatch
				recs, err = readEndpoint(ctx, cl, info)
				releaseAll(recs)
			}
			return err
		},
	}
	for path, call := range paths {
		answers := map[string]string{}
		for _, name := range []string{"payroll", "payrol", "nosuch"} {
			err := call(name)
			if status.Code(err) != codes.PermissionDenied {
				t.Errorf("%s of %s: %v, want PermissionDenied", path, name, err)
				continue
			}
			answers[name] = strings.ReplaceAll(status.Convert(err).Message(), name, "NAME")
		}
		if answers["payroll"] != answers["nosuch"] || answers["payrol"] != answers["nosuch"] {
			t.Errorf("%s: answers differ:\n%s", path, strings.Join(slices.Sorted(func(yield func(string) bool) {
				for k, v := range answers {
					if !yield(k + ": " + v) {
						return
					}
				}
			}), "\n"))
		}
	}
}

// No principal learns the server's filesystem layout through SQL, and a restricted
// one sees no name its grant does not cover. Each probe may fail or answer; neither
// its message nor its values may show the root, DuckDB's temp directory or (to the
// restricted token) payroll.
func TestSQLShowsNoServerPathsAndNoHiddenNames(t *testing.T) {
	srv, ctxs := grantServer(t)
	cl := srv.sqlClient(t)
	probes := []string{
		"SELECT pg_get_viewdef(oid) FROM pg_class",
		"SELECT pg_get_viewdef(oid) FROM pg_class WHERE relname = 'sales'",
		"SELECT * FROM sales WHERE pg_get_viewdef(1) IS NOT NULL",
		"SELECT sql FROM duckdb_views()",
		"SELECT * FROM duckdb_views",
		"SELECT view_definition FROM information_schema.views",
		"SELECT definition FROM pg_catalog.pg_views",
		"SELECT * FROM duckdb_settings()",
		"SELECT current_setting('allowed_directories')",
		"SELECT current_setting('temp_directory')",
		"SELECT current_setting('secret_directory')",
		"SELECT current_setting('extension_directory')",
		"SELECT * FROM duckdb_temporary_files()",
		"SELECT * FROM duckdb_extensions()",
		"SELECT * FROM duckdb_external_file_cache()",
		"SELECT * FROM glob('*')",
		"SELECT * FROM glob('/*')",
		"SELECT * FROM read_parquet('missing.parquet')",
		"SELECT * FROM read_parquet('/missing.parquet')",
		"SELECT * FROM 'missing.parquet'",
		"SELECT * FROM parquet_metadata('sales.parquet')",
		"SELECT table_name FROM information_schema.tables",
		"SELECT table_name FROM duckdb_tables()",
		"SELECT * FROM duckdb_databases()",
		"SELECT * FROM pragma_database_list",
		"SELECT * FROM payrol",
		"SELECT nosuchcolumn FROM sales",
		"SELECT json_serialize_plan('SELECT * FROM payroll')",
		"SELECT json_serialize_plan('SELECT * FROM sales')",
		"SELECT __quiver_files_payroll()",
		"SELECT __quiver_files_sales()",
		"SELECT function_name, macro_definition FROM duckdb_functions()",
		"SHOW TABLES",
		"SHOW ALL TABLES",
		"SELECT * FROM sql_auto_complete('SELECT * FROM pay')",
		"SELECT * FROM information_schema.routines",
	}
	tmp := os.TempDir()
	home, _ := os.UserHomeDir() // DuckDB's secret and extension directories live there
	if home == "" || home == "/" {
		home = tmp
	}
	for _, principal := range []string{"admin", "sales"} {
		ctx := ctxs[principal]
		for _, sql := range probes {
			recs, err := fetchSQL(ctx, cl, sql)
			var seen []string
			if err != nil {
				seen = append(seen, err.Error())
			}
			for _, r := range recs {
				for _, col := range r.Columns() {
					for i := 0; i < col.Len(); i++ {
						seen = append(seen, col.ValueStr(i))
					}
				}
			}
			releaseAll(recs)
			all := strings.Join(seen, "\n")
			if strings.Contains(all, srv.Root) || strings.Contains(all, tmp) || strings.Contains(all, home) {
				t.Errorf("%s: %s shows a server path:\n%s", principal, sql, all)
			}
			// A refusal may quote the statement and the name it refuses, which may be
			// payroll as the client wrote it; beyond that, payroll must not appear.
			if principal == "sales" && strings.Count(strings.ToLower(all), "payroll") > 2*strings.Count(strings.ToLower(sql), "payroll") {
				t.Errorf("%s: %s shows the hidden dataset payroll:\n%s", principal, sql, all)
			}
			if principal == "sales" && err == nil && sql != "SELECT * FROM sales WHERE pg_get_viewdef(1) IS NOT NULL" {
				t.Logf("%s: %s answered %q", principal, sql, all)
			}
		}
	}
}
