//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
)

func TestMacrosCalling(t *testing.T) {
	bodies := map[string]string{
		"a": "current_setting('x')",
		"b": "a() + 1",            // through a
		"c": "my_current_setting", // a name that only contains it
		"d": "1 + c(2)",
		"e": "f.current_setting (1)",
	}
	got := slices.Sorted(maps.Keys(macrosCalling(bodies, map[string]bool{"current_setting": true})))
	if want := []string{"a", "b"}; !slices.Equal(got, want) {
		t.Errorf("macrosCalling = %q, want %q", got, want)
	}
}

// The macros that reveal settings are found from DuckDB's own definitions (none in
// 1.5.6, but every one was searched), and a statement through one of them is refused
// like current_setting itself.
func TestRevealingMacrosAreRefused(t *testing.T) {
	e, _ := testEngine(t, Config{})
	if builtinMacros < 100 {
		t.Fatalf("searched %d built-in macro definitions; DuckDB 1.5.6 has over 100", builtinMacros)
	}
	t.Logf("%d built-in macros, calling current_setting: %q", builtinMacros, slices.Sorted(maps.Keys(revealingMacros)))
	if _, err := e.Describe(context.Background(), "SELECT current_setting('temp_directory')"); !errors.Is(err, ErrForbidden) {
		t.Errorf("current_setting: %v, want ErrForbidden", err)
	}
	for name := range revealingMacros {
		_, err := e.Describe(context.Background(), "SELECT "+name+"()")
		if !errors.Is(err, ErrForbidden) {
			t.Errorf("%s(): %v, want ErrForbidden", name, err)
		}
	}
}
