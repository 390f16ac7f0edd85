package flightsql

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// stringArray builds a string (or large string) array directly from raw offsets and
// bytes, as a client's IPC message can: nothing checks them on the way in.
func stringArray(large bool, offsets []int64, data []byte, nulls []bool, sliceOff, sliceLen int) arrow.Array {
	var dt arrow.DataType = arrow.BinaryTypes.String
	var offBuf *memory.Buffer
	if large {
		dt = arrow.BinaryTypes.LargeString
		offBuf = memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(offsets))
	} else {
		o32 := make([]int32, len(offsets))
		for i, o := range offsets {
			o32[i] = int32(o)
		}
		offBuf = memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(o32))
	}
	var validity *memory.Buffer
	nullCount := 0
	if nulls != nil {
		bits := make([]byte, (len(nulls)+7)/8)
		for i, isNull := range nulls {
			if isNull {
				nullCount++
			} else {
				bits[i/8] |= 1 << (i % 8)
			}
		}
		validity = memory.NewBufferBytes(bits)
	}
	n := len(offsets) - 1
	d := array.NewData(dt, n, []*memory.Buffer{validity, offBuf, memory.NewBufferBytes(data)}, nil, nullCount, 0)
	defer d.Release()
	arr := array.MakeFromData(d)
	if sliceLen < 0 {
		return arr
	}
	defer arr.Release()
	return array.NewSlice(arr, int64(sliceOff), int64(sliceOff+sliceLen))
}

// refused runs a check and turns a panic into an error: ValidateFull slices by the
// offsets it checks and panics on some (the intake recovers it as a refusal).
func refused(check func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return check()
}

// madeOrNil returns make's array, or nil if making it panics.
func madeOrNil(make func() arrow.Array) (arr arrow.Array) {
	defer func() {
		if recover() != nil {
			arr = nil
		}
	}()
	return make()
}

// TestValidateColumnAgrees checks that the intake's check of a column accepts and
// refuses exactly the string arrays array.ValidateFull does, on hand-picked cases
// (strings valid as a whole but cut inside a character, offsets that run backwards
// or past the data, wrong null counts) and on random ones.
func TestValidateColumnAgrees(t *testing.T) {
	euro := "\u20ac" // 3 bytes: e2 82 ac
	cases := []struct {
		name    string
		offsets []int64
		data    string
		nulls   []bool
		off, n  int // slice; n < 0: none
		wantErr bool
	}{
		{"ascii", []int64{0, 1, 3, 6}, "abcdef", nil, 0, -1, false},
		{"empty array", []int64{0}, "", nil, 0, -1, false},
		{"multibyte whole values", []int64{0, 3, 6}, euro + euro, nil, 0, -1, false},
		{"valid whole, cut inside a character", []int64{0, 1, 3}, euro, nil, 0, -1, true},
		{"valid whole, cut at the end of a character's first byte", []int64{0, 1, 6}, euro + euro, nil, 0, -1, true},
		{"invalid byte", []int64{0, 2}, "a\xff", nil, 0, -1, true},
		{"truncated character at the end", []int64{0, 2}, euro[:2], nil, 0, -1, true},
		{"offsets run backwards", []int64{0, 4, 2, 6}, "abcdef", nil, 0, -1, true},
		{"negative first offset", []int64{-1, 2}, "ab", nil, 0, -1, true},
		{"offset past the data", []int64{0, 9, 4}, "abcd", nil, 0, -1, true},
		{"null slot with invalid bytes", []int64{0, 1, 2}, "a\xff", []bool{false, true}, 0, -1, true},
		{"slice skips a bad value", []int64{0, 1, 2, 3}, "\xffbc", nil, 1, 2, false},
		{"slice starting inside a character", []int64{0, 3, 4, 6}, euro + "abc", nil, 1, 2, false},
		{"slice cutting a character", []int64{0, 1, 3, 6}, euro + "abc", nil, 1, 2, true},
	}
	for _, c := range cases {
		for _, large := range []bool{false, true} {
			name := c.name
			if large {
				name += "/large"
			}
			t.Run(name, func(t *testing.T) {
				arr := stringArray(large, c.offsets, []byte(c.data), c.nulls, c.off, c.n)
				defer arr.Release()
				full := refused(func() error { return array.ValidateFull(arr) })
				got := refused(func() error { return validateColumn(arr) })
				if (full != nil) != c.wantErr {
					t.Fatalf("ValidateFull = %v; the case expects error %v (the case is wrong)", full, c.wantErr)
				}
				if (got != nil) != c.wantErr {
					t.Fatalf("validateColumn = %v, want error %v (ValidateFull: %v)", got, c.wantErr, full)
				}
			})
		}
	}

	// Random arrays over an alphabet of bytes that make and break characters.
	alphabet := []byte{'a', 'z', 0xe2, 0x82, 0xac, 0xc3, 0xa9, 0xff, 0xf0, 0x9f, 0x98, 0x80}
	rnd := rand.New(rand.NewSource(1))
	var disagree []string
	for i := 0; i < 20000; i++ {
		data := make([]byte, rnd.Intn(12))
		for j := range data {
			data[j] = alphabet[rnd.Intn(len(alphabet))]
		}
		n := rnd.Intn(5)
		offsets := make([]int64, n+1)
		for j := 1; j <= n; j++ {
			offsets[j] = offsets[j-1] + int64(rnd.Intn(4)) - 1 // sometimes backwards
		}
		for j := range offsets {
			if rnd.Intn(10) == 0 {
				offsets[j] = int64(rnd.Intn(len(data) + 3)) // sometimes anywhere
			}
		}
		for j := range offsets {
			offsets[j] = max(offsets[j], 0)
		}
		arr := madeOrNil(func() arrow.Array { return stringArray(rnd.Intn(2) == 0, offsets, data, nil, 0, -1) })
		if arr == nil {
			continue // arrow-go refuses to make it (the last offset is past the data)
		}
		full := refused(func() error { return array.ValidateFull(arr) })
		if (full == nil) != (refused(func() error { return validateColumn(arr) }) == nil) {
			disagree = append(disagree, fmt.Sprintf("offsets %v, data %x", offsets, data))
		}
		arr.Release()
	}
	if len(disagree) > 0 {
		t.Fatalf("validateColumn and ValidateFull disagree on %d random arrays, e.g. %q", len(disagree), disagree[0])
	}
}

// BenchmarkValidateStrings compares the intake's check of a 64Ki-row column of
// 16-character strings with array.ValidateFull on the same column.
func BenchmarkValidateStrings(b *testing.B) {
	bld := array.NewStringBuilder(memory.DefaultAllocator)
	for i := 0; i < 64<<10; i++ {
		bld.Append(fmt.Sprintf("%016x", uint64(i)*0x9E3779B97F4A7C15))
	}
	arr := bld.NewArray()
	bld.Release()
	defer arr.Release()
	bytes := int64(len(arr.(*array.String).ValueBytes()))
	for _, c := range []struct {
		name  string
		check func(arrow.Array) error
	}{{"ValidateFull", array.ValidateFull}, {"intake", validateColumn}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(bytes)
			for i := 0; i < b.N; i++ {
				if err := c.check(arr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
