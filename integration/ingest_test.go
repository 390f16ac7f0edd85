package integration

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-adbc/go/adbc"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Bulk ingest (CommandStatementIngest) through ADBC's adbc.ingest and arrow-go's
// Client.ExecuteIngest, read back through SQL and through plain Flight.

var eventSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// events makes one batch of eventSchema with the given ids, named "e<id>".
func events(t testing.TB, ids ...int64) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, eventSchema)
	defer b.Release()
	for _, id := range ids {
		b.Field(0).(*array.Int64Builder).Append(id)
		b.Field(1).(*array.StringBuilder).Append("e" + string(rune('0'+id%10)))
	}
	rec := b.NewRecordBatch()
	t.Cleanup(rec.Release)
	return rec
}

// adbcIngest binds recs as a stream and runs adbc.ingest into table with mode;
// extra are more statement options.
func adbcIngest(t testing.TB, conn adbc.Connection, table, mode string, extra map[string]string, recs ...arrow.RecordBatch) (int64, error) {
	t.Helper()
	stmt, err := conn.NewStatement()
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	opts := map[string]string{adbc.OptionKeyIngestTargetTable: table, adbc.OptionKeyIngestMode: mode}
	for k, v := range extra {
		opts[k] = v
	}
	for k, v := range opts {
		if err := stmt.SetOption(k, v); err != nil {
			t.Fatalf("set %s=%s: %v", k, v, err)
		}
	}
	rdr, err := array.NewRecordReader(recs[0].Schema(), recs)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	if err := stmt.BindStream(context.Background(), rdr); err != nil {
		t.Fatal(err)
	}
	return stmt.ExecuteUpdate(context.Background())
}

// adbcCode is the ADBC status of err, or fails the test if err is not an adbc.Error.
func adbcCode(t testing.TB, err error) adbc.Status {
	t.Helper()
	var ae adbc.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an adbc.Error", err, err)
	}
	t.Logf("ADBC error: %v", err)
	return ae.Code
}

// sqlIDs returns the ids of table in ascending order, through ADBC.
func sqlIDs(t testing.TB, conn adbc.Connection, table string) []int64 {
	t.Helper()
	_, recs, err := adbcQuery(t, conn, `SELECT id FROM "`+table+`" ORDER BY id`)
	if err != nil {
		t.Fatalf("query %s: %v", table, err)
	}
	return int64s(recs, 0)
}

// flightIDs returns the ids of a dataset in stored order, through plain Flight DoGet.
func flightIDs(t testing.TB, c flight.Client, dataset string) []int64 {
	t.Helper()
	schema, recs := getAll(t, c, &flight.Ticket{Ticket: []byte(dataset)})
	// Field metadata aside: the catalog may add Parquet's field ids.
	same := schema.NumFields() == eventSchema.NumFields()
	for i := 0; same && i < schema.NumFields(); i++ {
		same = schema.Field(i).Name == eventSchema.Field(i).Name && arrow.TypeEqual(schema.Field(i).Type, eventSchema.Field(i).Type)
	}
	if !same {
		t.Fatalf("dataset %s schema = %s, want %s", dataset, schema, eventSchema)
	}
	return int64s(recs, 0)
}

func TestADBCIngestModes(t *testing.T) {
	srv := startServer(t)
	conn := srv.adbcConn(t)
	c := srv.client(t)

	n, err := adbcIngest(t, conn, "events", adbc.OptionValueIngestModeCreate, nil, events(t, 1, 2), events(t, 3))
	if err != nil || n != 3 {
		t.Fatalf("create: %d rows, %v; want 3 rows", n, err)
	}
	if got := listNames(t, c); !slices.Contains(got, "events.parquet") {
		t.Errorf("ListFlights = %q, want events.parquet listed", got)
	}
	if got, want := sqlIDs(t, conn, "events"), []int64{1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("SQL after create = %v, want %v", got, want)
	}
	if got, want := flightIDs(t, c, "events.parquet"), []int64{1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("DoGet after create = %v, want %v", got, want)
	}

	t.Run("create on existing", func(t *testing.T) {
		_, err := adbcIngest(t, conn, "events", adbc.OptionValueIngestModeCreate, nil, events(t, 99))
		if code := adbcCode(t, err); code != adbc.StatusAlreadyExists {
			t.Errorf("code = %v (%v), want AlreadyExists", code, err)
		}
		if got, want := sqlIDs(t, conn, "events"), []int64{1, 2, 3}; !slices.Equal(got, want) {
			t.Errorf("after refused create = %v, want %v", got, want)
		}
	})

	t.Run("append", func(t *testing.T) {
		n, err := adbcIngest(t, conn, "events", adbc.OptionValueIngestModeAppend, nil, events(t, 4, 5))
		if err != nil || n != 2 {
			t.Fatalf("append: %d rows, %v; want 2 rows", n, err)
		}
		n, err = adbcIngest(t, conn, "events", adbc.OptionValueIngestModeAppend, nil, events(t, 6))
		if err != nil || n != 1 {
			t.Fatalf("second append: %d rows, %v; want 1 row", n, err)
		}
		// Appends add parts: the dataset is now a directory, read back in order.
		if !srv.isMultiPart(t, "events.parquet") {
			t.Errorf("events.parquet after append is not stored as a multi-part dataset")
		}
		want := []int64{1, 2, 3, 4, 5, 6}
		if got := flightIDs(t, c, "events.parquet"); !slices.Equal(got, want) {
			t.Errorf("DoGet after append = %v, want %v in order", got, want)
		}
		if got := sqlIDs(t, conn, "events"); !slices.Equal(got, want) {
			t.Errorf("SQL after append = %v, want %v", got, want)
		}
	})

	t.Run("append with another schema", func(t *testing.T) {
		_, err := adbcIngest(t, conn, "events", adbc.OptionValueIngestModeAppend, nil, characters(memory.DefaultAllocator))
		if code := adbcCode(t, err); code != adbc.StatusInvalidArgument {
			t.Errorf("code = %v (%v), want InvalidArgument", code, err)
		}
		if got, want := sqlIDs(t, conn, "events"), []int64{1, 2, 3, 4, 5, 6}; !slices.Equal(got, want) {
			t.Errorf("after refused append = %v, want %v", got, want)
		}
	})

	t.Run("append to missing table", func(t *testing.T) {
		_, err := adbcIngest(t, conn, "nosuch", adbc.OptionValueIngestModeAppend, nil, events(t, 1))
		if code := adbcCode(t, err); code != adbc.StatusNotFound {
			t.Errorf("code = %v (%v), want NotFound", code, err)
		}
		if got := listNames(t, c); slices.Contains(got, "nosuch.parquet") {
			t.Errorf("ListFlights = %q: a failed append created the dataset", got)
		}
	})

	t.Run("replace", func(t *testing.T) {
		n, err := adbcIngest(t, conn, "events", adbc.OptionValueIngestModeReplace, nil, events(t, 7))
		if err != nil || n != 1 {
			t.Fatalf("replace: %d rows, %v; want 1 row", n, err)
		}
		if got, want := sqlIDs(t, conn, "events"), []int64{7}; !slices.Equal(got, want) {
			t.Errorf("SQL after replace = %v, want %v", got, want)
		}
		if got, want := flightIDs(t, c, "events.parquet"), []int64{7}; !slices.Equal(got, want) {
			t.Errorf("DoGet after replace = %v, want %v", got, want)
		}
		// Replace also creates.
		n, err = adbcIngest(t, conn, "fresh", adbc.OptionValueIngestModeReplace, nil, events(t, 1))
		if err != nil || n != 1 {
			t.Fatalf("replace of a new table: %d rows, %v; want 1 row", n, err)
		}
	})

	t.Run("create_append", func(t *testing.T) {
		for i, want := range [][]int64{{10}, {10, 11}} {
			n, err := adbcIngest(t, conn, "log", adbc.OptionValueIngestModeCreateAppend, nil, events(t, int64(10+i)))
			if err != nil || n != 1 {
				t.Fatalf("create_append %d: %d rows, %v; want 1 row", i, n, err)
			}
			if got := flightIDs(t, c, "log.parquet"); !slices.Equal(got, want) {
				t.Errorf("DoGet after create_append %d = %v, want %v", i, got, want)
			}
		}
	})
}

func TestADBCIngestRefusals(t *testing.T) {
	srv := startServer(t)
	conn := srv.adbcConn(t)
	c := srv.client(t)

	cases := []struct {
		name  string
		table string
		extra map[string]string
		want  adbc.Status
	}{
		{"path traversal", "../escape", nil, adbc.StatusInvalidArgument},
		{"slash", "a/b", nil, adbc.StatusInvalidArgument},
		{"leading dot", ".hidden", nil, adbc.StatusInvalidArgument},
		{"space", "two words", nil, adbc.StatusInvalidArgument},
		{"NUL", "a\x00b", nil, adbc.StatusInvalidArgument},
		{"overlong", strings.Repeat("x", 300), nil, adbc.StatusInvalidArgument},
		{"temporary", "tmp", map[string]string{adbc.OptionValueIngestTemporary: adbc.OptionValueEnabled}, adbc.StatusNotImplemented},
		{"unknown catalog", "t", map[string]string{adbc.OptionValueIngestTargetCatalog: "other"}, adbc.StatusInvalidArgument},
		{"unknown schema", "t", map[string]string{adbc.OptionValueIngestTargetDBSchema: "public"}, adbc.StatusInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := adbcIngest(t, conn, tc.table, adbc.OptionValueIngestModeCreate, tc.extra, events(t, 1))
			if err == nil {
				t.Fatalf("ingest into %q succeeded, want %v", tc.table, tc.want)
			}
			if code := adbcCode(t, err); code != tc.want {
				t.Errorf("code = %v (%v), want %v", code, err, tc.want)
			}
		})
	}
	if got := listNames(t, c); len(got) != 0 {
		t.Errorf("ListFlights after refused ingests = %q, want nothing stored", got)
	}
	if entries := srv.rootEntries(t); len(entries) != 0 {
		t.Errorf("dataset root after refused ingests holds %q, want nothing", entries)
	}

	// The one catalog and schema, named explicitly, are accepted; they are DuckDB's.
	_, recs, err := adbcQuery(t, conn, "SELECT current_database(), current_schema()")
	if err != nil {
		t.Fatal(err)
	}
	if db, schema := recs[0].Column(0).(*array.String).Value(0), recs[0].Column(1).(*array.String).Value(0); db != "memory" || schema != "main" {
		t.Errorf("DuckDB's current catalog and schema = %q, %q; want memory, main", db, schema)
	}
	n, err := adbcIngest(t, conn, "named", adbc.OptionValueIngestModeCreate, map[string]string{
		adbc.OptionValueIngestTargetCatalog:  "memory",
		adbc.OptionValueIngestTargetDBSchema: "main",
	}, events(t, 1))
	if err != nil || n != 1 {
		t.Errorf("ingest into memory.main.named: %d rows, %v; want 1 row", n, err)
	}
}

// A dataset copied in by hand without the .parquet suffix is the table of that name:
// ingest appends to it rather than creating a second dataset beside it.
func TestADBCIngestIntoDatasetWithoutSuffix(t *testing.T) {
	srv := startServer(t)
	c := srv.client(t)
	putRecords(t, c, "legacy", eventSchema, events(t, 1))
	conn := srv.adbcConn(t)

	n, err := adbcIngest(t, conn, "legacy", adbc.OptionValueIngestModeAppend, nil, events(t, 2))
	if err != nil || n != 1 {
		t.Fatalf("append to legacy: %d rows, %v; want 1 row", n, err)
	}
	if got, want := flightIDs(t, c, "legacy"), []int64{1, 2}; !slices.Equal(got, want) {
		t.Errorf("DoGet legacy = %v, want %v", got, want)
	}
	if got := listNames(t, c); !slices.Equal(got, []string{"legacy"}) {
		t.Errorf("ListFlights = %q, want only legacy", got)
	}
	// Create refuses: the table exists under the other name.
	_, err = adbcIngest(t, conn, "legacy", adbc.OptionValueIngestModeCreate, nil, events(t, 3))
	if code := adbcCode(t, err); code != adbc.StatusAlreadyExists {
		t.Errorf("create legacy: code = %v (%v), want AlreadyExists", code, err)
	}
	// SQL names match case-insensitively.
	n, err = adbcIngest(t, conn, "LEGACY", adbc.OptionValueIngestModeAppend, nil, events(t, 3))
	if err != nil || n != 1 {
		t.Fatalf("append to LEGACY: %d rows, %v; want 1 row", n, err)
	}
	if got, want := sqlIDs(t, conn, "legacy"), []int64{1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("SQL legacy = %v, want %v", got, want)
	}
}

// sqlClient connects arrow-go's Flight SQL client, closed when the test ends.
func (s *testServer) sqlClient(t testing.TB, mw ...flight.ClientMiddleware) *fsql.Client {
	t.Helper()
	cl, err := fsql.NewClient(s.Addr, nil, mw, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func TestFlightSQLExecuteIngest(t *testing.T) {
	srv := startServer(t)
	cl := srv.sqlClient(t)
	c := srv.client(t)
	ctx := context.Background()

	ingest := func(opts *fsql.ExecuteIngestOpts, recs ...arrow.RecordBatch) (int64, error) {
		rdr, err := array.NewRecordReader(recs[0].Schema(), recs)
		if err != nil {
			t.Fatal(err)
		}
		defer rdr.Release()
		return cl.ExecuteIngest(ctx, rdr, opts)
	}
	opts := func(ifNotExist fsql.TableDefinitionOptionsTableNotExistOption, ifExists fsql.TableDefinitionOptionsTableExistsOption) *fsql.ExecuteIngestOpts {
		return &fsql.ExecuteIngestOpts{
			Table:                  "metrics",
			TableDefinitionOptions: &fsql.TableDefinitionOptions{IfNotExist: ifNotExist, IfExists: ifExists},
		}
	}
	const (
		create   = fsql.TableDefinitionOptionsTableNotExistOptionCreate
		noCreate = fsql.TableDefinitionOptionsTableNotExistOptionFail
		fail     = fsql.TableDefinitionOptionsTableExistsOptionFail
		appendTo = fsql.TableDefinitionOptionsTableExistsOptionAppend
		replace  = fsql.TableDefinitionOptionsTableExistsOptionReplace
	)

	// Replace-only-if-exists on a missing table fails and creates nothing.
	if _, err := ingest(opts(noCreate, replace), events(t, 1)); status.Code(err) != codes.NotFound {
		t.Errorf("replace missing without create: %v, want NotFound", err)
	}
	if n, err := ingest(opts(create, fail), events(t, 1, 2)); err != nil || n != 2 {
		t.Fatalf("create: %d rows, %v", n, err)
	}
	if n, err := ingest(opts(noCreate, appendTo), events(t, 3)); err != nil || n != 1 {
		t.Fatalf("append: %d rows, %v", n, err)
	}
	if got, want := flightIDs(t, c, "metrics.parquet"), []int64{1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("DoGet = %v, want %v", got, want)
	}
	// Never create, never change: fails both ways.
	if _, err := ingest(opts(noCreate, fail), events(t, 9)); status.Code(err) != codes.AlreadyExists {
		t.Errorf("fail/fail on existing: %v, want AlreadyExists", err)
	}
	if n, err := ingest(opts(noCreate, replace), events(t, 4)); err != nil || n != 1 {
		t.Fatalf("replace existing: %d rows, %v", n, err)
	}
	if got, want := flightIDs(t, c, "metrics.parquet"), []int64{4}; !slices.Equal(got, want) {
		t.Errorf("DoGet after replace = %v, want %v", got, want)
	}

	refusals := []struct {
		name string
		mod  func(*fsql.ExecuteIngestOpts)
		want codes.Code
	}{
		{"transaction", func(o *fsql.ExecuteIngestOpts) { o.TransactionId = []byte("tx1") }, codes.InvalidArgument},
		{"unknown option", func(o *fsql.ExecuteIngestOpts) { o.Options = map[string]string{"compression": "zstd"} }, codes.InvalidArgument},
		{"unspecified if_exists", func(o *fsql.ExecuteIngestOpts) { o.TableDefinitionOptions.IfExists = 0 }, codes.InvalidArgument},
		{"unspecified if_not_exist", func(o *fsql.ExecuteIngestOpts) { o.TableDefinitionOptions.IfNotExist = 0 }, codes.InvalidArgument},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			o := opts(create, replace)
			tc.mod(o)
			if _, err := ingest(o, events(t, 100)); status.Code(err) != tc.want {
				t.Errorf("ingest: %v, want %v", err, tc.want)
			}
			if got, want := flightIDs(t, c, "metrics.parquet"), []int64{4}; !slices.Equal(got, want) {
				t.Errorf("DoGet after refusal = %v, want %v", got, want)
			}
		})
	}
}

// A stream with a schema and no batches creates an empty table. arrow-go's
// ExecuteIngest cannot send one (its writer sends the schema with the first batch,
// and closes only after CloseSend), so this writes the DoPut by hand.
func TestIngestEmptyStream(t *testing.T) {
	srv := startServer(t)
	c := srv.client(t)
	cmd, err := anypb.New(&pb.CommandStatementIngest{
		Table: "empty",
		TableDefinitionOptions: &pb.CommandStatementIngest_TableDefinitionOptions{
			IfNotExist: pb.CommandStatementIngest_TableDefinitionOptions_TABLE_NOT_EXIST_OPTION_CREATE,
			IfExists:   pb.CommandStatementIngest_TableDefinitionOptions_TABLE_EXISTS_OPTION_FAIL,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	desc, err := proto.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := c.DoPut(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(eventSchema))
	w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: desc})
	if err := w.Close(); err != nil { // sends the schema, then end of stream
		t.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	res, err := stream.Recv()
	if err != nil {
		t.Fatalf("ingest of no rows: %v", err)
	}
	var count pb.DoPutUpdateResult
	if err := proto.Unmarshal(res.GetAppMetadata(), &count); err != nil || count.GetRecordCount() != 0 {
		t.Errorf("record count %d, %v; want 0", count.GetRecordCount(), err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("after the result: %v, want EOF", err)
	}
	if got := flightIDs(t, c, "empty.parquet"); len(got) != 0 {
		t.Errorf("DoGet empty = %v, want no rows", got)
	}
}
