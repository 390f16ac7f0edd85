package main

import (
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/quiverdata/quiver/cmd/quiver/internal/fileformat"
)

// How `quiver sql` prints one value in its table: the way DuckDB's CLI prints it, so
// that a result reads the same in both. Doubles in shortest round-trip form without an
// exponent in the usual range (249443097.17, 3.0, 1e+16), decimals exactly from their
// unscaled integer, dates and times in ISO form, nested values as DuckDB's literals.

// maxCellRunes bounds one cell of the table: the table holds its rows until it renders,
// so a cell must not hold a whole large value. CSV and JSON output are not cut.
const maxCellRunes = 256

// cellString renders row i of col for the table: NULL for nulls.
func cellString(col arrow.Array, i int) string {
	s := valueString(col, i, false)
	if utf8.RuneCountInString(s) > maxCellRunes {
		r := []rune(s)
		s = string(r[:maxCellRunes-1]) + "…"
	}
	return s
}

// valueString renders row i of col; nested is true inside a list or struct, where
// strings are quoted as DuckDB's literals are.
func valueString(col arrow.Array, i int, nested bool) string {
	if col.IsNull(i) {
		return "NULL"
	}
	switch a := col.(type) {
	case *array.String:
		return quoteNested(a.Value(i), nested)
	case *array.LargeString:
		return quoteNested(a.Value(i), nested)
	case *array.StringView:
		return quoteNested(a.Value(i), nested)
	case *array.Float64:
		return formatFloat(a.Value(i), 64)
	case *array.Float32:
		return formatFloat(float64(a.Value(i)), 32)
	case *array.Float16:
		return formatFloat(float64(a.Value(i).Float32()), 32)
	case *array.Decimal32:
		return formatDecimal(big.NewInt(int64(a.Value(i))), a.DataType().(arrow.DecimalType).GetScale())
	case *array.Decimal64:
		return formatDecimal(big.NewInt(int64(a.Value(i))), a.DataType().(arrow.DecimalType).GetScale())
	case *array.Decimal128:
		return formatDecimal(a.Value(i).BigInt(), a.DataType().(arrow.DecimalType).GetScale())
	case *array.Decimal256:
		return formatDecimal(a.Value(i).BigInt(), a.DataType().(arrow.DecimalType).GetScale())
	case *array.Timestamp:
		return formatTimestamp(a, i)
	case *array.Time32:
		unit := a.DataType().(*arrow.Time32Type).Unit
		return formatTimeOfDay(time.Duration(a.Value(i)) * unit.Multiplier())
	case *array.Time64:
		unit := a.DataType().(*arrow.Time64Type).Unit
		return formatTimeOfDay(time.Duration(a.Value(i)) * unit.Multiplier())
	case *array.Binary:
		return formatBlob(a.Value(i))
	case *array.LargeBinary:
		return formatBlob(a.Value(i))
	case *array.BinaryView:
		return formatBlob(a.Value(i))
	case *array.FixedSizeBinary:
		return formatBlob(a.Value(i))
	case *array.Map:
		start, end := a.ValueOffsets(i)
		parts := make([]string, 0, end-start)
		for j := int(start); j < int(end); j++ {
			parts = append(parts, valueString(a.Keys(), j, true)+"="+valueString(a.Items(), j, true))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case array.ListLike:
		start, end := a.ValueOffsets(i)
		parts := make([]string, 0, end-start)
		for j := start; j < end; j++ {
			parts = append(parts, valueString(a.ListValues(), int(j), true))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		parts := make([]string, a.NumField())
		for f := range parts {
			parts[f] = quoteNested(st.Field(f).Name, true) + ": " + valueString(a.Field(f), i, true)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case *array.Dictionary:
		return valueString(a.Dictionary(), a.GetValueIndex(i), nested)
	}
	return col.ValueStr(i)
}

func quoteNested(s string, nested bool) string {
	if !nested {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// formatFloat prints f as DuckDB does, as CSV output does too.
func formatFloat(f float64, bits int) string { return fileformat.FormatFloat(f, bits) }

// formatDecimal prints the decimal whose unscaled value is n exactly: no float on the way.
func formatDecimal(n *big.Int, scale int32) string {
	digits := new(big.Int).Abs(n).String()
	sign := ""
	if n.Sign() < 0 {
		sign = "-"
	}
	switch {
	case scale <= 0:
		return sign + digits + strings.Repeat("0", int(-scale))
	case int(scale) >= len(digits):
		return sign + "0." + strings.Repeat("0", int(scale)-len(digits)) + digits
	}
	cut := len(digits) - int(scale)
	return sign + digits[:cut] + "." + digits[cut:]
}

// formatTimestamp prints "2024-01-02 03:04:05[.fraction]", and for a timestamp with a
// time zone the value in that zone with its offset, "+00" or "+05:30", as DuckDB does.
func formatTimestamp(a *array.Timestamp, i int) string {
	tt := a.DataType().(*arrow.TimestampType)
	toTime, err := tt.GetToTimeFunc()
	if err != nil {
		return a.ValueStr(i)
	}
	t := toTime(a.Value(i))
	s := t.Format("2006-01-02 15:04:05.999999999")
	if tt.TimeZone == "" {
		return s
	}
	_, off := t.Zone()
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	s += sign + twoDigits(off/3600)
	if m := off % 3600 / 60; m != 0 {
		s += ":" + twoDigits(m)
	}
	return s
}

// formatTimeOfDay prints a time of day as "15:04:05[.fraction]".
func formatTimeOfDay(d time.Duration) string {
	return time.Unix(0, 0).UTC().Add(d).Format("15:04:05.999999999")
}

// formatBlob prints bytes as DuckDB prints a BLOB: printable ASCII as is, every other
// byte (and the backslash) as \xHH.
func formatBlob(b []byte) string {
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f && c != '\\' {
			sb.WriteByte(c)
			continue
		}
		sb.WriteString(`\x`)
		sb.WriteByte(hex[c>>4])
		sb.WriteByte(hex[c&0xf])
	}
	return sb.String()
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}
