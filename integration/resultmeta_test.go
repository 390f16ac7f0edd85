package integration

import (
	"context"
	"strconv"
	"testing"

	"github.com/apache/arrow-adbc/go/adbc"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// columnKeys are the Flight SQL column metadata keys every result column carries.
var columnKeys = []string{
	fsql.CatalogNameKey, fsql.SchemaNameKey, fsql.TableNameKey, fsql.TypeNameKey,
	fsql.IsAutoIncrementKey, fsql.IsCaseSensitiveKey, fsql.IsReadOnlyKey, fsql.IsSearchableKey,
}

// TestQueryResultColumnMetadata: a query's result columns carry the Flight SQL column
// metadata (what JDBC's ResultSetMetaData reports), with the precision and scale
// GetTables gives the same columns (what JDBC's getColumns reports): DBeaver showed
// 0 for DATE, TIMESTAMP and DOUBLE results where getColumns said 10/0 and 26/6.
func TestQueryResultColumnMetadata(t *testing.T) {
	srv := startServer(t)
	rec := allTypesRecord(t)
	defer rec.Release()
	putRecords(t, srv.client(t), "alltypes.parquet", rec.Schema(), rec)
	ctx := context.Background()

	// The schema the ADBC driver learns before running the query (FlightInfo).
	conn := srv.adbcConn(t)
	stmt, err := conn.NewStatement()
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	if err := stmt.SetSqlQuery("SELECT * FROM alltypes"); err != nil {
		t.Fatal(err)
	}
	result, err := stmt.(adbc.StatementExecuteSchema).ExecuteSchema(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// GetTables' schema of the same table.
	cl := srv.sqlClient(t)
	tables, err := cl.GetTables(ctx, &fsql.GetTablesOpts{IncludeSchema: true, TableNameFilterPattern: strp("alltypes")})
	_, recs := fetch(t, cl, tables, err)
	if len(recs) != 1 || recs[0].NumRows() != 1 {
		t.Fatalf("GetTables: %v", recs)
	}
	listed, err := flight.DeserializeSchema(recs[0].Column(4).(*array.Binary).Value(0), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	if listed.NumFields() != result.NumFields() {
		t.Fatalf("GetTables lists %d columns, the query has %d", listed.NumFields(), result.NumFields())
	}

	// Precision and scale of each kind of column, as JDBC and ODBC define them.
	want := map[string][2]string{ // precision, scale ("" = absent)
		"i8": {"3", "0"}, "i32": {"10", "0"}, "i64": {"19", "0"}, "u64": {"20", "0"},
		"f32": {"7", ""}, "f64": {"15", ""}, "dec": {"10", "2"}, "bool": {"1", ""},
		"date": {"10", "0"}, "time": {"15", "6"}, "ts": {"26", "6"}, "tstz": {"32", "6"},
	}
	for i, f := range result.Fields() {
		for _, key := range columnKeys {
			if f.Metadata.FindKey(key) < 0 {
				t.Errorf("column %s: no %s in %v", f.Name, key, f.Metadata)
			}
		}
		if v := metaValue(f.Metadata, fsql.TableNameKey); v != "alltypes" {
			t.Errorf("column %s: table name %q, want %q", f.Name, v, "alltypes")
		}
		l := listed.Field(i)
		for _, key := range []string{fsql.PrecisionKey, fsql.ScaleKey, fsql.TypeNameKey} {
			if a, b := metaValue(f.Metadata, key), metaValue(l.Metadata, key); a != b {
				t.Errorf("column %s: %s %q in the query's schema, %q in GetTables'", f.Name, key, a, b)
			}
		}
		if w, ok := want[f.Name]; ok {
			p, s := metaValue(f.Metadata, fsql.PrecisionKey), metaValue(f.Metadata, fsql.ScaleKey)
			if p != w[0] || s != w[1] {
				t.Errorf("column %s (%s): precision %q scale %q, want %q %q", f.Name, f.Type, p, s, w[0], w[1])
			}
		}
	}

	// A computed column comes from no table.
	if err := stmt.SetSqlQuery("SELECT i64 + 1 AS n, str FROM alltypes"); err != nil {
		t.Fatal(err)
	}
	computed, err := stmt.(adbc.StatementExecuteSchema).ExecuteSchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v := metaValue(computed.Field(0).Metadata, fsql.TableNameKey); v != "" {
		t.Errorf("computed column n: table name %q, want none", v)
	}
	if v := metaValue(computed.Field(1).Metadata, fsql.TableNameKey); v != "alltypes" {
		t.Errorf("column str: table name %q, want %q", v, "alltypes")
	}
}

// metaValue is md's value for key, "" if absent.
func metaValue(md arrow.Metadata, key string) string {
	if i := md.FindKey(key); i >= 0 {
		return md.Values()[i]
	}
	return ""
}

var _ = strconv.Itoa
