package flightsql

import (
	"regexp"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql/schema_ref"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quiverdata/quiver/flightsql/engine"
)

func TestLikeMatch(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"", "", true},
		{"", "a", false},
		{"%", "", true},
		{"%", "anything", true},
		{"sales", "sales", true},
		{"sales", "Sales", false}, // names match as stored, case included
		{"sal%", "sales", true},
		{"%les", "sales", true},
		{"%al%", "sales", true},
		{"s_les", "sales", true},
		{"s_les", "sles", false},
		{"s__es", "sales", true},
		{"_", "é", true}, // '_' is one character, not one byte
		{"%a%b%c", "xxaxxbxxc", true},
		{"%a%b%c", "xxaxxcxxb", false},
		{"a%%b", "ab", true},
		{`my\_table`, "my_table", true},
		{`my\_table`, "myXtable", false},
		{`100\%`, "100%", true},
		{`100\%`, "1000", false},
		{`a\\b`, `a\b`, true},
		{`ab\`, `ab\`, true}, // a trailing escape is literal
		{"%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%b", strings.Repeat("a", 10000), false},
	}
	for _, c := range cases {
		t.Run(c.pattern+"~"+c.name, func(t *testing.T) {
			if got := likeMatch(c.pattern, c.name); got != c.want {
				t.Errorf("likeMatch(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
			}
		})
	}
}

// likeRegexp is a slow, obviously right LIKE: the oracle for the fuzz target.
func likeRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	pr := []rune(pattern)
	for i := 0; i < len(pr); i++ {
		switch c := pr[i]; {
		case c == '\\' && i+1 < len(pr):
			i++
			b.WriteString(regexp.QuoteMeta(string(pr[i])))
		case c == '%':
			b.WriteString(`.*`)
		case c == '_':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

func FuzzLikeMatch(f *testing.F) {
	for _, s := range [][2]string{{"sal%", "sales"}, {`a\_b`, "a_b"}, {"%a_%b", "xaybzb"}, {"_%_", "ab"}, {`\`, `\`}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if len(pattern) > 64 || len(name) > 64 || !utf8Valid(pattern) || !utf8Valid(name) {
			return
		}
		want := likeRegexp(pattern).MatchString(name)
		if got := likeMatch(pattern, name); got != want {
			t.Errorf("likeMatch(%q, %q) = %v, regexp says %v", pattern, name, got, want)
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestSqlInfoRecord(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	info := fsql.SqlInfoResultMap{
		0:   "Quiver",
		3:   true,
		100: int32(7),
		541: int64(9),
		508: []string{"SELECT", "FROM"},
		517: map[int32][]int32{2: {1}, 0: {3, 4}},
	}
	// Unknown ids are left out; the order is the order asked.
	rec, err := buildSqlInfo(mem, info, []uint32{517, 99999, 0, 3, 508, 541, 100})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if !rec.Schema().Equal(schema_ref.SqlInfo) {
		t.Fatalf("schema = %s, want %s", rec.Schema(), schema_ref.SqlInfo)
	}
	ids := rec.Column(0).(*array.Uint32)
	want := []uint32{517, 0, 3, 508, 541, 100}
	if ids.Len() != len(want) {
		t.Fatalf("got %d rows, want %d", ids.Len(), len(want))
	}
	for i, id := range want {
		if ids.Value(i) != id {
			t.Errorf("row %d id = %d, want %d", i, ids.Value(i), id)
		}
	}
	vals := rec.Column(1).(*array.DenseUnion)
	m := vals.Field(int(infoInt32ListMap)).(*array.Map)
	if got := m.String(); got != `[{[0 2] [[3 4] [1]]}]` {
		t.Errorf("conversion map = %s, want keys sorted", got)
	}
	if got := vals.Field(int(infoString)).(*array.String).Value(0); got != "Quiver" {
		t.Errorf("name = %q", got)
	}
}

func TestXdbcTypeInfoRecord(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rec := buildXdbcTypeInfo(mem, nil)
	defer rec.Release()
	if !rec.Schema().Equal(schema_ref.XdbcTypeInfo) {
		t.Fatalf("schema = %s, want %s", rec.Schema(), schema_ref.XdbcTypeInfo)
	}
	if int(rec.NumRows()) != len(xdbcTypes) {
		t.Fatalf("rows = %d, want %d", rec.NumRows(), len(xdbcTypes))
	}
	// ODBC wants rows ordered by data type: codes ascending, nested (JDBC) last.
	codes := rec.Column(1).(*array.Int32)
	for i := 1; i < codes.Len(); i++ {
		if codes.Value(i) < codes.Value(i-1) {
			t.Errorf("row %d (%d) after %d: not sorted by data_type", i, codes.Value(i), codes.Value(i-1))
		}
	}
	for _, col := range []int{1, 6, 7, 8, 10, 15} { // the non-nullable columns
		if n := rec.Column(col).NullN(); n != 0 {
			t.Errorf("column %s has %d nulls", rec.Schema().Field(col).Name, n)
		}
	}

	code := xdbcInteger
	ints := buildXdbcTypeInfo(mem, &code)
	defer ints.Release()
	names := ints.Column(0).(*array.String)
	if names.Len() != 2 || names.Value(0) != "INTEGER" || names.Value(1) != "UINTEGER" {
		t.Errorf("filtered on INTEGER: %v", names)
	}
	unsigned := ints.Column(9).(*array.Boolean)
	if unsigned.Value(0) || !unsigned.Value(1) {
		t.Errorf("unsigned_attribute = %v, want [false true]", unsigned)
	}
}

func TestAnnotateKeepsTypesAndAddsColumnMetadata(t *testing.T) {
	in := arrow.NewSchema([]arrow.Field{
		{Name: "d", Type: &arrow.Decimal128Type{Precision: 18, Scale: 3}, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true,
			Metadata: arrow.NewMetadata([]string{"ARROW:extension:name"}, []string{"x"})},
	}, nil)
	out := annotate("t", in, []string{"DECIMAL(18,3)", "VARCHAR"})
	for i, f := range out.Fields() {
		if !arrow.TypeEqual(f.Type, in.Field(i).Type) {
			t.Errorf("field %d type %s, want %s", i, f.Type, in.Field(i).Type)
		}
	}
	md := fsql.ColumnMetadata{Data: &out.Fields()[0].Metadata}
	if v, _ := md.TypeName(); v != "DECIMAL(18,3)" {
		t.Errorf("type name = %q", v)
	}
	if p, _ := md.Precision(); p != 18 {
		t.Errorf("precision = %d", p)
	}
	if sc, _ := md.Scale(); sc != 3 {
		t.Errorf("scale = %d", sc)
	}
	if v, _ := md.TableName(); v != "t" {
		t.Errorf("table name = %q", v)
	}
	if v, _ := md.CatalogName(); v != sqlCatalog {
		t.Errorf("catalog name = %q", v)
	}
	smd := fsql.ColumnMetadata{Data: &out.Fields()[1].Metadata}
	if v, ok := smd.IsCaseSensitive(); !ok || !v {
		t.Errorf("string column not case-sensitive")
	}
	if out.Field(1).Metadata.FindKey("ARROW:extension:name") < 0 {
		t.Errorf("existing metadata lost: %v", out.Field(1).Metadata)
	}
	if got := engine.TypeName(arrow.ListOf(arrow.PrimitiveTypes.Int32)); got != "INTEGER[]" {
		t.Errorf("fallback name of list<int32> = %q", got)
	}
}
