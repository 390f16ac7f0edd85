package integration

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"google.golang.org/grpc/codes"
)

// TestHandDroppedFiles writes Parquet files straight into the root of a running
// server, as a person copying sales.parquet in would: they are listed and served,
// a hand overwrite shows new metadata, a hand delete makes the dataset go away.
func TestHandDroppedFiles(t *testing.T) {
	skipOnS3(t, "overwrites and deletes a file in the root directory by hand and compares its size on disk")
	srv := startServer(t)
	c := srv.client(t)
	ctx := context.Background()
	mem := memory.DefaultAllocator
	path := filepath.Join(srv.Root, "sales.parquet")

	first := stringRecord(mem, "region", "north", "south")
	defer first.Release()
	writeParquetFile(t, path, first)

	infos := listInfos(t, c)
	if len(infos) != 1 || infos[0].GetFlightDescriptor().GetPath()[0] != "sales.parquet" || infos[0].TotalRecords != 2 {
		t.Fatalf("list_flights after dropping sales.parquet in = %v", infos)
	}
	if st, _ := os.Stat(path); infos[0].TotalBytes != st.Size() {
		t.Errorf("total_bytes = %d, want the file size %d", infos[0].TotalBytes, st.Size())
	}
	wantSchema(t, infos[0], "region", arrow.STRING)
	if got, err := tryGet(ctx, c, infos[0].Endpoint[0].Ticket.Ticket); err != nil || !slices.Equal(got, []string{"north", "south"}) {
		t.Fatalf("DoGet sales.parquet = %q, %v", got, err)
	}

	// Overwritten in place (same inode) with another schema and row count.
	second := int64Record(mem, "amount", 100, 5)
	defer second.Release()
	writeParquetFile(t, path, second)
	info, err := c.GetFlightInfo(ctx, pathDescriptor("sales.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if info.TotalRecords != 5 {
		t.Errorf("total_records after the overwrite = %d, want 5", info.TotalRecords)
	}
	wantSchema(t, info, "amount", arrow.INT64)
	if st, _ := os.Stat(path); info.TotalBytes != st.Size() {
		t.Errorf("total_bytes after the overwrite = %d, want the file size %d", info.TotalBytes, st.Size())
	}
	if got, err := tryGet(ctx, c, []byte("sales.parquet")); err != nil || !slices.Equal(got, []string{"100", "101", "102", "103", "104"}) {
		t.Fatalf("DoGet after the overwrite = %q, %v", got, err)
	}
	if infos := listInfos(t, c); len(infos) != 1 || infos[0].TotalRecords != 5 {
		t.Errorf("list_flights after the overwrite = %v", infos)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if infos := listInfos(t, c); len(infos) != 0 {
		t.Errorf("list_flights after the delete = %v, want none", infos)
	}
	_, err = c.GetFlightInfo(ctx, pathDescriptor("sales.parquet"))
	wantStatus(t, err, codes.NotFound, `"sales.parquet"`)
	_, err = tryGet(ctx, c, []byte("sales.parquet"))
	wantStatus(t, err, codes.NotFound, `"sales.parquet"`)
}

// writeParquetFile writes rec to path with pqarrow, in place, as a tool would.
func writeParquetFile(t testing.TB, path string, rec arrow.RecordBatch) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(rec.Schema(), f, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // closes f too
		t.Fatal(err)
	}
}

func listInfos(t testing.TB, c flight.Client) []*flight.FlightInfo {
	t.Helper()
	stream, err := c.ListFlights(context.Background(), &flight.Criteria{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*flight.FlightInfo
	for {
		info, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, info)
	}
}

func wantSchema(t testing.TB, info *flight.FlightInfo, col string, typ arrow.Type) {
	t.Helper()
	s, err := flight.DeserializeSchema(info.Schema, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	if s.NumFields() != 1 || s.Field(0).Name != col || s.Field(0).Type.ID() != typ {
		t.Errorf("schema = %s, want %s: %s", s, col, typ)
	}
}
