//go:build duckdb_arrow

package engine

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// A partition value may hold a NUL (a directory "k=x%00y") and any integer type a
// partitioned put declares; each literal must parse and give back its value and type.
func TestPartitionLiterals(t *testing.T) {
	e, _ := testEngine(t, Config{})
	tests := []struct {
		v    scalar.Scalar
		want string
	}{
		{scalar.NewStringScalar("x\x00y"), "[[VARCHAR 3 true]]"},
		{scalar.NewStringScalar("\x00"), "[[VARCHAR 1 true]]"},
		{scalar.NewStringScalar("it's"), "[[VARCHAR 4 true]]"},
		{scalar.NewInt8Scalar(-8), "[[TINYINT -8 true]]"},
		{scalar.NewInt16Scalar(2024), "[[SMALLINT 2024 true]]"},
		{scalar.NewUint8Scalar(255), "[[UTINYINT 255 true]]"},
		{scalar.NewUint16Scalar(65535), "[[USMALLINT 65535 true]]"},
		{scalar.NewUint32Scalar(4294967295), "[[UINTEGER 4294967295 true]]"},
		{scalar.NewUint64Scalar(18446744073709551615), "[[UBIGINT 18446744073709551615 true]]"},
		{scalar.MakeNullScalar(arrow.PrimitiveTypes.Uint16), "[[USMALLINT <nil> <nil>]]"},
	}
	for _, tt := range tests {
		lit, err := sqlLiteral(tt.v)
		if err != nil {
			t.Fatalf("sqlLiteral(%v): %v", tt.v, err)
		}
		var size, same string
		switch v := tt.v.(type) {
		case *scalar.String:
			size = "length(x)"
			same = fmt.Sprintf("x = %s", stringLiteral(string(v.Data())))
		default:
			size = "x"
			same = "x = x"
		}
		q := fmt.Sprintf("SELECT typeof(x), %s, %s FROM (SELECT %s AS x)", size, same, lit)
		if got := fmt.Sprint(queryAll(t, e, q, nil)); got != tt.want {
			t.Errorf("%s: %s, want %s", q, got, tt.want)
		}
	}
}
