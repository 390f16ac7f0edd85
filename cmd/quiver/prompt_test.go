package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chzyer/readline"
)

func TestCompleterCandidates(t *testing.T) {
	loads := 0
	c := &sqlCompleter{load: func(context.Context) (completionWords, error) {
		loads++
		return completionWords{
			tables:   []string{"sales", "sample"},
			columns:  map[string][]string{"sales": {"region", "amount"}, "sample": {"rate"}},
			keywords: []string{"SELECT", "SET", "SUM"},
		}, nil
	}}
	cases := []struct {
		line     string
		want     []string // completions of the word before the end, sorted
		replaced int
	}{
		{"SELECT * FROM sa", []string{"les", "mple"}, 2},
		{"SELECT am", []string{"ount"}, 2},
		{"SELECT r", []string{"ate", "egion"}, 1},
		{"se", []string{"lect", "t"}, 2},                   // lower case keywords for a lower-case word
		{"SE", []string{"LECT", "T"}, 2},                   // upper for upper
		{"SELECT sales.re", []string{"gion"}, 2},           // columns of a table
		{"SELECT SALES.", []string{"amount", "region"}, 0}, // ASCII case folds as in DuckDB
		{"SELECT ", nil, 0},
	}
	for _, cs := range cases {
		got, n := c.Do([]rune(cs.line), len([]rune(cs.line)))
		var s []string
		for _, r := range got {
			s = append(s, string(r))
		}
		sort.Strings(s)
		if fmt.Sprint(s) != fmt.Sprint(cs.want) || n != cs.replaced {
			t.Errorf("Do(%q) = %q, %d; want %q, %d", cs.line, s, n, cs.want, cs.replaced)
		}
	}
	if loads != 1 {
		t.Errorf("words loaded %d times, want once per session", loads)
	}
	c.refresh()
	c.Do([]rune("s"), 1)
	if loads != 2 {
		t.Errorf("after refresh: loaded %d times, want 2", loads)
	}
}

// The prompt against a real server: names for Tab come from GetTables and GetSqlInfo,
// a statement over several lines runs once and is one history entry, and a failing
// statement does not end the prompt.
func TestPromptAgainstServer(t *testing.T) {
	srv := startServe(t, opsOptions{})
	t.Setenv("QUIVER_TOKEN", "")
	t.Setenv("QUIVER_USER", "")
	t.Setenv("QUIVER_PASSWORD", "")
	dir := t.TempDir()
	csv := filepath.Join(dir, "sales.csv")
	if err := os.WriteFile(csv, []byte("region,amount\neu,1.5\nus,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runQuiver(t, "", "put", "sales.parquet", csv, "--server", srv.grpcAddr, "--progress", "never"); err != nil {
		t.Fatalf("put: %v %s", err, stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o := &clientOptions{server: srv.grpcAddr}
	s, err := connect(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	words, err := s.loadCompletionWords(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(words.tables) != "[sales]" || fmt.Sprint(words.columns["sales"]) != "[region amount]" {
		t.Errorf("tables %q, columns %q", words.tables, words.columns)
	}
	if i := sort.SearchStrings(words.keywords, "SELECT"); i >= len(words.keywords) || words.keywords[i] != "SELECT" || len(words.keywords) < 50 {
		t.Errorf("%d keywords, SELECT among them? %q", len(words.keywords), words.keywords)
	}

	history := filepath.Join(dir, "history")
	input := "SELECT region,\n  sum(amount) AS total\nFROM sales GROUP BY region ORDER BY region;\nSELECT nope FROM sales;\n\\d\nSELECT 'a;' AS x; SELECT 2 AS y;\n\\q\n"
	var out, errOut bytes.Buffer
	cfg := &readline.Config{
		HistoryFile:    history,
		Stdin:          io.NopCloser(strings.NewReader(input)),
		Stdout:         &out,
		Stderr:         &errOut,
		FuncIsTerminal: func() bool { return false },
	}
	if err := runPrompt(cfg, s, sqlOptions{format: "table", maxRows: 40}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"│ eu      │    1.5 │", "│ us      │    2.0 │", "sales.parquet  table sales  2 rows", "│ a;      │", "│       2 │"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("prompt output lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errOut.String(), "error:") || !strings.Contains(errOut.String(), "nope") {
		t.Errorf("the failing statement's error is missing:\n%s", errOut.String())
	}
	b, err := os.ReadFile(history)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := []string{
		"SELECT region, sum(amount) AS total FROM sales GROUP BY region ORDER BY region;",
		"SELECT nope FROM sales;",
		`\d`,
		"SELECT 'a;' AS x; SELECT 2 AS y;",
		`\q`,
	}
	if fmt.Sprintf("%q", lines) != fmt.Sprintf("%q", want) {
		t.Errorf("history =\n%q\nwant\n%q", lines, want)
	}
}
