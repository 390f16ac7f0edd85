package catalog

import (
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/s2"
)

// arrow-go compresses Snappy pages with klauspost's snappy.Encode, which is
// s2.EncodeSnappyBetter: a slower search for longer matches. Measured on the
// benchmark's 10M x 4 dataset (int64, float64, int64, 16-char string), it took 35-40%
// of a put's CPU; s2.EncodeSnappy, the fast search, cut the Parquet write from
// 3.8-3.9 s to 2.0-2.9 s for a file 7% larger (260 MB, not 243 MB), and the file
// decodes faster too (reads 0.64-0.79 s, not 0.87-0.94 s). Both emit the standard
// Snappy block format, so every Parquet reader reads the files as before; decoding
// is arrow-go's own.
//
// The codec registry is process-wide and not synchronised, so this is registered at
// init, as compress.RegisterCodec intends, and applies to every Parquet file written
// with Snappy in the process.
func init() {
	codec, err := compress.GetCodec(compress.Codecs.Snappy)
	if err != nil {
		panic(err) // arrow-go registers Snappy in its own init
	}
	full, ok := codec.(snappyCodec)
	if !ok {
		return // arrow-go's codec changed shape: keep it rather than lose a method
	}
	compress.RegisterCodec(compress.Codecs.Snappy, fastSnappy{full})
}

// snappyCodec is every interface arrow-go's own Snappy codec implements, so that
// wrapping it hides none of them (DecodeWithError reports corrupt pages as errors,
// not panics).
type snappyCodec interface {
	compress.ErrorCodec
	compress.StreamingCodec
}

// fastSnappy is arrow-go's Snappy codec with the fast block encoder.
type fastSnappy struct{ snappyCodec }

func (fastSnappy) Encode(dst, src []byte) []byte { return s2.EncodeSnappy(dst, src) }

func (fastSnappy) EncodeLevel(dst, src []byte, _ int) []byte { return s2.EncodeSnappy(dst, src) }
