package integration

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
)

// deepRecord is a one-row batch whose column "c" is `depth` lists around the int64 7.
func deepRecord(mem memory.Allocator, depth int) arrow.RecordBatch {
	var dt arrow.DataType = arrow.PrimitiveTypes.Int64
	for range depth {
		dt = arrow.ListOf(dt)
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "c", Type: dt, Nullable: true}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	var bld array.Builder = b.Field(0)
	for {
		lb, ok := bld.(*array.ListBuilder)
		if !ok {
			break
		}
		lb.Append(true)
		bld = lb.ValueBuilder()
	}
	bld.(*array.Int64Builder).Append(7)
	return b.NewRecordBatch()
}

// putForStatus puts rec to name and returns the server's answer. The server may
// refuse the stream on its schema alone, before the batch is read; the client's
// write then fails with io.EOF, and the status is what Recv returns.
func putForStatus(ctx context.Context, c flight.Client, name string, rec arrow.RecordBatch) error {
	stream, err := c.DoPut(ctx)
	if err != nil {
		return err
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(rec.Schema()))
	w.SetFlightDescriptor(pathDescriptor(name))
	if err := w.Write(rec); err == nil {
		w.Close()
	}
	stream.CloseSend()
	for {
		if _, err := stream.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// TestDeeplyNestedDatasets: DuckDB's Parquet reader spends exponential time, deaf to
// interrupts, on lists nested ~20+ deep. An upload nested deeper than the limit (16)
// is refused, through DoPut and ingest alike, naming the column and the depth. A
// file copied in by hand is still listed, described and served by plain DoGet
// (Arrow's reader handles it), while SQL naming it fails at once with
// FailedPrecondition naming the table, the file and the depth; GetTables answers
// promptly, with the file's own schema.
func TestDeeplyNestedDatasets(t *testing.T) {
	srv := startServer(t)
	c := srv.client(t)
	cl := srv.sqlClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mem := memory.DefaultAllocator

	deep := deepRecord(mem, 30)
	defer deep.Release()
	err := putForStatus(ctx, c, "deep.parquet", deep)
	wantStatus(t, err, codes.InvalidArgument, `"deep.parquet"`, `column "c.item.item`, "nested 30 levels deep", "at most 16")

	rdr, err := array.NewRecordReader(deep.Schema(), []arrow.RecordBatch{deep})
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	_, err = cl.ExecuteIngest(ctx, rdr, &fsql.ExecuteIngestOpts{TableDefinitionOptions: &fsql.TableDefinitionOptions{
		IfNotExist: fsql.TableDefinitionOptionsTableNotExistOptionCreate,
		IfExists:   fsql.TableDefinitionOptionsTableExistsOptionFail,
	}, Table: "deep"})
	wantStatus(t, err, codes.InvalidArgument, "deep", "nested 30 levels deep", "at most 16")
	if names := listNames(t, c); len(names) != 0 {
		t.Fatalf("datasets after refused uploads: %q", names)
	}

	// At the limit: stored and queryable.
	ok := deepRecord(mem, 16)
	defer ok.Release()
	putRecords(t, c, "ok.parquet", ok.Schema(), ok)
	if n, err := runQuery(ctx, cl, "SELECT * FROM ok"); err != nil || n != 1 {
		t.Fatalf("SELECT * FROM ok: %d rows, %v", n, err)
	}

	// Copied in by hand.
	srv.dropIn(t, "deep.parquet", deep)
	info, err := c.GetFlightInfo(ctx, pathDescriptor("deep.parquet"))
	if err != nil || info.TotalRecords != 1 {
		t.Fatalf("GetFlightInfo deep.parquet: %v, %v", info, err)
	}
	start := time.Now()
	stream, err := c.DoGet(ctx, &flight.Ticket{Ticket: []byte("deep.parquet")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := flight.NewRecordReader(stream)
	if err != nil {
		t.Fatal(err)
	}
	rows := int64(0)
	for got.Next() {
		rows += got.RecordBatch().NumRows()
		if !arrow.TypeEqual(got.Schema().Field(0).Type, deep.Schema().Field(0).Type) {
			t.Errorf("DoGet schema %s, want %s", got.Schema(), deep.Schema())
		}
	}
	got.Release()
	if rows != 1 {
		t.Fatalf("DoGet deep.parquet: %d rows, want 1", rows)
	}
	t.Logf("plain DoGet of a 30-deep file took %v", time.Since(start))

	for _, sql := range []string{"SELECT * FROM deep", "SELECT count(*) FROM deep"} {
		start := time.Now()
		_, err := runQuery(ctx, cl, sql)
		wantStatus(t, err, codes.FailedPrecondition, `table "deep"`, "deep.parquet", "nested 30 levels deep", "at most 16")
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s refused after %v, want at once", sql, took)
		}
	}
	// Read by path, which a grant without dataset patterns may do: refused the same,
	// naming the file but not the directory it is in.
	// (A bucket has no path the engine could read.)
	deepPath := filepath.Join(srv.Root, "deep.parquet")
	byPath := []string{"SELECT * FROM read_parquet('" + deepPath + "')", "FROM '" + filepath.Join(srv.Root, "*.parquet") + "'"}
	if onS3() {
		byPath = nil
	}
	for _, sql := range byPath {
		start := time.Now()
		_, err := runQuery(ctx, cl, sql)
		wantStatus(t, err, codes.FailedPrecondition, `file "deep.parquet"`, "nested 30 levels deep", "at most 16")
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s refused after %v, want at once", sql, took)
		}
	}

	start = time.Now()
	tinfo, err := cl.GetTables(ctx, &fsql.GetTablesOpts{IncludeSchema: true})
	_, recs := fetch(t, cl, tinfo, err)
	var tables []string
	for _, rec := range recs {
		col := rec.Column(2).(*array.String)
		for i := range col.Len() {
			tables = append(tables, col.Value(i))
		}
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("GetTables took %v", took)
	}
	if strings.Join(tables, ",") != "deep,ok" {
		t.Errorf("GetTables lists %q, want deep and ok", tables)
	}
}
