package main

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestFormatFloat(t *testing.T) {
	cases := []struct {
		in   float64
		bits int
		want string
	}{
		{249443097.17, 64, "249443097.17"}, // the sum: not 2.4944309717e+08
		{3, 64, "3.0"},
		{0.1, 64, "0.1"},
		{-2.5, 64, "-2.5"},
		{0, 64, "0.0"},
		{0.0001, 64, "0.0001"},
		{0.00001, 64, "1e-05"},
		{1e15, 64, "1000000000000000.0"},
		{1e16, 64, "1e+16"},
		{123456789012.375, 64, "123456789012.375"},
		{float64(float32(0.1)), 32, "0.1"},
		{math.NaN(), 64, "nan"},
		{math.Inf(1), 64, "inf"},
		{math.Inf(-1), 64, "-inf"},
	}
	for _, c := range cases {
		if got := formatFloat(c.in, c.bits); got != c.want {
			t.Errorf("formatFloat(%v, %d) = %q, want %q", c.in, c.bits, got, c.want)
		}
	}
}

func TestFormatDecimalExact(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	b := array.NewDecimal128Builder(mem, &arrow.Decimal128Type{Precision: 38, Scale: 2})
	defer b.Release()
	big, _ := decimal128.FromString("123456789012345678901234567890123.45", 38, 2)
	b.Append(big)
	b.Append(decimal128.FromI64(-5))  // -0.05
	b.Append(decimal128.FromI64(100)) // 1.00
	b.AppendNull()
	arr := b.NewArray()
	defer arr.Release()
	want := []string{"123456789012345678901234567890123.45", "-0.05", "1.00", "NULL"}
	for i, w := range want {
		if got := cellString(arr, i); got != w {
			t.Errorf("row %d = %q, want %q", i, got, w)
		}
	}
	if got := formatDecimal(decimal128.FromI64(7).BigInt(), -2); got != "700" {
		t.Errorf("negative scale: %q", got)
	}
}

func TestCellStringTemporalAndNested(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	ts := time.Date(2024, 3, 4, 5, 6, 7, 250_000_000, time.UTC)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "d", Type: arrow.FixedWidthTypes.Date32},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}},
		{Name: "tstz", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "t", Type: arrow.FixedWidthTypes.Time64us},
		{Name: "l", Type: arrow.ListOf(arrow.BinaryTypes.String)},
		{Name: "s", Type: arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int64})},
		{Name: "b", Type: arrow.BinaryTypes.Binary},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.Date32Builder).Append(arrow.Date32FromTime(ts))
	b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(ts.UnixMicro()))
	b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(ts.UnixMicro()))
	b.Field(3).(*array.Time64Builder).Append(arrow.Time64((5*3600 + 6*60 + 7) * 1e6))
	lb := b.Field(4).(*array.ListBuilder)
	lb.Append(true)
	lb.ValueBuilder().(*array.StringBuilder).AppendValues([]string{"x", "it's"}, nil)
	sb := b.Field(5).(*array.StructBuilder)
	sb.Append(true)
	sb.FieldBuilder(0).(*array.Int64Builder).Append(42)
	b.Field(6).(*array.BinaryBuilder).Append([]byte{'a', 0, 0xff})
	rec := b.NewRecordBatch()
	defer rec.Release()
	want := []string{"2024-03-04", "2024-03-04 05:06:07.25", "2024-03-04 05:06:07.25+00", "05:06:07",
		"['x', 'it''s']", "{'a': 42}", `a\x00\xFF`}
	for c, w := range want {
		if got := cellString(rec.Column(c), 0); got != w {
			t.Errorf("%s = %q, want %q", schema.Field(c).Name, got, w)
		}
	}
}

func TestCellStringBounded(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.Append(strings.Repeat("é", 10_000))
	arr := b.NewArray()
	defer arr.Release()
	got := []rune(cellString(arr, 0))
	if len(got) != maxCellRunes || got[len(got)-1] != '…' {
		t.Errorf("a 10000-rune cell became %d runes ending %q", len(got), got[len(got)-1])
	}
}

// int64Batch is a batch of one BIGINT column n holding from, from+1, ...
func int64Batch(mem memory.Allocator, from, n int64) arrow.RecordBatch {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	for i := range n {
		b.Append(from + i)
	}
	arr := b.NewArray()
	defer arr.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{arr}, n)
}

func TestResultTableHeadAndTail(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	cases := []struct {
		limit, rows int64
		shown       string // the values printed, in order; ... for the dots
	}{
		{limit: 6, rows: 4, shown: "0 1 2 3"},
		{limit: 6, rows: 6, shown: "0 1 2 3 4 5"},
		{limit: 6, rows: 1000, shown: "0 1 2 ... 997 998 999"},
		{limit: 5, rows: 1000, shown: "0 1 2 ... 998 999"},
		{limit: 1, rows: 10, shown: "0 ..."},
		{limit: 0, rows: 50, shown: ""},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("limit%d_rows%d", c.limit, c.rows), func(t *testing.T) {
			var rt *resultTable
			for from := int64(0); from < c.rows; from += 7 { // batches of 7 rows
				rec := int64Batch(mem, from, min(7, c.rows-from))
				if rt == nil {
					rt = newResultTable(rec.Schema(), nil, c.limit)
				}
				rt.add(rec)
				rec.Release()
			}
			if rt.rows != c.rows {
				t.Errorf("counted %d rows, want %d", rt.rows, c.rows)
			}
			if c.limit > 0 && rt.shown() > c.limit {
				t.Errorf("holds %d rows, limit %d", rt.shown(), c.limit)
			}
			var out bytes.Buffer
			rt.render(&out)
			var got []string
			for _, line := range strings.Split(out.String(), "\n") {
				f := strings.Trim(line, "│ ")
				switch {
				case f == "·":
					if len(got) == 0 || got[len(got)-1] != "..." {
						got = append(got, "...")
					}
				case f != "" && f[0] >= '0' && f[0] <= '9':
					got = append(got, f)
				}
			}
			if c.shown == "" {
				if len(got) != int(c.rows) {
					t.Errorf("--max-rows 0 printed %d rows, want %d", len(got), c.rows)
				}
				return
			}
			if strings.Join(got, " ") != c.shown {
				t.Errorf("printed %q, want %q\n%s", strings.Join(got, " "), c.shown, out.String())
			}
			if !strings.Contains(out.String(), "bigint") {
				t.Errorf("no type under the header:\n%s", out.String())
			}
		})
	}
}

func TestSQLTypeNamesFromMetadata(t *testing.T) {
	md := arrow.NewMetadata([]string{"ARROW:FLIGHT:SQL:TYPE_NAME"}, []string{"DECIMAL(18,3)"})
	announced := arrow.NewSchema([]arrow.Field{{Name: "x", Type: &arrow.Decimal128Type{Precision: 18, Scale: 3}, Metadata: md}}, nil)
	streamed := arrow.NewSchema([]arrow.Field{{Name: "x", Type: &arrow.Decimal128Type{Precision: 18, Scale: 3}}}, nil)
	if got := sqlTypeNames(streamed, announced); got[0] != "decimal(18,3)" {
		t.Errorf("from metadata: %q", got)
	}
	if got := sqlTypeNames(streamed, nil); got[0] != "decimal(18,3)" {
		t.Errorf("from the Arrow type: %q", got)
	}
}
