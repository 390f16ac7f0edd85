package flightsql

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql/schema_ref"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quiverdata/quiver/catalog"
)

// SqlInfo: what the server and its SQL dialect (DuckDB's) support. JDBC's
// DatabaseMetaData, ODBC's SQLGetInfo and ADBC's GetInfo are answered from it, so
// each value is a claim about DuckDB 1.5 behind Quiver's read-only gate; the tests
// check the ones a query can check.
//
// A request for ids the server does not know omits them rather than failing, so a
// client asking for a newer id still gets the rest.

// serverName is the FLIGHT_SQL_SERVER_NAME (ADBC's vendor name).
const serverName = "Quiver"

// SqlInfo values that are enums or bitmasks, from the Flight SQL protocol.
const (
	caseInsensitive = int32(fsql.SqlCaseSensitivityCaseInsensitive)
	nullsAtEnd      = int32(fsql.SqlNullOrderingSortAtEnd)
	txnNone         = int32(fsql.SqlTransactionNone)
)

// bits turns enum ordinals into a SqlInfo bitmask.
func bits(ordinals ...int32) int32 {
	var m int32
	for _, o := range ordinals {
		m |= 1 << o
	}
	return m
}

// Enum ordinals from FlightSql.proto, named as there.
const (
	sqlMinimumGrammar, sqlCoreGrammar, sqlExtendedGrammar              = 0, 1, 2
	ansi92EntrySQL, ansi92IntermediateSQL, ansi92FullSQL               = 0, 1, 2
	sqlFullOuterJoins                                                  = 2
	sqlGroupByUnrelated, sqlGroupByBeyondSelect                        = 0, 1
	subqueriesInComparisons, subqueriesInExists                        = 0, 1
	subqueriesInIns, subqueriesInQuantifieds                           = 2, 3
	sqlUnion, sqlUnionAll                                              = 0, 1
	sqlTransactionNone                                                 = 0
	resultSetTypeForwardOnly                                           = 1
	resultSetConcurrencyReadOnly                                       = 1
	convertBigint, convertBinary, convertBit, convertChar, convertDate = 0, 1, 2, 3, 4
	convertDecimal, convertFloat, convertInteger                       = 5, 6, 7
	convertIntervalDayTime, convertIntervalYearMonth                   = 8, 9
	convertLongVarbinary, convertLongVarchar, convertNumeric           = 10, 11, 12
	convertReal, convertSmallint, convertTime, convertTimestamp        = 13, 14, 15, 16
	convertTinyint, convertVarbinary, convertVarchar                   = 17, 18, 19
)

// sqlInfo is every SqlInfo value the server reports. keywords are DuckDB's.
func (s *SQLServer) sqlInfo(keywords []string) fsql.SqlInfoResultMap {
	version := s.version
	if version == "" {
		version = "dev"
	}
	return fsql.SqlInfoResultMap{
		// The server.
		uint32(fsql.SqlInfoFlightSqlServerName):         serverName,
		uint32(fsql.SqlInfoFlightSqlServerVersion):      version,
		uint32(fsql.SqlInfoFlightSqlServerArrowVersion): arrow.PkgVersion,
		// SQL never writes; datasets change through Flight DoPut and bulk ingest.
		uint32(fsql.SqlInfoFlightSqlServerReadOnly):                    true,
		uint32(fsql.SqlInfoFlightSqlServerSql):                         true,
		uint32(fsql.SqlInfoFlightSqlServerSubstrait):                   false,
		uint32(fsql.SqlInfoFlightSqlServerTransaction):                 txnNone,
		uint32(fsql.SqlInfoFlightSqlServerCancel):                      true, // CancelFlightInfo, and CancelQuery through it
		uint32(fsql.SqlInfoFlightSqlServerBulkIngestion):               true,
		uint32(fsql.SqlInfoFlightSqlServerIngestTransactionsSupported): false,
		uint32(fsql.SqlInfoFlightSqlServerStatementTimeout):            int32(min(s.handles.idle/time.Millisecond, math.MaxInt32)),

		// DDL: none through SQL.
		uint32(fsql.SqlInfoDDLCatalog): false,
		uint32(fsql.SqlInfoDDLSchema):  false,
		uint32(fsql.SqlInfoDDLTable):   false,

		// Identifiers. DuckDB matches identifiers case-insensitively, quoted or not,
		// and keeps the case they were written in.
		uint32(fsql.SqlInfoIdentifierCase):       caseInsensitive,
		uint32(fsql.SqlInfoIdentifierQuoteChar):  `"`,
		uint32(fsql.SqlInfoQuotedIdentifierCase): caseInsensitive,
		uint32(fsql.SqlInfoExtraNameChars):       "$",
		uint32(fsql.SqlInfoSearchStringEscape):   `\`,

		uint32(fsql.SqlInfoAllTablesAreASelectable): true,
		uint32(fsql.SqlInfoNullOrdering):            nullsAtEnd, // DuckDB's default_null_order is NULLS LAST, ASC and DESC
		uint32(fsql.SqlInfoKeywords):                keywords,
		uint32(fsql.SqlInfoNumericFunctions):        numericFunctions,
		uint32(fsql.SqlInfoStringFunctions):         stringFunctions,
		uint32(fsql.SqlInfoSystemFunctions):         systemFunctions,
		uint32(fsql.SqlInfoDateTimeFunctions):       datetimeFunctions,

		// Query grammar.
		uint32(fsql.SqlInfoSupportsColumnAliasing):                 true,
		uint32(fsql.SqlInfoNullPlusNullIsNull):                     true,
		uint32(fsql.SqlInfoSupportsConvert):                        supportedConversions(),
		uint32(fsql.SqlInfoSupportsTableCorrelationNames):          true,
		uint32(fsql.SqlInfoSupportsDifferentTableCorrelationNames): false,
		uint32(fsql.SqlInfoSupportsExpressionsInOrderBy):           true,
		uint32(fsql.SqlInfoSupportsOrderByUnrelated):               true,
		uint32(fsql.SqlInfoSupportedGroupBy):                       bits(sqlGroupByUnrelated, sqlGroupByBeyondSelect),
		uint32(fsql.SqlInfoSupportsLikeEscapeClause):               true,
		uint32(fsql.SqlInfoSupportsNonNullableColumns):             true,
		uint32(fsql.SqlInfoSupportedGrammar):                       bits(sqlMinimumGrammar, sqlCoreGrammar),
		uint32(fsql.SqlInfoANSI92SupportedLevel):                   bits(ansi92EntrySQL, ansi92IntermediateSQL),
		uint32(fsql.SqlInfoSupportsIntegrityEnhancementFacility):   false,
		uint32(fsql.SqlInfoOuterJoinsSupportLevel):                 int32(sqlFullOuterJoins),
		uint32(fsql.SqlInfoSchemaTerm):                             "schema",
		uint32(fsql.SqlInfoProcedureTerm):                          "procedure",
		uint32(fsql.SqlInfoCatalogTerm):                            "catalog",
		uint32(fsql.SqlInfoCatalogAtStart):                         true,
		uint32(fsql.SqlInfoSchemasSupportedActions):                int32(0),
		uint32(fsql.SqlInfoCatalogsSupportedActions):               int32(0),
		uint32(fsql.SqlInfoSupportedPositionedCommands):            int32(0),
		uint32(fsql.SqlInfoSelectForUpdateSupported):               false,
		uint32(fsql.SqlInfoStoredProceduresSupported):              false,
		uint32(fsql.SqlInfoSupportedSubqueries):                    bits(subqueriesInComparisons, subqueriesInExists, subqueriesInIns, subqueriesInQuantifieds),
		uint32(fsql.SqlInfoCorrelatedSubqueriesSupported):          true,
		uint32(fsql.SqlInfoSupportedUnions):                        bits(sqlUnion, sqlUnionAll),

		// Limits: 0 is "no limit or unknown". Table names are dataset names less
		// ".parquet", so catalog.MaxNameLength bounds them.
		uint32(fsql.SqlInfoMaxBinaryLiteralLen):     int64(0),
		uint32(fsql.SqlInfoMaxCharLiteralLen):       int64(0),
		uint32(fsql.SqlInfoMaxColumnNameLen):        int64(0),
		uint32(fsql.SqlInfoMaxColumnsInGroupBy):     int64(0),
		uint32(fsql.SqlInfoMaxColumnsInIndex):       int64(0),
		uint32(fsql.SqlInfoMaxColumnsInOrderBy):     int64(0),
		uint32(fsql.SqlInfoMaxColumnsInSelect):      int64(0),
		uint32(fsql.SqlInfoMaxColumnsInTable):       int64(0),
		uint32(fsql.SqlInfoMaxConnections):          int64(0),
		uint32(fsql.SqlInfoMaxCursorNameLen):        int64(0),
		uint32(fsql.SqlInfoMaxIndexLen):             int64(0),
		uint32(fsql.SqlInfoDBSchemaNameLen):         int64(0),
		uint32(fsql.SqlInfoMaxProcedureNameLen):     int64(0),
		uint32(fsql.SqlInfoMaxCatalogNameLen):       int64(0),
		uint32(fsql.SqlInfoMaxRowSize):              int64(0),
		uint32(fsql.SqlInfoMaxRowSizeIncludesBlobs): false,
		uint32(fsql.SqlInfoMaxStatementLen):         int64(0),
		uint32(fsql.SqlInfoMaxStatements):           int64(0),
		uint32(fsql.SqlInfoMaxTableNameLen):         int64(catalog.MaxNameLength),
		uint32(fsql.SqlInfoMaxTablesInSelect):       int64(0),
		uint32(fsql.SqlInfoMaxUsernameLen):          int64(0),

		// Transactions: none; every statement reads one snapshot.
		uint32(fsql.SqlInfoDefaultTransactionIsolation):           int64(sqlTransactionNone), // JDBC reads it as a Long
		uint32(fsql.SqlInfoTransactionsSupported):                 false,
		uint32(fsql.SqlInfoSupportedTransactionsIsolationlevels):  bits(sqlTransactionNone),
		uint32(fsql.SqlInfoDataDefinitionCausesTransactionCommit): false,
		uint32(fsql.SqlInfoDataDefinitionsInTransactionsIgnored):  false,
		uint32(fsql.SqlInfoSavePointsSupported):                   false,
		uint32(fsql.SqlInfoBatchUpdatesSupported):                 false,

		// Results stream forward once and are read-only.
		uint32(fsql.SqlInfoSupportedResultSetTypes):                             bits(resultSetTypeForwardOnly),
		uint32(fsql.SqlInfoSupportedConcurrenciesForResultSetUnspecified):       int32(0),
		uint32(fsql.SqlInfoSupportedConcurrenciesForResultSetForwardOnly):       bits(resultSetConcurrencyReadOnly),
		uint32(fsql.SqlInfoSupportedConcurrenciesForResultSetScrollSensitive):   int32(0),
		uint32(fsql.SqlInfoSupportedConcurrenciesForResultSetScrollInsensitive): int32(0),
		uint32(fsql.SqlInfoNamedParametersSupported):                            false,
		uint32(fsql.SqlInfoLocatorsUpdateCopy):                                  false,
		uint32(fsql.SqlInfoStoredFunctionsUsingCallSyntaxSupported):             false,
	}
}

// Function lists in the names JDBC and ODBC use (the Open Group CLI names, where
// DuckDB has them) and common DuckDB names beside them. Every name is a function in
// duckdb_functions() (a test checks).
var (
	numericFunctions = []string{
		"ABS", "ACOS", "ASIN", "ATAN", "ATAN2", "CBRT", "CEIL", "CEILING", "COS", "COT",
		"DEGREES", "EVEN", "EXP", "FACTORIAL", "FLOOR", "GCD", "GREATEST", "ISFINITE",
		"ISINF", "ISNAN", "LCM", "LEAST", "LN", "LOG", "LOG10", "LOG2", "MOD", "PI", "POW",
		"POWER", "RADIANS", "RANDOM", "ROUND", "SIGN", "SIN", "SQRT", "TAN", "TRUNC",
	}
	stringFunctions = []string{
		"ASCII", "BIT_LENGTH", "CHAR_LENGTH", "CHARACTER_LENGTH", "CHR", "CONCAT",
		"CONCAT_WS", "CONTAINS", "ENDS_WITH", "INSTR", "LCASE", "LEFT", "LENGTH", "LOWER",
		"LPAD", "LTRIM", "OCTET_LENGTH", "POSITION", "REGEXP_MATCHES", "REGEXP_REPLACE",
		"REPEAT", "REPLACE", "REVERSE", "RIGHT", "RPAD", "RTRIM", "SPLIT_PART",
		"STARTS_WITH", "STRPOS", "SUBSTR", "SUBSTRING", "TRANSLATE", "TRIM", "UCASE", "UPPER",
	}
	systemFunctions = []string{
		"CURRENT_DATABASE", "CURRENT_SCHEMA", "CURRENT_SETTING", "CURRENT_USER", "HASH",
		"NULLIF", "TYPEOF", "USER", "UUID", "VERSION",
	}
	datetimeFunctions = []string{
		"AGE", "CURRENT_DATE", "DATE_ADD", "DATE_DIFF", "DATE_PART", "DATE_SUB",
		"DATE_TRUNC", "DATEDIFF", "DATEPART", "DATETRUNC", "DAY", "DAYNAME", "DAYOFMONTH",
		"DAYOFWEEK", "DAYOFYEAR", "EPOCH", "EPOCH_MS", "HOUR", "ISODOW", "ISOYEAR",
		"LAST_DAY", "MAKE_DATE", "MAKE_TIME", "MAKE_TIMESTAMP", "MICROSECOND",
		"MILLISECOND", "MINUTE", "MONTH", "MONTHNAME", "NOW", "QUARTER", "SECOND",
		"STRFTIME", "STRPTIME", "TIME_BUCKET", "TO_TIMESTAMP", "TODAY", "WEEK", "WEEKDAY",
		"WEEKOFYEAR", "YEAR", "YEARWEEK",
	}
)

// supportedConversions is SQL_SUPPORTS_CONVERT: for each source type, the types
// CAST turns it into. DuckDB casts every type to and from text, numbers (BIT is
// BOOLEAN) among each other, dates and times as SQL allows, and intervals among each
// other.
func supportedConversions() map[int32][]int32 {
	numeric := []int32{convertBigint, convertBit, convertDecimal, convertFloat, convertInteger,
		convertNumeric, convertReal, convertSmallint, convertTinyint}
	text := []int32{convertChar, convertLongVarchar, convertVarchar}
	binary := []int32{convertBinary, convertLongVarbinary, convertVarbinary}
	interval := []int32{convertIntervalDayTime, convertIntervalYearMonth}
	all := slices.Concat(numeric, text, binary, interval,
		[]int32{convertDate, convertTime, convertTimestamp})

	m := make(map[int32][]int32)
	add := func(from []int32, to ...[]int32) {
		for _, f := range from {
			m[f] = sortedUnique(slices.Concat(to...))
		}
	}
	add(numeric, numeric, text)
	add(text, all)
	add(binary, binary, text)
	add(interval, interval, text)
	add([]int32{convertDate}, text, []int32{convertDate, convertTimestamp})
	add([]int32{convertTime}, text, []int32{convertTime})
	add([]int32{convertTimestamp}, text, []int32{convertDate, convertTime, convertTimestamp})
	return m
}

func sortedUnique(v []int32) []int32 {
	slices.Sort(v)
	return slices.Compact(v)
}

// GetFlightInfoSqlInfo plans GetSqlInfo.
func (s *SQLServer) GetFlightInfoSqlInfo(_ context.Context, _ fsql.GetSqlInfo, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metadataInfo(desc, schema_ref.SqlInfo), nil
}

// DoGetSqlInfo answers the requested ids in the order asked, leaving out those the
// server does not know, or every id in ascending order when none are asked.
func (s *SQLServer) DoGetSqlInfo(ctx context.Context, cmd fsql.GetSqlInfo) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	ids := cmd.GetInfo()
	var kw []string
	if len(ids) == 0 || slices.Contains(ids, uint32(fsql.SqlInfoKeywords)) {
		var err error
		if kw, err = s.engine.Keywords(ctx); err != nil {
			return nil, nil, toStatus(err)
		}
	}
	info := s.sqlInfo(kw)
	if len(ids) == 0 {
		for id := range info {
			ids = append(ids, id)
		}
		slices.Sort(ids)
	}
	rec, err := buildSqlInfo(s.mem, info, ids)
	if err != nil {
		return nil, nil, toStatus(err)
	}
	return schema_ref.SqlInfo, oneBatch(rec), nil
}

// Type codes of the SqlInfo value union, in schema_ref.SqlInfo's order.
const (
	infoString arrow.UnionTypeCode = iota
	infoBool
	infoBigint
	infoInt32Bitmask
	infoStringList
	infoInt32ListMap
)

// buildSqlInfo makes the SqlInfo record of ids (unknown ones left out).
func buildSqlInfo(mem memory.Allocator, info fsql.SqlInfoResultMap, ids []uint32) (arrow.RecordBatch, error) {
	b := array.NewRecordBuilder(mem, schema_ref.SqlInfo)
	defer b.Release()
	names := b.Field(0).(*array.Uint32Builder)
	vals := b.Field(1).(*array.DenseUnionBuilder)
	strs := vals.Child(int(infoString)).(*array.StringBuilder)
	bools := vals.Child(int(infoBool)).(*array.BooleanBuilder)
	bigints := vals.Child(int(infoBigint)).(*array.Int64Builder)
	masks := vals.Child(int(infoInt32Bitmask)).(*array.Int32Builder)
	lists := vals.Child(int(infoStringList)).(*array.ListBuilder)
	mapB := vals.Child(int(infoInt32ListMap)).(*array.MapBuilder)
	for _, id := range ids {
		v, ok := info[id]
		if !ok {
			continue
		}
		names.Append(id)
		switch v := v.(type) {
		case string:
			vals.Append(infoString)
			strs.Append(v)
		case bool:
			vals.Append(infoBool)
			bools.Append(v)
		case int64:
			vals.Append(infoBigint)
			bigints.Append(v)
		case int32:
			vals.Append(infoInt32Bitmask)
			masks.Append(v)
		case []string:
			vals.Append(infoStringList)
			lists.Append(true)
			lists.ValueBuilder().(*array.StringBuilder).AppendValues(v, nil)
		case map[int32][]int32:
			vals.Append(infoInt32ListMap)
			mapB.Append(true)
			keys := mapB.KeyBuilder().(*array.Int32Builder)
			items := mapB.ItemBuilder().(*array.ListBuilder)
			for _, k := range slices.Sorted(maps.Keys(v)) {
				keys.Append(k)
				items.Append(true)
				items.ValueBuilder().(*array.Int32Builder).AppendValues(v[k], nil)
			}
		default:
			return nil, fmt.Errorf("SqlInfo %d: unsupported value type %T", id, v)
		}
	}
	return b.NewRecordBatch(), nil
}
