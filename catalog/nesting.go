package catalog

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// MaxNestingDepth is the deepest column a dataset may have: the number of nested
// types (list, struct, map entries, union, ...) from a top-level column down to its
// deepest leaf. A list<list<int64>> column is 2 deep; a map counts 2 (its list of
// key/value structs).
//
// The SQL engine's Parquet reader (DuckDB 1.5.6) takes time exponential in the list
// depth and cannot be interrupted meanwhile: a one-row file of list<...<int64>> took
// 10 ms at depth 16, 63 ms at 18, 0.32 s at 20, 4.3 s at 24 and more than 26 s at 27,
// ignoring the query timeout and shutdown. Structs alone grow slowly (0.18 s at 128)
// but count the same, so that one rule covers every mix. Arrow's own Parquet reader,
// which serves plain DoGet, reads depth 64 in under a millisecond.
const MaxNestingDepth = 16

// ErrTooDeep means a schema has a column nested more than MaxNestingDepth levels.
// The wrapping error names the column path and its depth. A put wraps it in
// ErrInvalidData too.
var ErrTooDeep = errors.New("column nested too deeply")

// CheckNesting returns an ErrTooDeep naming the first column of schema nested more
// than MaxNestingDepth levels, or nil.
func CheckNesting(schema *arrow.Schema) error {
	if schema == nil {
		return nil
	}
	for _, f := range schema.Fields() {
		depth, path := nesting(f)
		if depth > MaxNestingDepth {
			return fmt.Errorf("%w: column %s is nested %d levels deep; at most %d are supported",
				ErrTooDeep, formatPath(path), depth, MaxNestingDepth)
		}
	}
	return nil
}

// nesting returns how many nested types f's type holds on its deepest path, and the
// field names along that path (f's name first).
func nesting(f arrow.Field) (int, []string) {
	dt := f.Type
	if ext, ok := dt.(arrow.ExtensionType); ok {
		dt = ext.StorageType()
	}
	if dict, ok := dt.(*arrow.DictionaryType); ok {
		dt = dict.ValueType
	}
	nested, ok := dt.(arrow.NestedType)
	if !ok {
		return 0, []string{f.Name}
	}
	best, bestPath := 0, []string(nil)
	for _, child := range nested.Fields() {
		if d, p := nesting(child); bestPath == nil || d > best {
			best, bestPath = d, p
		}
	}
	return best + 1, append([]string{f.Name}, bestPath...)
}

// formatPath quotes a column path for a message, eliding the middle of a long one.
func formatPath(path []string) string {
	const keep = 4
	if len(path) > 2*keep+1 {
		elided := fmt.Sprintf("…(%d more)…", len(path)-2*keep)
		path = append(append(append([]string(nil), path[:keep]...), elided), path[len(path)-keep:]...)
	}
	return fmt.Sprintf("%q", strings.Join(path, "."))
}
