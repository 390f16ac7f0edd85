package flightsql

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql/schema_ref"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// GetXdbcTypeInfo: DuckDB's types as JDBC's getTypeInfo and ODBC's SQLGetTypeInfo
// describe them.
//
// data_type is the ODBC/JDBC code (the two agree on every code used here but the
// nested ones). BOOLEAN is BIT (-7), as ODBC has no BOOLEAN; UUID is CHAR(36), the
// text it reads as over Arrow. ODBC has no codes for nested types, so LIST, ARRAY,
// STRUCT, MAP and UNION carry JDBC's (ARRAY 2003, STRUCT 2002, OTHER 1111), which
// the Flight SQL JDBC driver passes through and ODBC clients skip. Rows are sorted by
// data_type and, within one, from the closest match, as ODBC requires.

// XDBC and JDBC type codes.
const (
	xdbcChar           int32 = 1
	xdbcDecimal        int32 = 3
	xdbcInteger        int32 = 4
	xdbcSmallint       int32 = 5
	xdbcReal           int32 = 7
	xdbcDouble         int32 = 8
	xdbcDatetime       int32 = 9
	xdbcInterval       int32 = 10
	xdbcVarchar        int32 = 12
	xdbcDate           int32 = 91
	xdbcTime           int32 = 92
	xdbcTimestamp      int32 = 93
	xdbcVarbinary      int32 = -3
	xdbcBigint         int32 = -5
	xdbcTinyint        int32 = -6
	xdbcBit            int32 = -7
	jdbcOther          int32 = 1111
	jdbcStruct         int32 = 2002
	jdbcArray          int32 = 2003
	subcodeDate        int32 = 1
	subcodeTime        int32 = 2
	subcodeTimestamp   int32 = 3
	subcodeTimeTZ      int32 = 4
	subcodeTimestampTZ int32 = 5
	searchableBasic    int32 = 2 // all comparisons but LIKE
	searchableFull     int32 = 3
	nullableYes        int32 = 1
	maxVarcharLength   int32 = 1<<31 - 1
)

// xdbcType is one row of GetXdbcTypeInfo. Pointer fields are nullable columns.
type xdbcType struct {
	name           string
	dataType       int32
	columnSize     *int32
	prefix, suffix *string
	createParams   []string // nil: null
	caseSensitive  bool
	searchable     int32
	unsigned       *bool // numeric types only
	minScale       *int32
	maxScale       *int32
	sqlDataType    int32 // 0: same as dataType
	subcode        *int32
	radix          *int32
}

func i32(v int32) *int32   { return &v }
func str(v string) *string { return &v }
func boolp(v bool) *bool   { return &v }

// integer, float, datetime are row makers for the common shapes.
func integer(name string, code, digits int32, unsigned bool) xdbcType {
	return xdbcType{name: name, dataType: code, columnSize: i32(digits), searchable: searchableBasic,
		unsigned: boolp(unsigned), minScale: i32(0), maxScale: i32(0), radix: i32(10)}
}

func float(name string, code, bits int32) xdbcType {
	return xdbcType{name: name, dataType: code, columnSize: i32(bits), searchable: searchableBasic,
		unsigned: boolp(false), radix: i32(2)}
}

func datetime(name string, code, size, subcode, scale int32, prefix string) xdbcType {
	return xdbcType{name: name, dataType: code, columnSize: i32(size), prefix: str(prefix), suffix: str("'"),
		searchable: searchableBasic, minScale: i32(scale), maxScale: i32(scale),
		sqlDataType: xdbcDatetime, subcode: i32(subcode)}
}

func nested(name string, code int32) xdbcType {
	return xdbcType{name: name, dataType: code, searchable: searchableBasic}
}

// xdbcTypes is DuckDB's types, in the order GetXdbcTypeInfo lists them.
var xdbcTypes = []xdbcType{
	{name: "BOOLEAN", dataType: xdbcBit, columnSize: i32(1), searchable: searchableBasic},
	integer("TINYINT", xdbcTinyint, 3, false),
	integer("UTINYINT", xdbcTinyint, 3, true),
	integer("BIGINT", xdbcBigint, 19, false),
	integer("UBIGINT", xdbcBigint, 20, true),
	{name: "BLOB", dataType: xdbcVarbinary, columnSize: i32(maxVarcharLength), prefix: str("'"), suffix: str("'"),
		searchable: searchableBasic},
	{name: "UUID", dataType: xdbcChar, columnSize: i32(36), prefix: str("'"), suffix: str("'"),
		searchable: searchableBasic},
	{name: "DECIMAL", dataType: xdbcDecimal, columnSize: i32(38), createParams: []string{"precision", "scale"},
		searchable: searchableBasic, unsigned: boolp(false), minScale: i32(0), maxScale: i32(38), radix: i32(10)},
	integer("HUGEINT", xdbcDecimal, 38, false),
	integer("UHUGEINT", xdbcDecimal, 39, true),
	integer("INTEGER", xdbcInteger, 10, false),
	integer("UINTEGER", xdbcInteger, 10, true),
	integer("SMALLINT", xdbcSmallint, 5, false),
	integer("USMALLINT", xdbcSmallint, 5, true),
	float("FLOAT", xdbcReal, 24),
	float("DOUBLE", xdbcDouble, 53),
	{name: "INTERVAL", dataType: xdbcInterval, prefix: str("INTERVAL '"), suffix: str("'"), searchable: searchableBasic},
	{name: "VARCHAR", dataType: xdbcVarchar, columnSize: i32(maxVarcharLength), prefix: str("'"), suffix: str("'"),
		caseSensitive: true, searchable: searchableFull},
	datetime("DATE", xdbcDate, 10, subcodeDate, 0, "DATE '"),
	datetime("TIME", xdbcTime, 15, subcodeTime, 6, "TIME '"),
	datetime("TIME WITH TIME ZONE", xdbcTime, 21, subcodeTimeTZ, 6, "TIMETZ '"),
	datetime("TIMESTAMP", xdbcTimestamp, 26, subcodeTimestamp, 6, "TIMESTAMP '"),
	datetime("TIMESTAMP WITH TIME ZONE", xdbcTimestamp, 32, subcodeTimestampTZ, 6, "TIMESTAMPTZ '"),
	datetime("TIMESTAMP_S", xdbcTimestamp, 19, subcodeTimestamp, 0, "TIMESTAMP_S '"),
	datetime("TIMESTAMP_MS", xdbcTimestamp, 23, subcodeTimestamp, 3, "TIMESTAMP_MS '"),
	datetime("TIMESTAMP_NS", xdbcTimestamp, 29, subcodeTimestamp, 9, "TIMESTAMP_NS '"),
	nested("MAP", jdbcOther),
	nested("UNION", jdbcOther),
	nested("STRUCT", jdbcStruct),
	nested("LIST", jdbcArray),
	nested("ARRAY", jdbcArray),
}

// GetFlightInfoXdbcTypeInfo plans GetXdbcTypeInfo.
func (s *SQLServer) GetFlightInfoXdbcTypeInfo(_ context.Context, _ fsql.GetXdbcTypeInfo, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metadataInfo(desc, schema_ref.XdbcTypeInfo), nil
}

// DoGetXdbcTypeInfo lists the types, or those of one data type.
func (s *SQLServer) DoGetXdbcTypeInfo(_ context.Context, cmd fsql.GetXdbcTypeInfo) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	return schema_ref.XdbcTypeInfo, oneBatch(buildXdbcTypeInfo(s.mem, cmd.GetDataType())), nil
}

func buildXdbcTypeInfo(mem memory.Allocator, filter *int32) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema_ref.XdbcTypeInfo)
	defer b.Release()
	appendStr := func(i int, v *string) {
		sb := b.Field(i).(*array.StringBuilder)
		if v == nil {
			sb.AppendNull()
		} else {
			sb.Append(*v)
		}
	}
	appendI32 := func(i int, v *int32) {
		ib := b.Field(i).(*array.Int32Builder)
		if v == nil {
			ib.AppendNull()
		} else {
			ib.Append(*v)
		}
	}
	appendBool := func(i int, v *bool) {
		bb := b.Field(i).(*array.BooleanBuilder)
		if v == nil {
			bb.AppendNull()
		} else {
			bb.Append(*v)
		}
	}
	for _, t := range xdbcTypes {
		if filter != nil && *filter != t.dataType {
			continue
		}
		numeric := t.unsigned != nil
		sqlType := t.sqlDataType
		if sqlType == 0 {
			sqlType = t.dataType
		}
		var autoInc *bool
		if numeric {
			autoInc = boolp(false)
		}
		appendStr(0, &t.name)
		appendI32(1, &t.dataType)
		appendI32(2, t.columnSize)
		appendStr(3, t.prefix)
		appendStr(4, t.suffix)
		cp := b.Field(5).(*array.ListBuilder)
		if t.createParams == nil {
			cp.AppendNull()
		} else {
			cp.Append(true)
			cp.ValueBuilder().(*array.StringBuilder).AppendValues(t.createParams, nil)
		}
		appendI32(6, i32(nullableYes))
		appendBool(7, boolp(t.caseSensitive))
		appendI32(8, &t.searchable)
		appendBool(9, t.unsigned)
		appendBool(10, boolp(false)) // fixed_prec_scale: no money-like types
		appendBool(11, autoInc)
		appendStr(12, &t.name)
		appendI32(13, t.minScale)
		appendI32(14, t.maxScale)
		appendI32(15, &sqlType)
		appendI32(16, t.subcode)
		appendI32(17, t.radix)
		appendI32(18, nil) // interval_precision
	}
	return b.NewRecordBatch()
}
