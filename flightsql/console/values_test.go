package console

import (
	"encoding/json"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestAppendJSONNumbers(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ib := array.NewInt64Builder(mem)
	ib.AppendValues([]int64{maxSafeInt, maxSafeInt + 1, -maxSafeInt, -maxSafeInt - 1, math.MinInt64}, nil)
	ints := ib.NewArray()
	defer ints.Release()
	ib.Release()
	ub := array.NewUint64Builder(mem)
	ub.AppendValues([]uint64{maxSafeInt, math.MaxUint64}, nil)
	uints := ub.NewArray()
	defer uints.Release()
	ub.Release()
	fb := array.NewFloat64Builder(mem)
	fb.AppendValues([]float64{math.NaN(), math.Inf(1), math.Inf(-1), 0.1, -0.0}, nil)
	fb.AppendNull()
	floats := fb.NewArray()
	defer floats.Release()
	fb.Release()

	var got []string
	for _, a := range []arrow.Array{ints, uints, floats} {
		for i := 0; i < a.Len(); i++ {
			got = append(got, string(appendJSON(nil, a, i)))
		}
	}
	want := `9007199254740992 "9007199254740993" -9007199254740992 "-9007199254740993" "-9223372036854775808" ` +
		`9007199254740992 "18446744073709551615" "NaN" "Infinity" "-Infinity" 0.1 0 null`
	if strings.Join(got, " ") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
}

// FuzzAppendString checks that every string, valid UTF-8 or not, becomes a JSON
// string that decodes to it (invalid bytes as U+FFFD) and holds no raw '<'.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `"quoted" \ back`, "</script><b>", "tab\tnew\nline\x00", "\xff\xfe", "\u2028\u2029", "日本語"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("appendString(%q) = %s: not JSON: %v", s, b, err)
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); utf8.ValidString(s) && back != want {
			t.Fatalf("appendString(%q) decodes to %q", s, back)
		}
		if strings.ContainsAny(string(b), "<>&\u2028\u2029") {
			t.Fatalf("appendString(%q) = %s holds characters unsafe in HTML", s, b)
		}
	})
}

// FuzzResultFormat feeds the format parameter and Accept header: an answer or a
// clear InvalidArgument, never a panic.
func FuzzResultFormat(f *testing.F) {
	f.Add("", "application/json")
	f.Add("csv", "")
	f.Add("", "text/csv;q=0.9, application/vnd.apache.arrow.stream")
	f.Add("PARQUET", "*/*")
	f.Add("x", ";;;,,")
	f.Fuzz(func(t *testing.T, format, accept string) {
		r := httptest.NewRequest("POST", "/api/query", nil)
		q := r.URL.Query()
		if format != "" {
			q.Set("format", format)
		}
		r.URL.RawQuery = q.Encode()
		r.Header["Accept"] = []string{accept}
		f, err := resultFormat(r)
		if err != nil {
			if st := statusOf(err); st.Code().String() != "InvalidArgument" || !strings.Contains(st.Message(), "format") {
				t.Fatalf("error %v", err)
			}
			return
		}
		if f < formatJSON || f > formatParquet {
			t.Fatalf("format %d", f)
		}
	})
}
