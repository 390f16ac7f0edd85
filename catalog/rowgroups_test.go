package catalog

import (
	"bytes"
	"context"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// TestRowGroupWriterCuts checks where rowGroupWriter cuts row groups: at maxRows
// rows across batches of any size, or earlier once the held batches reach maxBytes,
// and that every row arrives once, in order, and every batch is released.
func TestRowGroupWriterCuts(t *testing.T) {
	perRow := BatchBytes(makeBatch(memory.DefaultAllocator, 0, 1000)) / 1000 // rows are about this size
	cases := []struct {
		name     string
		batch    int64 // rows per batch
		count    int
		maxRows  int64
		maxBytes int64
		want     []int64
	}{
		{"batches straddle groups", 300, 12, 1000, 1 << 30, []int64{1000, 1000, 1000, 600}},
		{"batch larger than a group", 2500, 2, 1000, 1 << 30, []int64{1000, 1000, 1000, 1000, 1000}},
		{"exact fit", 500, 4, 1000, 1 << 30, []int64{1000, 1000}},
		{"bytes cut first", 100, 10, 1000, 250 * perRow, []int64{300, 300, 300, 100}},
		{"one batch over the bytes", 400, 2, 1000, 100 * perRow, []int64{400, 400}},
		{"empty batches", 0, 3, 1000, 1 << 30, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
			defer mem.AssertSize(t, 0)
			var out bytes.Buffer
			w, err := pqarrow.NewFileWriter(testSchema, &out,
				parquet.NewWriterProperties(parquet.WithAllocator(mem), parquet.WithMaxRowGroupLength(c.maxRows)),
				pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem)))
			if err != nil {
				t.Fatal(err)
			}
			g := newRowGroupWriter(w, c.maxRows, c.maxBytes)
			for i := 0; i < c.count; i++ {
				rec := makeBatch(mem, int64(i)*c.batch, c.batch)
				err := g.add(rec)
				rec.Release()
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := g.finish(); err != nil {
				t.Fatal(err)
			}
			g.release()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			pf, err := file.NewParquetReader(bytes.NewReader(out.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			defer pf.Close()
			var sizes []int64
			for i := 0; i < pf.NumRowGroups(); i++ {
				sizes = append(sizes, pf.MetaData().RowGroup(i).NumRows())
			}
			if !reflect.DeepEqual(sizes, c.want) {
				t.Fatalf("row groups of %v rows, want %v", sizes, c.want)
			}
			fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1 << 20}, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			rdr, err := fr.GetRecordReader(context.Background(), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer rdr.Release()
			if got, want := drain(t, rdr), seq(0, c.batch*int64(c.count)); !equalIDs(got, want) {
				t.Fatalf("ids %s, want %s", abbrev(got), abbrev(want))
			}
		})
	}
}
