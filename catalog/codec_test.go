package catalog

import (
	"bytes"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/snappy"
)

// TestSnappyCodecIsStandard checks that the fast Snappy encoder registered at init is
// the one in use, and that what it writes is standard Snappy that the reference
// decoder reads back.
func TestSnappyCodecIsStandard(t *testing.T) {
	codec, err := compress.GetCodec(compress.Codecs.Snappy)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := codec.(fastSnappy); !ok {
		t.Fatalf("Snappy codec is %T, want fastSnappy", codec)
	}
	if _, ok := codec.(compress.ErrorCodec); !ok {
		t.Error("the wrapped codec lost DecodeWithError")
	}
	src := bytes.Repeat([]byte("quiver stores parquet 0123456789abcdef "), 5000)
	enc := codec.Encode(nil, src)
	if len(enc) >= len(src)/4 {
		t.Errorf("encoded %d bytes into %d: not compressing", len(src), len(enc))
	}
	dec, err := snappy.Decode(nil, enc)
	if err != nil || !bytes.Equal(dec, src) {
		t.Fatalf("reference decoder: err %v, round trip equal %v", err, bytes.Equal(dec, src))
	}
	if _, err := compress.Decode(codec, nil, enc[:len(enc)/2]); err == nil {
		t.Error("a truncated page decoded without error")
	}
}
