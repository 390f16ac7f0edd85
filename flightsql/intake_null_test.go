package flightsql

import (
	"bytes"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Columns of Arrow's null type, as arrow-go's IPC reader decodes them (no buffer
// slot), pass validation, alone and nested: ADBC binds a Python None as one. The
// decoded columns fail array.ValidateFull itself, which is why validateColumn exists.
func TestValidateColumnAcceptsDecodedNullColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "n", Type: arrow.Null, Nullable: true},
		{Name: "s", Type: arrow.StructOf(arrow.Field{Name: "x", Type: arrow.Null, Nullable: true}), Nullable: true},
		{Name: "l", Type: arrow.ListOf(arrow.Null), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.NullBuilder).AppendNulls(3)
	sb := b.Field(1).(*array.StructBuilder)
	for range 3 {
		sb.Append(true)
		sb.FieldBuilder(0).(*array.NullBuilder).AppendNull()
	}
	lb := b.Field(2).(*array.ListBuilder)
	for range 3 {
		lb.Append(true)
		lb.ValueBuilder().(*array.NullBuilder).AppendNulls(2)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()

	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := ipc.NewReader(&buf, ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if !r.Next() {
		t.Fatalf("no batch: %v", r.Err())
	}
	got := r.RecordBatch()
	if err := array.ValidateFull(got.Column(0)); err == nil {
		t.Log("arrow-go's ValidateFull now accepts a decoded null column; validateColumn's copy may go")
	}
	for i, col := range got.Columns() {
		if err := validateColumn(col); err != nil {
			t.Errorf("column %q: %v", got.ColumnName(i), err)
		}
	}
	// What is wrong elsewhere in such a column is still caught: a list of nulls
	// whose offsets run backwards.
	child := array.NewData(arrow.Null, 3, nil, nil, 3, 0) // as IPC decodes it
	defer child.Release()
	offsets := memory.NewBufferBytes(arrow.Int32Traits.CastToBytes([]int32{0, 2, 1, 3}))
	bad := array.NewData(arrow.ListOf(arrow.Null), 3, []*memory.Buffer{nil, offsets}, []arrow.ArrayData{child}, 0, 0)
	defer bad.Release()
	badArr := array.MakeFromData(bad)
	defer badArr.Release()
	if err := validateColumn(badArr); err == nil {
		t.Error("a list of nulls whose offsets run backwards passed")
	}
}
