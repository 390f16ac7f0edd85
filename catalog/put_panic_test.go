package catalog

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// A batch that makes the Parquet writer panic (string offsets that run backwards,
// which only a full validation sees) fails that put with an error and leaves
// nothing behind: the panic happens on the encoding goroutine, where it used to end
// the process. The gRPC layer validates batches before they get here; this is the
// store's own guard.
func TestPutSurvivesWriterPanic(t *testing.T) {
	s, _ := openTestStore(t, t.TempDir(), Options{LandingBudget: -1}) // landed: TestLandedConversionFailure
	rdr := decreasingOffsetsUpload()
	defer rdr.Release()

	_, err := s.Put(context.Background(), "bad.parquet", Create, rdr)
	if err == nil || !strings.Contains(err.Error(), "the Parquet writer failed") {
		t.Fatalf("Put = %v, want the writer's failure", err)
	}
	if errors.Is(err, ErrInvalidData) {
		t.Errorf("a writer panic is a bug, not the client's data: %v", err)
	}
	if _, err := s.Stat(context.Background(), "bad.parquet"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat after the failed put = %v, want ErrNotFound", err)
	}
	assertNoGarbage(t, s.Root())
	put(t, s, "good.parquet", Create, 0, 10) // the store goes on working
	assertIDs(t, s, "good.parquet", seq(0, 10))
}

// decreasingOffsetsUpload is an upload of one string batch whose offsets go back
// (0, 10, 2, 15): what the Parquet writer panics on, and the gRPC layer refuses
// before the store sees it.
func decreasingOffsetsUpload() *scriptedReader {
	offsets := make([]byte, 16)
	for i, v := range []int32{0, 10, 2, 15} {
		binary.LittleEndian.PutUint32(offsets[4*i:], uint32(v))
	}
	data := array.NewData(arrow.BinaryTypes.String, 3,
		[]*memory.Buffer{nil, memory.NewBufferBytes(offsets), memory.NewBufferBytes([]byte("MarioLuigiPeach"))}, nil, 0, 0)
	defer data.Release()
	col := array.MakeFromData(data)
	defer col.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "c", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{col}, 3)
	return newScriptedReader(schema, []arrow.RecordBatch{rec}, -1, nil)
}
