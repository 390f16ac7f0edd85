package console

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// Statistics from Parquet footers. Each row group of each part records, per column
// chunk, a null count and a min and max; merged over row groups and parts they give a
// dataset's nulls, min and max without reading its data. Where a footer lacks one
// (no statistics written, a nested column, a writer whose values cannot be trusted)
// the answer is unknown, never a guess.

// bytesWriters are the writers (created_by) whose string and binary min and max are
// whole values: they drop statistics that are too long rather than truncate them
// (names as metadata.AppVersion parses them, lower case).
// Other writers (parquet-rs truncates to 64 bytes by default) may write a prefix,
// which is a bound but not the column's min or max.
var bytesWriters = map[string]bool{"parquet-go": true, "parquet-cpp-arrow": true, "parquet-mr": true, "duckdb": true}

// footerColumn accumulates one top-level column's statistics over row groups.
type footerColumn struct {
	kind       string // how values decode and print; "" when min and max are not known
	nulls      int64
	nullsKnown bool
	minKnown   bool // min and max stay known while every chunk has them
	min, max   statValue
	seen       bool // some chunk had a value
}

// statValue is one min or max, decoded for comparison.
type statValue struct {
	i   int64
	u   uint64
	f   float64
	b   []byte
	big *big.Int
}

// footerPart is one Parquet part whose footer footerStats reads: a name for
// messages and its bytes.
type footerPart struct {
	name string
	r    parquet.ReaderAtSeeker
}

// footerStats reads the footers of a dataset's parts and answers, for each column of
// fields (the dataset as SQL sees it), nulls, min and max as DuckDB prints them.
func footerStats(ctx context.Context, parts []footerPart, fields []arrow.Field) ([]columnStats, error) {
	cols := make([]footerColumn, len(fields))
	for i, f := range fields {
		cols[i] = footerColumn{kind: kindOf(typeName(f)), nullsKnown: !nested(f.Type), minKnown: !nested(f.Type)}
	}
	for _, p := range parts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := readFooterStats(p, fields, cols); err != nil {
			return nil, err
		}
	}
	out := make([]columnStats, len(fields))
	for i, f := range fields {
		c := cols[i]
		st := columnStats{Column: f.Name}
		if c.nullsKnown {
			n := c.nulls
			st.Nulls = &n
		}
		if c.minKnown && c.kind != "" && c.seen {
			st.Min, st.Max = c.display(c.min, typeName(f)), c.display(c.max, typeName(f))
			if st.Min == nil || st.Max == nil {
				st.Min, st.Max = nil, nil
			}
		}
		out[i] = st
	}
	return out, nil
}

// readFooterStats merges one part's row groups into cols. The footer is data from
// disk: a panic decoding it is an error, not a crash.
func readFooterStats(part footerPart, fields []arrow.Field, cols []footerColumn) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("read Parquet footer of part %s: %v", part.name, p)
		}
	}()
	r, err := file.NewParquetReader(part.r)
	if err != nil {
		return fmt.Errorf("read Parquet footer of part %s: %w", part.name, err)
	}
	md := r.MetaData()
	trustBytes := bytesWriters[md.WriterVersion().App]
	root := md.Schema.Root()
	for i, f := range fields {
		c := &cols[i]
		if !c.nullsKnown && !c.minKnown {
			continue
		}
		// SQL's columns are the file's top-level fields in order. Matching by
		// position and checking the name (rather than looking the name up) keeps a
		// column DuckDB renamed (a duplicate name) from taking another's statistics.
		idx := -1
		if root.NumFields() == len(fields) {
			if n := root.Field(i); n.Name() == f.Name && n.Type() == schema.Primitive {
				idx = md.Schema.ColumnIndexByNode(n)
			}
		}
		if idx < 0 || md.Schema.Column(idx).MaxRepetitionLevel() != 0 {
			c.nullsKnown, c.minKnown = false, false
			continue
		}
		descr := md.Schema.Column(idx)
		decode := decoderFor(c.kind, typeName(f), descr, trustBytes)
		for g := 0; g < md.NumRowGroups(); g++ {
			chunk, err := md.RowGroup(g).ColumnChunk(idx)
			if err != nil {
				return fmt.Errorf("read Parquet footer of part %s: column %q: %w", part.name, f.Name, err)
			}
			c.merge(chunk, decode)
		}
	}
	return nil
}

// merge adds one column chunk's statistics.
func (c *footerColumn) merge(chunk *metadata.ColumnChunkMetaData, decode func(metadata.TypedStatistics) (lo, hi statValue, ok bool)) {
	st, err := chunk.Statistics()
	if err != nil || st == nil {
		c.nullsKnown, c.minKnown = false, false
		return
	}
	allNull := false
	if st.HasNullCount() {
		c.nulls += st.NullCount()
		allNull = st.NullCount() == chunk.NumValues()
	} else {
		c.nullsKnown = false
	}
	if !c.minKnown {
		return
	}
	if !st.HasMinMax() {
		// A chunk of nulls only has no min or max and changes neither.
		c.minKnown = allNull && st.HasNullCount()
		return
	}
	if decode == nil {
		c.minKnown = false
		return
	}
	lo, hi, ok := decode(st)
	if !ok {
		c.minKnown = false
		return
	}
	if !c.seen || c.less(lo, c.min) {
		c.min = lo
	}
	if !c.seen || c.less(c.max, hi) {
		c.max = hi
	}
	c.seen = true
}

// kindOf is how a DuckDB type's statistics are decoded, compared and printed; "" for
// types whose footer min and max this code does not print.
func kindOf(duck string) string {
	switch duck {
	case "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "DATE", "TIME",
		"TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S":
		return "int"
	case "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT":
		return "uint"
	case "FLOAT", "DOUBLE":
		return "float"
	case "VARCHAR", "BLOB":
		return "bytes"
	}
	if strings.HasPrefix(duck, "DECIMAL(") {
		return "decimal"
	}
	return ""
}

func (c *footerColumn) less(a, b statValue) bool {
	switch c.kind {
	case "int":
		return a.i < b.i
	case "uint":
		return a.u < b.u
	case "float":
		return a.f < b.f
	case "bytes":
		return bytes.Compare(a.b, b.b) < 0
	case "decimal":
		return a.big.Cmp(b.big) < 0
	}
	return false
}

// orderDefined reports whether a chunk's min and max follow the column's type: the
// footer declares the type-defined order (so they are min_value and max_value), or
// the type sorts signed and numerically, where the deprecated min and max agree.
func orderDefined(descr *schema.Column) bool {
	if descr.ColumnOrder() == parquet.ColumnOrders.TypeDefinedOrder {
		return true
	}
	switch descr.PhysicalType() {
	case parquet.Types.Boolean, parquet.Types.Int32, parquet.Types.Int64, parquet.Types.Float, parquet.Types.Double:
		return descr.SortOrder() == schema.SortSIGNED
	}
	return false
}

// decoderFor decodes a chunk's min and max for a column of the given kind, nil when
// the stored column does not match what the kind expects.
func decoderFor(kind, duck string, descr *schema.Column, trustBytes bool) func(metadata.TypedStatistics) (statValue, statValue, bool) {
	if kind == "" || !orderDefined(descr) {
		return nil
	}
	lt := descr.LogicalType()
	switch kind {
	case "int":
		conv, ok := unitConversion(duck, lt)
		if !ok {
			return nil
		}
		ints := func(lo, hi int64) (statValue, statValue, bool) {
			lo, ok1 := conv(lo)
			hi, ok2 := conv(hi)
			return statValue{i: lo}, statValue{i: hi}, ok1 && ok2
		}
		return func(st metadata.TypedStatistics) (statValue, statValue, bool) {
			switch s := st.(type) {
			case *metadata.BooleanStatistics:
				return statValue{i: b2i(s.Min())}, statValue{i: b2i(s.Max())}, true
			case *metadata.Int32Statistics:
				if it, ok := lt.(schema.IntLogicalType); ok && !it.IsSigned() {
					return statValue{}, statValue{}, false
				}
				return ints(int64(s.Min()), int64(s.Max()))
			case *metadata.Int64Statistics:
				if it, ok := lt.(schema.IntLogicalType); ok && !it.IsSigned() {
					return statValue{}, statValue{}, false
				}
				return ints(s.Min(), s.Max())
			}
			return statValue{}, statValue{}, false
		}
	case "uint":
		it, ok := lt.(schema.IntLogicalType)
		if !ok || it.IsSigned() {
			return nil
		}
		return func(st metadata.TypedStatistics) (statValue, statValue, bool) {
			switch s := st.(type) {
			case *metadata.Int32Statistics:
				return statValue{u: uint64(uint32(s.Min()))}, statValue{u: uint64(uint32(s.Max()))}, true
			case *metadata.Int64Statistics:
				return statValue{u: uint64(s.Min())}, statValue{u: uint64(s.Max())}, true
			}
			return statValue{}, statValue{}, false
		}
	case "float":
		return func(st metadata.TypedStatistics) (statValue, statValue, bool) {
			var lo, hi float64
			switch s := st.(type) {
			case *metadata.Float32Statistics:
				lo, hi = float64(s.Min()), float64(s.Max())
			case *metadata.Float64Statistics:
				lo, hi = s.Min(), s.Max()
			default:
				return statValue{}, statValue{}, false
			}
			if math.IsNaN(lo) || math.IsNaN(hi) {
				return statValue{}, statValue{}, false
			}
			return statValue{f: lo}, statValue{f: hi}, true
		}
	case "bytes":
		if !trustBytes {
			return nil
		}
		return func(st metadata.TypedStatistics) (statValue, statValue, bool) {
			s, ok := st.(*metadata.ByteArrayStatistics)
			if !ok {
				return statValue{}, statValue{}, false
			}
			return statValue{b: append([]byte(nil), s.Min()...)}, statValue{b: append([]byte(nil), s.Max()...)}, true
		}
	case "decimal":
		// The stored scale must be the SQL type's, or the digits would print shifted.
		dl, ok := lt.(schema.DecimalLogicalType)
		var p, sc int32
		if _, err := fmt.Sscanf(duck, "DECIMAL(%d,%d)", &p, &sc); !ok || err != nil || dl.Scale() != sc {
			return nil
		}
		return func(st metadata.TypedStatistics) (statValue, statValue, bool) {
			switch s := st.(type) {
			case *metadata.Int32Statistics:
				return statValue{big: big.NewInt(int64(s.Min()))}, statValue{big: big.NewInt(int64(s.Max()))}, true
			case *metadata.Int64Statistics:
				return statValue{big: big.NewInt(s.Min())}, statValue{big: big.NewInt(s.Max())}, true
			case *metadata.FixedLenByteArrayStatistics:
				return statValue{big: signedBig(s.Min())}, statValue{big: signedBig(s.Max())}, true
			case *metadata.ByteArrayStatistics:
				return statValue{big: signedBig(s.Min())}, statValue{big: signedBig(s.Max())}, true
			}
			return statValue{}, statValue{}, false
		}
	}
	return nil
}

// unitConversion converts a stored time or timestamp to the unit of its SQL type
// (TIME and TIMESTAMP microseconds, the suffixed timestamps their own); values that
// the SQL type cannot hold exactly are refused. Other types pass unchanged.
func unitConversion(duck string, lt schema.LogicalType) (func(int64) (int64, bool), bool) {
	var target int64 // nanoseconds per unit of the SQL type
	switch duck {
	case "TIME", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE":
		target = 1000
	case "TIMESTAMP_NS":
		target = 1
	case "TIMESTAMP_MS":
		target = 1_000_000
	case "TIMESTAMP_S":
		target = 1_000_000_000
	default:
		return func(n int64) (int64, bool) { return n, true }, true
	}
	var unit schema.TimeUnitType
	switch t := lt.(type) {
	case schema.TimestampLogicalType:
		unit = t.TimeUnit()
	case schema.TimeLogicalType:
		unit = t.TimeUnit()
	default:
		return nil, false
	}
	var source int64
	switch unit {
	case schema.TimeUnitMillis:
		source = 1_000_000
	case schema.TimeUnitMicros:
		source = 1000
	case schema.TimeUnitNanos:
		source = 1
	default:
		return nil, false
	}
	if source >= target {
		k := source / target
		return func(n int64) (int64, bool) {
			if n > math.MaxInt64/k || n < math.MinInt64/k {
				return 0, false
			}
			return n * k, true
		}, true
	}
	k := target / source
	return func(n int64) (int64, bool) { return n / k, n%k == 0 }, true
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// signedBig decodes a big-endian two's complement integer (a Parquet decimal).
func signedBig(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return n
}

// display prints a min or max as DuckDB's CAST(x AS VARCHAR) does, nil when this
// code cannot print it exactly so (an out-of-range date, a timestamp finer than its
// SQL type, text that is not UTF-8).
func (c *footerColumn) display(v statValue, duck string) *string {
	var s string
	switch {
	case duck == "BOOLEAN":
		s = strconv.FormatBool(v.i != 0)
	case c.kind == "int" && (duck == "TINYINT" || duck == "SMALLINT" || duck == "INTEGER" || duck == "BIGINT"):
		s = strconv.FormatInt(v.i, 10)
	case c.kind == "uint":
		s = strconv.FormatUint(v.u, 10)
	case c.kind == "float":
		// Writers store a zero min as -0.0 and a zero max as +0.0 whatever the
		// data held; the sign is not known, and plain 0.0 is the value.
		f := v.f
		if f == 0 {
			f = 0
		}
		s = duckFloat(f, duck == "FLOAT")
	case duck == "VARCHAR":
		if !utf8.Valid(v.b) {
			return nil
		}
		s = string(v.b)
	case duck == "BLOB":
		s = duckBlob(v.b)
	case c.kind == "decimal":
		var ok bool
		if s, ok = duckDecimal(v.big, duck); !ok {
			return nil
		}
	default:
		var ok bool
		if s, ok = c.temporal(v.i, duck); !ok {
			return nil
		}
	}
	return &s
}

// temporal prints dates, times and timestamps. The unit of the stored integer is
// fixed by the SQL type here: DATE days, TIME and TIMESTAMP microseconds, the
// suffixed timestamps their unit (DuckDB reads each Parquet unit into these).
func (c *footerColumn) temporal(n int64, duck string) (string, bool) {
	switch duck {
	case "DATE":
		t := time.Unix(n*86400, 0).UTC()
		if !plainYear(t) {
			return "", false
		}
		return t.Format("2006-01-02"), true
	case "TIME":
		if n < 0 || n >= 86400*1_000_000 {
			return "", false
		}
		t := time.UnixMicro(n).UTC()
		return t.Format("15:04:05") + fraction(int64(t.Nanosecond()/1000), 6), true
	case "TIMESTAMP", "TIMESTAMP WITH TIME ZONE":
		t := time.UnixMicro(n).UTC()
		if !plainYear(t) {
			return "", false
		}
		s := t.Format("2006-01-02 15:04:05") + fraction(int64(t.Nanosecond()/1000), 6)
		if duck == "TIMESTAMP WITH TIME ZONE" {
			s += "+00"
		}
		return s, true
	case "TIMESTAMP_NS":
		// DuckDB reads the largest nanosecond timestamp as infinity.
		if n == math.MaxInt64 {
			return "infinity", true
		}
		if n == math.MinInt64 || n == -math.MaxInt64 {
			return "", false
		}
		t := time.Unix(0, n).UTC()
		return t.Format("2006-01-02 15:04:05") + fraction(int64(t.Nanosecond()), 9), plainYear(t)
	case "TIMESTAMP_MS":
		t := time.UnixMilli(n).UTC()
		return t.Format("2006-01-02 15:04:05") + fraction(int64(t.Nanosecond()/1_000_000), 3), plainYear(t)
	case "TIMESTAMP_S":
		t := time.Unix(n, 0).UTC()
		return t.Format("2006-01-02 15:04:05"), plainYear(t)
	}
	return "", false
}

// plainYear: DuckDB prints years outside 1..9999 in its own way (BC suffix, more
// digits); those are left unknown.
func plainYear(t time.Time) bool { return t.Year() >= 1 && t.Year() <= 9999 }

// fraction is ".ddd" of a fraction of a second with trailing zeros dropped, as
// DuckDB prints it, or "" for a whole second.
func fraction(n int64, digits int) string {
	if n == 0 {
		return ""
	}
	s := fmt.Sprintf("%0*d", digits, n)
	return "." + strings.TrimRight(s, "0")
}

// duckDecimal prints an unscaled decimal with the scale of DuckDB's DECIMAL(p,s).
func duckDecimal(n *big.Int, duck string) (string, bool) {
	var p, sc int
	if _, err := fmt.Sscanf(duck, "DECIMAL(%d,%d)", &p, &sc); err != nil || sc < 0 || sc > p {
		return "", false
	}
	digits := new(big.Int).Abs(n).String()
	if sc > 0 {
		if len(digits) <= sc {
			digits = strings.Repeat("0", sc-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-sc] + "." + digits[len(digits)-sc:]
	}
	if n.Sign() < 0 {
		digits = "-" + digits
	}
	return digits, true
}

// duckBlob prints bytes as DuckDB casts a BLOB to VARCHAR: printable ASCII as is,
// every other byte (and the backslash) as \xHH.
func duckBlob(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c <= 0x7e && c != '\\' && c != '\'' && c != '"' {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "\\x%02X", c)
		}
	}
	return sb.String()
}

// duckFloat prints a float as DuckDB does: the shortest digits that read back as
// the same value, in exponent form when the decimal exponent is below -4 or 16 and
// above (1e-05, 1e+16), else plain with at least one decimal (1000000000000000.0).
func duckFloat(f float64, single bool) string {
	bits := 64
	if single {
		bits = 32
	}
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	e := strconv.FormatFloat(f, 'e', -1, bits)
	if _, exp, ok := strings.Cut(e, "e"); ok {
		if n, err := strconv.Atoi(exp); err == nil && f != 0 && (n < -4 || n >= 16) {
			return e
		}
	}
	s := strconv.FormatFloat(f, 'f', -1, bits)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
