package integration

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The two client flows of the Arrow cookbook's Flight recipe, step by step, with the
// arrow-go client standing in for pyarrow (integration/python runs the pyarrow code
// itself).

// putRecords uploads recs to the dataset name with DoPut and a PATH descriptor.
func putRecords(t testing.TB, c flight.Client, name string, schema *arrow.Schema, recs ...arrow.RecordBatch) {
	t.Helper()
	if err := tryPut(context.Background(), c, name, schema, recs...); err != nil {
		t.Fatalf("put %s: %v", name, err)
	}
}

func tryPut(ctx context.Context, c flight.Client, name string, schema *arrow.Schema, recs ...arrow.RecordBatch) error {
	stream, err := c.DoPut(ctx)
	if err != nil {
		return err
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(schema))
	w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{name}})
	// A send fails with a bare io.EOF when the server has already answered (refused
	// the upload before reading it all): the answer is what Recv returns then.
	sent := func(err error) bool { return err == nil || errors.Is(err, io.EOF) }
	for _, rec := range recs {
		if err := w.Write(rec); !sent(err) {
			return err
		} else if err != nil {
			break
		}
	}
	if err := w.Close(); !sent(err) {
		return err
	}
	if err := stream.CloseSend(); err != nil {
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

// getAll reads every batch of a ticket into a table-like slice of records.
func getAll(t testing.TB, c flight.Client, ticket *flight.Ticket) (*arrow.Schema, []arrow.RecordBatch) {
	t.Helper()
	stream, err := c.DoGet(context.Background(), ticket)
	if err != nil {
		t.Fatalf("DoGet: %v", err)
	}
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		t.Fatalf("DoGet reader: %v", err)
	}
	defer rdr.Release()
	var recs []arrow.RecordBatch
	for rdr.Next() {
		rec := rdr.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := rdr.Err(); err != nil {
		t.Fatalf("DoGet read: %v", err)
	}
	t.Cleanup(func() {
		for _, r := range recs {
			r.Release()
		}
	})
	return rdr.Schema(), recs
}

func pathDescriptor(name string) *flight.FlightDescriptor {
	return &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{name}}
}

func listNames(t testing.TB, c flight.Client) []string {
	t.Helper()
	stream, err := c.ListFlights(context.Background(), &flight.Criteria{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for {
		info, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, info.GetFlightDescriptor().GetPath()...)
	}
}

func characters(mem memory.Allocator) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{{Name: "Character", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"Mario", "Luigi", "Peach"}, nil)
	return b.NewRecordBatch()
}

func TestCookbookUploadDescribeGetDrop(t *testing.T) {
	srv := startServer(t)
	c := srv.client(t)
	ctx := context.Background()

	rec := characters(memory.DefaultAllocator)
	defer rec.Release()
	putRecords(t, c, "uploaded.parquet", rec.Schema(), rec)

	info, err := c.GetFlightInfo(ctx, pathDescriptor("uploaded.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.GetFlightDescriptor().GetPath(); len(got) != 1 || got[0] != "uploaded.parquet" {
		t.Errorf("descriptor path = %q, want [uploaded.parquet]", got)
	}
	if info.TotalRecords != 3 {
		t.Errorf("total_records = %d, want 3", info.TotalRecords)
	}
	st, err := srv.Store.Stat(ctx, "uploaded.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if info.TotalBytes != st.Bytes || info.TotalBytes <= 0 {
		t.Errorf("total_bytes = %d, want the file size %d", info.TotalBytes, st.Bytes)
	}
	schema, err := flight.DeserializeSchema(info.Schema, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	if schema.NumFields() != 1 || schema.Field(0).Name != "Character" || schema.Field(0).Type.ID() != arrow.STRING {
		t.Errorf("schema = %s, want Character: string", schema)
	}
	if len(info.Endpoint) != 1 || len(info.Endpoint[0].Location) != 0 {
		t.Errorf("endpoints = %v, want one endpoint without locations", info.Endpoint)
	}

	_, recs := getAll(t, c, info.Endpoint[0].Ticket)
	var got []string
	for _, r := range recs {
		col := r.Column(0).(*array.String)
		for i := 0; i < col.Len(); i++ {
			got = append(got, col.Value(i))
		}
	}
	if want := []string{"Mario", "Luigi", "Peach"}; !equalStrings(got, want) {
		t.Errorf("DoGet = %q, want %q", got, want)
	}

	if names := listNames(t, c); !equalStrings(names, []string{"uploaded.parquet"}) {
		t.Errorf("list_flights = %q before drop", names)
	}
	actions, err := c.DoAction(ctx, &flight.Action{Type: "drop_dataset", Body: []byte("uploaded.parquet")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := actions.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("drop_dataset: %v, want no results and EOF", err)
	}
	if names := listNames(t, c); len(names) != 0 {
		t.Errorf("list_flights = %q after drop, want none", names)
	}
}

func TestCookbookStreamedPutAndRead(t *testing.T) {
	const numBatches, rowsPerBatch = 1024, 4096
	srv := startServer(t)
	c := srv.client(t)

	schema := arrow.NewSchema([]arrow.Field{{Name: "ints", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	for i := 0; i < rowsPerBatch; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
	}
	batch := b.NewRecordBatch()
	b.Release()
	defer batch.Release()
	recs := make([]arrow.RecordBatch, numBatches)
	for i := range recs {
		recs[i] = batch
	}
	putRecords(t, c, "streamed.parquet", schema, recs...)

	info, err := c.GetFlightInfo(context.Background(), pathDescriptor("streamed.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := c.DoGet(context.Background(), info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	var total, sum int64
	for rdr.Next() {
		col := rdr.RecordBatch().Column(0).(*array.Int64)
		total += int64(col.Len())
		for _, v := range col.Int64Values() {
			sum += v
		}
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	if total != numBatches*rowsPerBatch {
		t.Errorf("got %d rows total, expected %d", total, numBatches*rowsPerBatch)
	}
	if want := int64(numBatches) * rowsPerBatch * (rowsPerBatch - 1) / 2; sum != want {
		t.Errorf("sum of ints = %d, want %d", sum, want)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
