package catalog

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// TestDefaultLayoutPrunes checks the layout Put writes by default is one a lookup can
// prune: row groups of DefaultRowGroupRows rows, each with min/max statistics on every
// column, so an engine reading `WHERE id = k` decodes one row group, not a million rows.
func TestDefaultLayoutPrunes(t *testing.T) {
	s, mem := newTestStore(t)
	const batch = 1024
	const rows = 2*DefaultRowGroupRows + batch
	rdr := batches(mem, 0, batch, rows/batch) // ids 0..rows-1, ascending
	defer rdr.Release()
	if _, err := s.Put(context.Background(), "d", Create, rdr); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	pf, err := file.OpenParquetFile(filepath.Join(s.Root(), "d"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	var sizes []int64
	for i := 0; i < pf.NumRowGroups(); i++ {
		rg := pf.MetaData().RowGroup(i)
		sizes = append(sizes, rg.NumRows())
		for c := 0; c < rg.NumColumns(); c++ {
			col, err := rg.ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := col.StatsSet(); !ok || err != nil {
				t.Fatalf("row group %d, column %s: no statistics (%v)", i, col.PathInSchema(), err)
			}
		}
		idCol, err := rg.ColumnChunk(0)
		if err != nil {
			t.Fatal(err)
		}
		st, err := idCol.Statistics()
		if err != nil {
			t.Fatal(err)
		}
		ids, ok := st.(*metadata.Int64Statistics)
		if !ok || !ids.HasMinMax() {
			t.Fatalf("row group %d: id statistics %T without min/max", i, st)
		}
		first := int64(i) * DefaultRowGroupRows
		if ids.Min() != first || ids.Max() != first+rg.NumRows()-1 {
			t.Fatalf("row group %d: ids [%d, %d], want [%d, %d]", i, ids.Min(), ids.Max(), first, first+rg.NumRows()-1)
		}
	}
	if want := []int64{DefaultRowGroupRows, DefaultRowGroupRows, batch}; !reflect.DeepEqual(sizes, want) {
		t.Fatalf("row groups of %v rows, want %v", sizes, want)
	}
}
