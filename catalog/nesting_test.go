package catalog

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// listsOf is `depth` lists around int64.
func listsOf(depth int) arrow.DataType {
	var dt arrow.DataType = arrow.PrimitiveTypes.Int64
	for range depth {
		dt = arrow.ListOf(dt)
	}
	return dt
}

// structsOf is `depth` one-field structs around int64.
func structsOf(depth int) arrow.DataType {
	var dt arrow.DataType = arrow.PrimitiveTypes.Int64
	for range depth {
		dt = arrow.StructOf(arrow.Field{Name: "s", Type: dt, Nullable: true})
	}
	return dt
}

func TestCheckNesting(t *testing.T) {
	cases := []struct {
		name    string
		typ     arrow.DataType
		wantErr string // "" = accepted
	}{
		{"flat", arrow.PrimitiveTypes.Int64, ""},
		{"lists at the limit", listsOf(MaxNestingDepth), ""},
		{"lists over the limit", listsOf(MaxNestingDepth + 1), `column "c.item.item.item.…(10 more)….item.item.item.item" is nested 17 levels deep; at most 16 are supported`},
		{"lists 30 deep", listsOf(30), "nested 30 levels deep"},
		{"structs over the limit", structsOf(MaxNestingDepth + 1), `column "c.s.s.s.…(10 more)….s.s.s.s" is nested 17 levels`},
		{"a map counts two", arrow.MapOf(arrow.BinaryTypes.String, listsOf(MaxNestingDepth-1)), "nested 17 levels deep"},
		{"map within the limit", arrow.MapOf(arrow.BinaryTypes.String, listsOf(MaxNestingDepth-2)), ""},
		{"large and fixed-size lists count", arrow.LargeListOf(arrow.FixedSizeListOf(2, listsOf(MaxNestingDepth-1))), "nested 17 levels deep"},
		{"the deepest branch of a struct", arrow.StructOf(
			arrow.Field{Name: "shallow", Type: arrow.PrimitiveTypes.Int8},
			arrow.Field{Name: "deep", Type: listsOf(MaxNestingDepth)},
		), `column "c.deep.item.item.…(10 more)….item.item.item.item" is nested 17 levels deep`},
		{"dictionary of strings", &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			schema := arrow.NewSchema([]arrow.Field{
				{Name: "id", Type: arrow.PrimitiveTypes.Int64},
				{Name: "c", Type: c.typ, Nullable: true},
			}, nil)
			err := CheckNesting(schema)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckNesting = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrTooDeep) || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("CheckNesting = %v, want ErrTooDeep containing %q", err, c.wantErr)
			}
		})
	}
	if err := CheckNesting(nil); err != nil {
		t.Fatalf("CheckNesting(nil) = %v", err)
	}
}

// TestPutRefusesDeepNesting: a stream with a column nested deeper than the SQL engine
// can read safely is refused as invalid data before anything is written, in every
// mode, naming the column and its depth.
func TestPutRefusesDeepNesting(t *testing.T) {
	s, _ := newTestStore(t)
	put(t, s, "d", Create, 0, 10)
	schema := arrow.NewSchema([]arrow.Field{{Name: "deep", Type: listsOf(30), Nullable: true}}, nil)
	for _, mode := range []PutMode{Create, Replace, Append, CreateOrAppend} {
		name := "d"
		if mode == Create {
			name = "new"
		}
		rdr := newScriptedReader(schema, nil, -1, nil)
		_, err := s.Put(context.Background(), name, mode, rdr)
		rdr.Release()
		if !errors.Is(err, ErrInvalidData) || !errors.Is(err, ErrTooDeep) {
			t.Fatalf("%v: Put = %v, want ErrInvalidData and ErrTooDeep", mode, err)
		}
		for _, want := range []string{`dataset "` + name + `"`, `column "deep.item`, "nested 30 levels deep", "at most 16"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%v: error %q does not say %q", mode, err, want)
			}
		}
	}
	settle(t, s) // d's own put may still be converting (landing.go)
	if got := listDir(t, s.Root()); len(got) != 1 {
		t.Fatalf("root holds %v, want only d", got)
	}
}
