package integration

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-adbc/go/adbc"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	_ "github.com/apache/arrow-go/v18/arrow/flight/flightsql/driver" // database/sql "flightsql"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql/schema_ref"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Flight SQL metadata (GetSqlInfo, GetCatalogs, GetDbSchemas, GetTables,
// GetTableTypes, keys, GetXdbcTypeInfo) through arrow-go's Flight SQL client, its
// database/sql driver and the ADBC driver.

// fetch reads every batch of a Flight SQL FlightInfo's one endpoint and checks that
// the stream's schema is the one the FlightInfo announced. The records are released
// when the test ends.
func fetch(t testing.TB, c *flightsql.Client, info *flight.FlightInfo, err error) (*arrow.Schema, []arrow.RecordBatch) {
	t.Helper()
	if err != nil {
		t.Fatalf("GetFlightInfo: %v", err)
	}
	if len(info.Endpoint) != 1 {
		t.Fatalf("%d endpoints, want 1", len(info.Endpoint))
	}
	announced, err := flight.DeserializeSchema(info.Schema, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("FlightInfo schema: %v", err)
	}
	rdr, err := c.DoGet(context.Background(), info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatalf("DoGet: %v", err)
	}
	defer rdr.Release()
	var recs []arrow.RecordBatch
	for rdr.Next() {
		rec := rdr.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	t.Cleanup(func() {
		for _, r := range recs {
			r.Release()
		}
	})
	if err := rdr.Err(); err != nil {
		t.Fatalf("DoGet read: %v", err)
	}
	if !rdr.Schema().Equal(announced) {
		t.Fatalf("stream schema %s differs from FlightInfo schema %s", rdr.Schema(), announced)
	}
	return rdr.Schema(), recs
}

// column returns the string values of column i across recs (null as "<null>").
func column(recs []arrow.RecordBatch, i int) []string {
	var out []string
	for _, r := range recs {
		col := r.Column(i).(*array.String)
		for j := 0; j < col.Len(); j++ {
			if col.IsNull(j) {
				out = append(out, "<null>")
			} else {
				out = append(out, col.Value(j))
			}
		}
	}
	return out
}

func numRows(recs []arrow.RecordBatch) int {
	n := 0
	for _, r := range recs {
		n += int(r.NumRows())
	}
	return n
}

// typedSchema has one column of each common type, the way a pyarrow user puts them.
var typedSchema = arrow.NewSchema([]arrow.Field{
	{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
	{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
	{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "u32", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
	{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "raw", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "amount", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
	{Name: "tags", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
	{Name: "point", Type: arrow.StructOf(
		arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		arrow.Field{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true}), Nullable: true},
}, nil)

// wantTypeNames are DuckDB's names for typedSchema's columns as read from Parquet.
var wantTypeNames = []string{"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UINTEGER", "FLOAT",
	"DOUBLE", "BOOLEAN", "VARCHAR", "BLOB", "DATE", "TIMESTAMP WITH TIME ZONE", "DECIMAL(10,2)",
	"BIGINT[]", `STRUCT(x INTEGER, "label" VARCHAR)`}

func typedRecord(t testing.TB, mem memory.Allocator) arrow.RecordBatch {
	t.Helper()
	rec, _, err := array.RecordFromJSON(mem, typedSchema, strings.NewReader(`[
		{"i8": 1, "i16": 2, "i32": 3, "i64": 4, "u32": 5, "f32": 1.5, "f64": 2.5, "flag": true,
		 "name": "Mario", "raw": "AQI=", "day": 19000, "at": 1700000000000000, "amount": "12.34",
		 "tags": [1, 2], "point": {"x": 1, "label": "a"}},
		{"i8": null, "i16": null, "i32": null, "i64": null, "u32": null, "f32": null, "f64": null,
		 "flag": null, "name": null, "raw": null, "day": null, "at": null, "amount": null,
		 "tags": null, "point": null}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// putMetadataFixtures puts "types" (a column of each type), "uploaded" (the
// cookbook's) and two datasets whose names differ where a LIKE '_' would match.
func putMetadataFixtures(t testing.TB, srv *testServer) {
	t.Helper()
	c := srv.client(t)
	typed := typedRecord(t, memory.DefaultAllocator)
	defer typed.Release()
	putRecords(t, c, "types.parquet", typed.Schema(), typed)
	chars := characters(memory.DefaultAllocator)
	defer chars.Release()
	for _, name := range []string{"uploaded.parquet", "my_table.parquet", "myXtable"} {
		putRecords(t, c, name, chars.Schema(), chars)
	}
}

var allTables = []string{"myXtable", "my_table", "types", "uploaded"}

func strp(s string) *string { return &s }

func TestSQLMetadataCatalogsSchemasAndTypes(t *testing.T) {
	srv := startServer(t)
	putMetadataFixtures(t, srv)
	c := srv.sqlClient(t)
	ctx := context.Background()

	info, err := c.GetCatalogs(ctx)
	schema, recs := fetch(t, c, info, err)
	if !schema.Equal(schema_ref.Catalogs) {
		t.Errorf("GetCatalogs schema %s", schema)
	}
	if got := column(recs, 0); !slices.Equal(got, []string{"memory"}) {
		t.Errorf("catalogs = %q, want [memory]", got)
	}

	// The catalog and schema listed are the ones queries run in.
	info, err = c.Execute(ctx, "SELECT current_database(), current_schema(), (SELECT count(*) FROM memory.main.uploaded) AS n")
	_, recs = fetch(t, c, info, err)
	if got := []string{column(recs, 0)[0], column(recs, 1)[0]}; !slices.Equal(got, []string{"memory", "main"}) {
		t.Errorf("current_database(), current_schema() = %q, want [memory main]", got)
	}
	if n := recs[0].Column(2).(*array.Int64).Value(0); n != 3 {
		t.Errorf("count(*) of memory.main.uploaded = %d, want 3", n)
	}

	for _, tc := range []struct {
		name            string
		catalog, schema *string
		want            []string
	}{
		{"all", nil, nil, []string{"memory.main"}},
		{"catalog", strp("memory"), nil, []string{"memory.main"}},
		{"other catalog", strp("system"), nil, nil},
		{"no catalog", strp(""), nil, nil},
		{"pattern", nil, strp("m_i%"), []string{"memory.main"}},
		{"exact", strp("memory"), strp("main"), []string{"memory.main"}},
		{"no match", nil, strp("information_schema"), nil},
	} {
		t.Run("GetDBSchemas/"+tc.name, func(t *testing.T) {
			info, err := c.GetDBSchemas(ctx, &flightsql.GetDBSchemasOpts{Catalog: tc.catalog, DbSchemaFilterPattern: tc.schema})
			schema, recs := fetch(t, c, info, err)
			if !schema.Equal(schema_ref.DBSchemas) {
				t.Errorf("schema %s", schema)
			}
			var got []string
			cats, schemas := column(recs, 0), column(recs, 1)
			for i := range cats {
				got = append(got, cats[i]+"."+schemas[i])
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("schemas = %q, want %q", got, tc.want)
			}
		})
	}

	info, err = c.GetTableTypes(ctx)
	schema, recs = fetch(t, c, info, err)
	if !schema.Equal(schema_ref.TableTypes) {
		t.Errorf("GetTableTypes schema %s", schema)
	}
	if got := column(recs, 0); !slices.Equal(got, []string{"TABLE"}) {
		t.Errorf("table types = %q, want [TABLE]", got)
	}
}

func TestSQLMetadataGetTables(t *testing.T) {
	srv := startServer(t)
	putMetadataFixtures(t, srv)
	c := srv.sqlClient(t)
	ctx := context.Background()

	for _, tc := range []struct {
		name string
		opts *flightsql.GetTablesOpts
		want []string
	}{
		{"all", &flightsql.GetTablesOpts{}, allTables},
		{"underscore is a wildcard", &flightsql.GetTablesOpts{TableNameFilterPattern: strp("my_table")}, []string{"myXtable", "my_table"}},
		{"escaped underscore", &flightsql.GetTablesOpts{TableNameFilterPattern: strp(`my\_table`)}, []string{"my_table"}},
		{"percent", &flightsql.GetTablesOpts{TableNameFilterPattern: strp("%pe%")}, []string{"types"}},
		{"prefix", &flightsql.GetTablesOpts{TableNameFilterPattern: strp("u%")}, []string{"uploaded"}},
		{"case as stored", &flightsql.GetTablesOpts{TableNameFilterPattern: strp("UPLOADED")}, nil},
		{"table type TABLE", &flightsql.GetTablesOpts{TableTypes: []string{"VIEW", "TABLE"}}, allTables},
		{"table type VIEW", &flightsql.GetTablesOpts{TableTypes: []string{"VIEW"}}, nil},
		{"catalog", &flightsql.GetTablesOpts{Catalog: strp("memory")}, allTables},
		{"other catalog", &flightsql.GetTablesOpts{Catalog: strp("temp")}, nil},
		{"schema pattern", &flightsql.GetTablesOpts{DbSchemaFilterPattern: strp("ma%")}, allTables},
		{"other schema", &flightsql.GetTablesOpts{DbSchemaFilterPattern: strp("pg_catalog")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := c.GetTables(ctx, tc.opts)
			schema, recs := fetch(t, c, info, err)
			if !schema.Equal(schema_ref.Tables) {
				t.Errorf("schema %s, want %s", schema, schema_ref.Tables)
			}
			if got := column(recs, 2); !slices.Equal(got, tc.want) {
				t.Errorf("tables = %q, want %q", got, tc.want)
			}
			for i, typ := range column(recs, 3) {
				if typ != "TABLE" || column(recs, 0)[i] != "memory" || column(recs, 1)[i] != "main" {
					t.Errorf("row %d: %s.%s type %s, want memory.main TABLE", i, column(recs, 0)[i], column(recs, 1)[i], typ)
				}
			}
		})
	}

	t.Run("include_schema", func(t *testing.T) {
		info, err := c.GetTables(ctx, &flightsql.GetTablesOpts{IncludeSchema: true})
		schema, recs := fetch(t, c, info, err)
		if !schema.Equal(schema_ref.TablesWithIncludedSchema) {
			t.Fatalf("schema %s, want %s", schema, schema_ref.TablesWithIncludedSchema)
		}
		names := column(recs, 2)
		if !slices.Equal(names, allTables) {
			t.Fatalf("tables = %q", names)
		}
		for i, name := range names {
			raw := recs[0].Column(4).(*array.Binary).Value(i)
			got, err := flight.DeserializeSchema(raw, memory.DefaultAllocator)
			if err != nil {
				t.Fatalf("%s: table_schema: %v", name, err)
			}
			// The listed columns are exactly what SELECT * returns.
			qinfo, err := c.Execute(ctx, fmt.Sprintf(`SELECT * FROM %q`, name))
			want, _ := fetch(t, c, qinfo, err)
			if got.NumFields() != want.NumFields() {
				t.Fatalf("%s: %d columns listed, SELECT * has %d", name, got.NumFields(), want.NumFields())
			}
			for j, f := range got.Fields() {
				w := want.Field(j)
				if f.Name != w.Name || !arrow.TypeEqual(f.Type, w.Type) {
					t.Errorf("%s column %d: listed %s %s, SELECT * gives %s %s", name, j, f.Name, f.Type, w.Name, w.Type)
				}
				md := flightsql.ColumnMetadata{Data: &f.Metadata}
				for key, want := range map[string]string{
					flightsql.CatalogNameKey: "memory",
					flightsql.SchemaNameKey:  "main",
					flightsql.TableNameKey:   name,
					flightsql.IsReadOnlyKey:  "1",
				} {
					if i := md.Data.FindKey(key); i < 0 || md.Data.Values()[i] != want {
						t.Errorf("%s.%s: metadata %s missing or not %q: %v", name, f.Name, key, want, f.Metadata)
					}
				}
				if name == "types" {
					if tn, _ := md.TypeName(); tn != wantTypeNames[j] {
						t.Errorf("types.%s: type name %q, want %q", f.Name, tn, wantTypeNames[j])
					}
				}
			}
			if name == "types" {
				amount := got.Field(12).Metadata // DECIMAL(10,2)
				md := flightsql.ColumnMetadata{Data: &amount}
				p, _ := md.Precision()
				sc, _ := md.Scale()
				if p != 10 || sc != 2 {
					t.Errorf("amount precision, scale = %d, %d; want 10, 2", p, sc)
				}
			}
		}
	})

	t.Run("overlong pattern", func(t *testing.T) {
		info, err := c.GetTables(ctx, &flightsql.GetTablesOpts{TableNameFilterPattern: strp(strings.Repeat("%", 5000))})
		if err != nil {
			t.Fatal(err)
		}
		rdr, err := c.DoGet(ctx, info.Endpoint[0].Ticket)
		if err == nil {
			for rdr.Next() {
			}
			err = rdr.Err()
			rdr.Release()
		}
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("overlong pattern: err = %v, want InvalidArgument", err)
		}
	})
}

// A dataset appears in GetTables as soon as its put finishes, and is gone after
// drop_dataset.
func TestSQLMetadataFollowsPutAndDrop(t *testing.T) {
	srv := startServer(t)
	fc := srv.client(t)
	c := srv.sqlClient(t)
	ctx := context.Background()
	list := func() []string {
		info, err := c.GetTables(ctx, &flightsql.GetTablesOpts{IncludeSchema: true})
		_, recs := fetch(t, c, info, err)
		return column(recs, 2)
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("empty root lists %q", got)
	}
	chars := characters(memory.DefaultAllocator)
	defer chars.Release()
	putRecords(t, fc, "fresh.parquet", chars.Schema(), chars)
	if got := list(); !slices.Equal(got, []string{"fresh"}) {
		t.Fatalf("after put: %q, want [fresh]", got)
	}

	// Replacing it with another schema changes the listed columns.
	typed := typedRecord(t, memory.DefaultAllocator)
	defer typed.Release()
	drop, err := fc.DoAction(ctx, &flight.Action{Type: "drop_dataset", Body: []byte("fresh.parquet")})
	if err != nil {
		t.Fatal(err)
	}
	for { // the drop is done when its stream ends: the put must come after it
		if _, err := drop.Recv(); err != nil {
			break
		}
	}
	putRecords(t, fc, "fresh.parquet", typed.Schema(), typed)
	info, err := c.GetTables(ctx, &flightsql.GetTablesOpts{IncludeSchema: true})
	_, recs := fetch(t, c, info, err)
	got, err := flight.DeserializeSchema(recs[0].Column(4).(*array.Binary).Value(0), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	if got.NumFields() != typedSchema.NumFields() {
		t.Fatalf("after replace: %d columns listed, want %d", got.NumFields(), typedSchema.NumFields())
	}

	stream, err := fc.DoAction(ctx, &flight.Action{Type: "drop_dataset", Body: []byte("fresh.parquet")})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := stream.Recv(); err != nil {
			break
		}
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("after drop: %q, want none", got)
	}
}

func TestSQLMetadataKeysAreEmpty(t *testing.T) {
	srv := startServer(t)
	putMetadataFixtures(t, srv)
	c := srv.sqlClient(t)
	ctx := context.Background()
	ref := flightsql.TableRef{Catalog: strp("memory"), DBSchema: strp("main"), Table: "uploaded"}
	for _, tc := range []struct {
		name string
		get  func() (*flight.FlightInfo, error)
		want *arrow.Schema
	}{
		{"primary", func() (*flight.FlightInfo, error) { return c.GetPrimaryKeys(ctx, ref) }, schema_ref.PrimaryKeys},
		{"exported", func() (*flight.FlightInfo, error) { return c.GetExportedKeys(ctx, ref) }, schema_ref.ExportedKeys},
		{"imported", func() (*flight.FlightInfo, error) { return c.GetImportedKeys(ctx, ref) }, schema_ref.ImportedKeys},
		{"cross", func() (*flight.FlightInfo, error) { return c.GetCrossReference(ctx, ref, ref) }, schema_ref.CrossReference},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := tc.get()
			schema, recs := fetch(t, c, info, err)
			if !schema.Equal(tc.want) {
				t.Errorf("schema %s, want %s", schema, tc.want)
			}
			if n := numRows(recs); n != 0 {
				t.Errorf("%d rows, want none", n)
			}
		})
	}
}

func TestSQLMetadataXdbcTypeInfo(t *testing.T) {
	srv := startServer(t)
	c := srv.sqlClient(t)
	ctx := context.Background()

	info, err := c.GetXdbcTypeInfo(ctx, nil)
	schema, recs := fetch(t, c, info, err)
	if !schema.Equal(schema_ref.XdbcTypeInfo) {
		t.Fatalf("schema %s, want %s", schema, schema_ref.XdbcTypeInfo)
	}
	names := column(recs, 0)
	for _, want := range []string{"BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT",
		"USMALLINT", "UINTEGER", "UBIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "VARCHAR", "BLOB",
		"DATE", "TIME", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "INTERVAL", "UUID", "LIST", "STRUCT", "MAP"} {
		if !slices.Contains(names, want) {
			t.Errorf("type %s missing from %q", want, names)
		}
	}
	// Every listed type name is one DuckDB accepts in a cast.
	for _, name := range names {
		q := fmt.Sprintf("SELECT CAST(NULL AS %s)", name)
		switch name {
		case "LIST":
			q = "SELECT CAST(NULL AS INTEGER[])"
		case "ARRAY":
			q = "SELECT CAST(NULL AS INTEGER[2])"
		case "STRUCT":
			q = "SELECT CAST(NULL AS STRUCT(a INTEGER))"
		case "MAP":
			q = "SELECT CAST(NULL AS MAP(VARCHAR, INTEGER))"
		case "UNION":
			q = "SELECT CAST(NULL AS UNION(a INTEGER))"
		}
		if _, err := c.Execute(ctx, q); err != nil {
			t.Errorf("type %s: %s: %v", name, q, err)
		}
	}

	for _, tc := range []struct {
		code int32
		want []string
	}{
		{12, []string{"VARCHAR"}},
		{-7, []string{"BOOLEAN"}},
		{4, []string{"INTEGER", "UINTEGER"}},
		{93, []string{"TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"}},
		{424242, nil},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			info, err := c.GetXdbcTypeInfo(ctx, &tc.code)
			schema, recs := fetch(t, c, info, err)
			if !schema.Equal(schema_ref.XdbcTypeInfo) {
				t.Fatalf("schema %s", schema)
			}
			if got := column(recs, 0); !slices.Equal(got, tc.want) {
				t.Errorf("types = %q, want %q", got, tc.want)
			}
			for _, r := range recs {
				codes := r.Column(1).(*array.Int32)
				for i := 0; i < codes.Len(); i++ {
					if codes.Value(i) != tc.code {
						t.Errorf("row %d data_type %d, want %d", i, codes.Value(i), tc.code)
					}
				}
			}
		})
	}
}

// sqlInfoValues decodes SqlInfo records: ids in order, and each value as Go (string,
// bool, int64, int32, []string or map[int32][]int32).
func sqlInfoValues(t testing.TB, recs []arrow.RecordBatch) ([]uint32, map[uint32]any) {
	t.Helper()
	var ids []uint32
	vals := make(map[uint32]any)
	for _, r := range recs {
		names := r.Column(0).(*array.Uint32)
		u := r.Column(1).(*array.DenseUnion)
		for i := 0; i < int(r.NumRows()); i++ {
			id := names.Value(i)
			off := int(u.ValueOffset(i))
			var v any
			switch child := u.Field(u.ChildID(i)).(type) {
			case *array.String:
				v = child.Value(off)
			case *array.Boolean:
				v = child.Value(off)
			case *array.Int64:
				v = child.Value(off)
			case *array.Int32:
				v = child.Value(off)
			case *array.List:
				start, end := child.ValueOffsets(off)
				items := child.ListValues().(*array.String)
				var l []string
				for j := start; j < end; j++ {
					l = append(l, items.Value(int(j)))
				}
				v = l
			case *array.Map:
				start, end := child.ValueOffsets(off)
				keys := child.Keys().(*array.Int32)
				items := child.Items().(*array.List)
				m := make(map[int32][]int32)
				for j := start; j < end; j++ {
					s, e := items.ValueOffsets(int(j))
					vs := items.ListValues().(*array.Int32)
					m[keys.Value(int(j))] = append([]int32{}, vs.Int32Values()[s:e]...)
				}
				v = m
			default:
				t.Fatalf("SqlInfo %d: unexpected value array %T", id, child)
			}
			ids = append(ids, id)
			vals[id] = v
		}
	}
	return ids, vals
}

func TestSQLMetadataSqlInfo(t *testing.T) {
	srv := startServer(t)
	putMetadataFixtures(t, srv)
	c := srv.sqlClient(t)
	ctx := context.Background()

	t.Run("requested ids", func(t *testing.T) {
		info, err := c.GetSqlInfo(ctx, []flightsql.SqlInfo{
			flightsql.SqlInfoFlightSqlServerReadOnly,
			flightsql.SqlInfoFlightSqlServerName,
			flightsql.SqlInfo(99999), // unknown: left out
			flightsql.SqlInfoFlightSqlServerVersion,
			flightsql.SqlInfoIdentifierQuoteChar,
			flightsql.SqlInfoTransactionsSupported,
			flightsql.SqlInfoNullOrdering,
			flightsql.SqlInfoSupportedGroupBy,
			flightsql.SqlInfoMaxTableNameLen,
		})
		schema, recs := fetch(t, c, info, err)
		if !schema.Equal(schema_ref.SqlInfo) {
			t.Fatalf("schema %s", schema)
		}
		ids, vals := sqlInfoValues(t, recs)
		wantIDs := []uint32{3, 0, 1, 504, 563, 507, 522, 559}
		if !slices.Equal(ids, wantIDs) {
			t.Errorf("ids = %v, want %v (asked order, unknown left out)", ids, wantIDs)
		}
		want := map[uint32]any{
			3: true, 0: "Quiver", 1: "test", 504: `"`, 563: false,
			507: int32(flightsql.SqlNullOrderingSortAtEnd), 522: int32(3), 559: int64(200),
		}
		for id, w := range want {
			if fmt.Sprint(vals[id]) != fmt.Sprint(w) || fmt.Sprintf("%T", vals[id]) != fmt.Sprintf("%T", w) {
				t.Errorf("SqlInfo %s = %#v, want %#v", flightsql.SqlInfo(id), vals[id], w)
			}
		}
	})

	// Everything, as a person reads it.
	info, err := c.GetSqlInfo(ctx, nil)
	_, recs := fetch(t, c, info, err)
	ids, vals := sqlInfoValues(t, recs)
	if !slices.IsSorted(ids) {
		t.Errorf("ids not in ascending order: %v", ids)
	}
	var b bytes.Buffer
	for _, id := range ids {
		fmt.Fprintf(&b, "%d %s = ", id, flightsql.SqlInfo(id))
		switch v := vals[id].(type) {
		case []string:
			fmt.Fprintf(&b, "(%d)\n", len(v))
			for _, s := range v {
				fmt.Fprintf(&b, "    %s\n", s)
			}
		case map[int32][]int32:
			fmt.Fprintf(&b, "(%d)\n", len(v))
			keys := make([]int32, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				fmt.Fprintf(&b, "    %d -> %v\n", k, v[k])
			}
		case string:
			fmt.Fprintf(&b, "%q\n", v)
		default:
			fmt.Fprintf(&b, "%v\n", v)
		}
	}
	checkGolden(t, "sqlinfo.golden", b.Bytes())

	// The claims a query can check, checked.
	query := func(q string) []arrow.RecordBatch {
		t.Helper()
		info, err := c.Execute(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		_, recs := fetch(t, c, info, err)
		return recs
	}
	count := func(q string) int64 {
		t.Helper()
		return query(q)[0].Column(0).(*array.Int64).Value(0)
	}
	for _, id := range []flightsql.SqlInfo{flightsql.SqlInfoNumericFunctions, flightsql.SqlInfoStringFunctions,
		flightsql.SqlInfoSystemFunctions, flightsql.SqlInfoDateTimeFunctions} {
		names := vals[uint32(id)].([]string)
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = "'" + n + "'"
		}
		q := "SELECT count(DISTINCT upper(function_name)) FROM duckdb_functions() WHERE upper(function_name) IN (" + strings.Join(quoted, ",") + ")"
		if n := count(q); n != int64(len(names)) {
			t.Errorf("%s: %d of the %d functions exist in DuckDB", id, n, len(names))
		}
	}
	if kw := vals[uint32(flightsql.SqlInfoKeywords)].([]string); int64(len(kw)) != count("SELECT count(DISTINCT keyword_name) FROM duckdb_keywords()") || !slices.Contains(kw, "SELECT") {
		t.Errorf("keywords (%d) are not DuckDB's", len(kw))
	}
	// Quoted identifiers are case-insensitive; '$' continues an unquoted one.
	query(`SELECT "CHARACTER", a$b FROM (SELECT "Character", 1 AS a$b FROM uploaded)`)
	// NULLs sort at the end, ascending and descending.
	for _, dir := range []string{"ASC", "DESC"} {
		recs := query("SELECT x FROM (VALUES (1), (NULL), (2)) t(x) ORDER BY x " + dir)
		if col := recs[len(recs)-1].Column(0); !col.IsNull(col.Len() - 1) {
			t.Errorf("ORDER BY x %s: NULL not last", dir)
		}
	}
	// LIKE ESCAPE, NULL || x, full outer joins, correlated subqueries, GROUP BY an
	// unselected column, ORDER BY an expression.
	if n := count(`SELECT count(*) FROM (SELECT 1) WHERE 'a_b' LIKE 'a!_b' ESCAPE '!' AND (NULL || 'x') IS NULL`); n != 1 {
		t.Errorf("LIKE ESCAPE / NULL concatenation: %d rows", n)
	}
	if n := count(`SELECT count(*) FROM uploaded u FULL OUTER JOIN my_table m ON u."Character" = m."Character" WHERE EXISTS (SELECT 1 FROM types t WHERE t.i32 = 3 AND u."Character" IS NOT NULL)`); n != 3 {
		t.Errorf("full outer join with correlated EXISTS: %d rows, want 3", n)
	}
	query(`SELECT count(*) FROM uploaded GROUP BY "Character" ORDER BY length(max("Character")) DESC`)
}

// getObjects runs ADBC's GetObjects and flattens it to "catalog", "catalog.schema",
// "catalog.schema.table (TYPE)" and "catalog.schema.table.column TYPE_NAME" lines.
func getObjects(t testing.TB, conn adbc.Connection, depth adbc.ObjectDepth, table *string) []string {
	t.Helper()
	rdr, err := conn.GetObjects(context.Background(), depth, nil, nil, table, nil, nil)
	if err != nil {
		t.Fatalf("GetObjects(depth %d): %v", depth, err)
	}
	defer rdr.Release()
	type column struct {
		Name     string  `json:"column_name"`
		Position int     `json:"ordinal_position"`
		TypeName *string `json:"xdbc_type_name"`
	}
	type tbl struct {
		Name    string   `json:"table_name"`
		Type    string   `json:"table_type"`
		Columns []column `json:"table_columns"`
	}
	type schema struct {
		Name   string `json:"db_schema_name"`
		Tables []tbl  `json:"db_schema_tables"`
	}
	type cat struct {
		Name    string   `json:"catalog_name"`
		Schemas []schema `json:"catalog_db_schemas"`
	}
	var out []string
	for rdr.Next() {
		var buf bytes.Buffer
		if err := array.RecordToJSON(rdr.RecordBatch(), &buf); err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(&buf)
		for dec.More() {
			var c cat
			if err := dec.Decode(&c); err != nil {
				t.Fatal(err)
			}
			out = append(out, c.Name)
			for _, s := range c.Schemas {
				out = append(out, c.Name+"."+s.Name)
				for _, tb := range s.Tables {
					out = append(out, fmt.Sprintf("%s.%s.%s (%s)", c.Name, s.Name, tb.Name, tb.Type))
					for i, col := range tb.Columns {
						tn := "<null>"
						if col.TypeName != nil {
							tn = *col.TypeName
						}
						if col.Position != i+1 {
							t.Errorf("%s.%s: ordinal position %d, want %d", tb.Name, col.Name, col.Position, i+1)
						}
						out = append(out, fmt.Sprintf("%s.%s.%s.%s %s", c.Name, s.Name, tb.Name, col.Name, tn))
					}
				}
			}
		}
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestADBCGetObjects(t *testing.T) {
	srv := startServer(t)
	putMetadataFixtures(t, srv)
	conn := srv.adbcConn(t)

	tables := []string{"memory", "memory.main"}
	for _, name := range allTables {
		tables = append(tables, "memory.main."+name+" (TABLE)")
	}
	if got := getObjects(t, conn, adbc.ObjectDepthCatalogs, nil); !slices.Equal(got, []string{"memory"}) {
		t.Errorf("catalogs: %q", got)
	}
	if got := getObjects(t, conn, adbc.ObjectDepthDBSchemas, nil); !slices.Equal(got, []string{"memory", "memory.main"}) {
		t.Errorf("schemas: %q", got)
	}
	if got := getObjects(t, conn, adbc.ObjectDepthTables, nil); !slices.Equal(got, tables) {
		t.Errorf("tables:\n got %q\nwant %q", got, tables)
	}

	all := getObjects(t, conn, adbc.ObjectDepthAll, nil)
	var want []string
	want = append(want, "memory", "memory.main")
	for _, name := range allTables {
		want = append(want, "memory.main."+name+" (TABLE)")
		if name == "types" {
			for i, f := range typedSchema.Fields() {
				want = append(want, "memory.main.types."+f.Name+" "+wantTypeNames[i])
			}
		} else {
			want = append(want, "memory.main."+name+".Character VARCHAR")
		}
	}
	if !slices.Equal(all, want) {
		t.Errorf("all:\n got %q\nwant %q", all, want)
	}
	if got := getObjects(t, conn, adbc.ObjectDepthColumns, strp("upl%")); !slices.Equal(got, []string{"memory", "memory.main", "memory.main.uploaded (TABLE)", "memory.main.uploaded.Character VARCHAR"}) {
		t.Errorf("columns of upl%%: %q", got)
	}

	// GetTableSchema is the table's SELECT * schema.
	got, err := conn.GetTableSchema(context.Background(), nil, nil, "types")
	if err != nil {
		t.Fatal(err)
	}
	qschema, _, err := adbcQuery(t, conn, "SELECT * FROM types")
	if err != nil {
		t.Fatal(err)
	}
	if got.NumFields() != qschema.NumFields() {
		t.Fatalf("GetTableSchema: %d fields, query %d", got.NumFields(), qschema.NumFields())
	}
	for i, f := range got.Fields() {
		if f.Name != qschema.Field(i).Name || !arrow.TypeEqual(f.Type, qschema.Field(i).Type) {
			t.Errorf("GetTableSchema field %d: %s %s, query gives %s %s", i, f.Name, f.Type, qschema.Field(i).Name, qschema.Field(i).Type)
		}
	}
	if _, err := conn.GetTableSchema(context.Background(), nil, nil, "nosuch"); err == nil {
		t.Errorf("GetTableSchema of a missing table succeeded")
	} else if e, ok := err.(adbc.Error); !ok || e.Code != adbc.StatusNotFound {
		t.Errorf("GetTableSchema of a missing table: %v, want NotFound", err)
	}

	rdr, err := conn.GetTableTypes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for rdr.Next() {
		types = append(types, column([]arrow.RecordBatch{rdr.RecordBatch()}, 0)...)
	}
	rdr.Release()
	if !slices.Equal(types, []string{"TABLE"}) {
		t.Errorf("GetTableTypes = %q", types)
	}
}

func TestADBCGetInfo(t *testing.T) {
	srv := startServer(t)
	conn := srv.adbcConn(t)
	rdr, err := conn.GetInfo(context.Background(), []adbc.InfoCode{adbc.InfoVendorName, adbc.InfoVendorVersion, adbc.InfoVendorArrowVersion, adbc.InfoVendorSql, adbc.InfoVendorSubstrait})
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	got := map[adbc.InfoCode]string{}
	for rdr.Next() {
		rec := rdr.RecordBatch()
		codes := rec.Column(0).(*array.Uint32)
		u := rec.Column(1).(*array.DenseUnion)
		for i := 0; i < int(rec.NumRows()); i++ {
			off := int(u.ValueOffset(i))
			switch child := u.Field(u.ChildID(i)).(type) {
			case *array.String:
				got[adbc.InfoCode(codes.Value(i))] = child.Value(off)
			case *array.Boolean:
				got[adbc.InfoCode(codes.Value(i))] = fmt.Sprint(child.Value(off))
			}
		}
	}
	want := map[adbc.InfoCode]string{
		adbc.InfoVendorName: "Quiver", adbc.InfoVendorVersion: "test", adbc.InfoVendorArrowVersion: arrow.PkgVersion,
		adbc.InfoVendorSql: "true", adbc.InfoVendorSubstrait: "false",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("GetInfo %d = %q, want %q", k, got[k], v)
		}
	}
}

// arrow-go's database/sql driver: a query, scanned row by row.
func TestDatabaseSQLDriverQuery(t *testing.T) {
	srv := startServer(t)
	putMetadataFixtures(t, srv)
	db, err := sql.Open("flightsql", "flightsql://"+srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(context.Background(), `SELECT name, i32, amount, flag FROM types ORDER BY i32 NULLS LAST`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var (
			name   sql.NullString
			i32    sql.NullInt32
			amount any
			flag   sql.NullBool
		)
		if err := rows.Scan(&name, &i32, &amount, &flag); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%v/%v/%v/%v", name.String, i32.Int32, amount, flag.Bool))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], "Mario/3/") || !strings.HasSuffix(got[0], "/true") || got[1] != "/0/<nil>/false" {
		t.Errorf("rows = %q", got)
	}
}

// Every conversion SQL_SUPPORTS_CONVERT claims is a CAST DuckDB runs.
func TestSQLMetadataConversionsAreCasts(t *testing.T) {
	srv := startServer(t)
	c := srv.sqlClient(t)
	ctx := context.Background()
	info, err := c.GetSqlInfo(ctx, []flightsql.SqlInfo{flightsql.SqlInfoSupportsConvert})
	_, recs := fetch(t, c, info, err)
	_, vals := sqlInfoValues(t, recs)
	conv, ok := vals[uint32(flightsql.SqlInfoSupportsConvert)].(map[int32][]int32)
	if !ok || len(conv) == 0 {
		t.Fatalf("SQL_SUPPORTS_CONVERT = %#v", vals)
	}
	// By SqlSupportsConvert ordinal: a value of the type, and the DuckDB type it names.
	values := map[int32]string{
		0: "1::BIGINT", 1: "'ab'::BLOB", 2: "true", 3: "'x'", 4: "DATE '2024-01-02'",
		5: "1.5::DECIMAL(4,1)", 6: "1.5::DOUBLE", 7: "1::INTEGER", 8: "INTERVAL 1 DAY",
		9: "INTERVAL 1 MONTH", 10: "'ab'::BLOB", 11: "'x'", 12: "1::DECIMAL(4,0)", 13: "1.5::REAL",
		14: "1::SMALLINT", 15: "TIME '01:02:03'", 16: "TIMESTAMP '2024-01-02 01:02:03'",
		17: "1::TINYINT", 18: "'ab'::BLOB", 19: "'x'",
	}
	types := map[int32]string{
		0: "BIGINT", 1: "BLOB", 2: "BOOLEAN", 3: "VARCHAR", 4: "DATE", 5: "DECIMAL(10,2)",
		6: "DOUBLE", 7: "INTEGER", 8: "INTERVAL", 9: "INTERVAL", 10: "BLOB", 11: "VARCHAR",
		12: "DECIMAL(10,2)", 13: "REAL", 14: "SMALLINT", 15: "TIME", 16: "TIMESTAMP",
		17: "TINYINT", 18: "BLOB", 19: "VARCHAR",
	}
	// Text converts to anything that text of the right form spells.
	textFor := map[int32]string{
		0: "'1'", 1: "'ab'", 2: "'true'", 4: "'2024-01-02'", 5: "'1.5'", 6: "'1.5'", 7: "'1'",
		8: "'1 day'", 9: "'1 month'", 10: "'ab'", 12: "'1'", 13: "'1.5'", 14: "'1'",
		15: "'01:02:03'", 16: "'2024-01-02 01:02:03'", 17: "'1'", 18: "'ab'",
	}
	for from, tos := range conv {
		for _, to := range tos {
			v := values[from]
			if tv, ok := textFor[to]; ok && (from == 3 || from == 11 || from == 19) {
				v = tv
			}
			q := fmt.Sprintf("SELECT CAST(%s AS %s)", v, types[to])
			info, err := c.Execute(ctx, q)
			if err == nil {
				var rdr *flight.Reader
				if rdr, err = c.DoGet(ctx, info.Endpoint[0].Ticket); err == nil {
					for rdr.Next() {
					}
					err = rdr.Err()
					rdr.Release()
				}
			}
			if err != nil {
				t.Errorf("claimed conversion %d -> %d: %s: %v", from, to, q, err)
			}
		}
	}
}
