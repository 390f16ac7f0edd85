package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestSplitStatements(t *testing.T) {
	cases := []struct {
		name, script string
		want         []string // "line:text"
	}{
		{"one", "SELECT 1", []string{"1:SELECT 1"}},
		{"two", "SELECT 1;\nSELECT 2;\n", []string{"1:SELECT 1", "2:SELECT 2"}},
		{"empty statements", ";;\n  ;SELECT 1;;", []string{"2:SELECT 1"}},
		{"semicolon in a string", "SELECT 'a;b'; SELECT 'it''s;'", []string{"1:SELECT 'a;b'", "1:SELECT 'it''s;'"}},
		{"semicolon in a quoted name", `SELECT 1 AS "x;y"; SELECT 2`, []string{`1:SELECT 1 AS "x;y"`, "1:SELECT 2"}},
		{"escape string", `SELECT E'\';'; SELECT 2`, []string{`1:SELECT E'\';'`, "1:SELECT 2"}},
		{"dollar quotes", "SELECT $$a;b$$;\nSELECT $fn$ ; $$ ; $fn$", []string{"1:SELECT $$a;b$$", "2:SELECT $fn$ ; $$ ; $fn$"}},
		{"line comment", "-- first; not a statement\nSELECT 1; -- trailing;\nSELECT 2", []string{"2:SELECT 1", "3:SELECT 2"}},
		{"block comments nest", "/* a; /* b; */ c; */ SELECT 1;\n/* only a comment */;", []string{"1:SELECT 1"}},
		{"lines counted through strings", "SELECT 'a\nb';\n\n  SELECT 3", []string{"1:SELECT 'a\nb'", "4:SELECT 3"}},
		{"parameter is not a dollar quote", "SELECT $1; SELECT 2", []string{"1:SELECT $1", "1:SELECT 2"}},
		{"unterminated string", "SELECT 1; SELECT 'a;", []string{"1:SELECT 1", "1:SELECT 'a;"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, s := range splitStatements(c.script) {
				got = append(got, fmt.Sprintf("%d:%s", s.line, s.text))
			}
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", c.want) {
				t.Errorf("splitStatements(%q) =\n%q\nwant\n%q", c.script, got, c.want)
			}
		})
	}
}

func TestStatementComplete(t *testing.T) {
	cases := map[string]bool{
		"SELECT 1;":                true,
		"SELECT 1; ":               true,
		"SELECT 1; -- done":        true,
		"SELECT 1":                 false,
		"SELECT 'a;":               false,
		"SELECT 'a;';":             true,
		"SELECT $$ ;":              false,
		"SELECT 1 /* ; */":         false,
		"SELECT 1 /* unclosed ; ":  false,
		"SELECT 1;\nSELECT 2;":     true,
		"SELECT 1;\nSELECT 2":      false,
		`SELECT "a;`:               false,
		"":                         false,
		"-- only a comment;":       false,
		"SELECT E'\\';":            false,
		"SELECT E'\\'';":           true,
		"SELECT x$$ FROM t;":       true, // $$ inside a word is no quote
		"SELECT 1 -- comment ;\n;": true,
	}
	for text, want := range cases {
		if got := statementComplete(text); got != want {
			t.Errorf("statementComplete(%q) = %v, want %v", text, got, want)
		}
	}
}

// FuzzSplitStatements checks that splitting never panics, loses no statement text and
// gives lines inside the script.
func FuzzSplitStatements(f *testing.F) {
	for _, s := range []string{"SELECT 1; SELECT 2", "SELECT 'a;b'", "$$;$$;", "/* /* */ ; */", "E'\\';'", "--;\n;", "$a$ $b$ $a$;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, script string) {
		lines := strings.Count(script, "\n") + 1
		for _, s := range splitStatements(script) {
			if s.text == "" || !strings.Contains(script, s.text) {
				t.Fatalf("statement %q is not a part of the script", s.text)
			}
			if s.line < 1 || s.line > lines {
				t.Fatalf("line %d outside 1..%d", s.line, lines)
			}
		}
		statementComplete(script)
	})
}
