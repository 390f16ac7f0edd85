package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
)

// Tab completion in the SQL prompt: table names, column names and keywords, asked of
// the server (GetTables with schemas, GetSqlInfo's keywords) once per session, at the
// first Tab, and again after \refresh or a statement that changes tables.

// completionWords is what Tab completes from.
type completionWords struct {
	tables   []string            // SQL table names, sorted
	columns  map[string][]string // lower-case table name: its columns in order
	keywords []string            // upper case, sorted
}

// sqlCompleter implements readline.AutoCompleter.
type sqlCompleter struct {
	load func(context.Context) (completionWords, error)

	mu    sync.Mutex
	words *completionWords // nil: not loaded yet, or stale
}

// refresh makes the next Tab ask the server again.
func (c *sqlCompleter) refresh() {
	c.mu.Lock()
	c.words = nil
	c.mu.Unlock()
}

// current returns the words, loading them if needed. A server that cannot answer
// leaves Tab without candidates rather than stopping the prompt.
func (c *sqlCompleter) current() completionWords {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.words == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		w, err := c.load(ctx)
		if err != nil {
			return completionWords{}
		}
		c.words = &w
	}
	return *c.words
}

// Do implements readline.AutoCompleter: the candidates that complete the word before
// pos, as the runes to add, and the length of that word.
func (c *sqlCompleter) Do(line []rune, pos int) ([][]rune, int) {
	start := pos
	for start > 0 && isWordRune(line[start-1]) {
		start--
	}
	word := string(line[start:pos])
	w := c.current()
	var cands []string
	if dot := strings.LastIndexByte(word, '.'); dot >= 0 {
		// table.column
		table, prefix := word[:dot], word[dot+1:]
		for _, col := range w.columns[strings.ToLower(unquoteIdent(table))] {
			if hasPrefixFold(col, prefix) {
				cands = append(cands, col[len(prefix):])
			}
		}
		return toRunes(cands), len([]rune(prefix))
	}
	if word == "" {
		return nil, 0
	}
	seen := map[string]bool{}
	add := func(s string) {
		if hasPrefixFold(s, word) && !seen[s] {
			seen[s] = true
			cands = append(cands, s[len(word):])
		}
	}
	for _, t := range w.tables {
		add(t)
	}
	var cols []string
	for _, cs := range w.columns {
		cols = append(cols, cs...)
	}
	sort.Strings(cols)
	for _, col := range cols {
		add(col)
	}
	lower := strings.ToLower(word) == word
	for _, k := range w.keywords {
		if lower {
			k = strings.ToLower(k)
		}
		add(k)
	}
	return toRunes(cands), len([]rune(word))
}

func isWordRune(r rune) bool {
	return r == '_' || r == '.' || r == '"' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// hasPrefixFold reports whether s starts with prefix, ignoring ASCII case (DuckDB folds
// only ASCII).
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) && s != prefix
}

func unquoteIdent(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return s
}

func toRunes(ss []string) [][]rune {
	out := make([][]rune, len(ss))
	for i, s := range ss {
		out[i] = []rune(s)
	}
	return out
}

// changesTables reports whether a statement may change the tables Tab knows, so that
// the names are asked for again.
func changesTables(stmt string) bool {
	f := strings.Fields(strings.ToUpper(stmt))
	if len(f) == 0 {
		return false
	}
	switch f[0] {
	case "CREATE", "DROP", "ALTER", "ATTACH", "DETACH", "COPY", "INSERT", "IMPORT":
		return true
	}
	return false
}

// loadCompletionWords asks the server for the tables with their columns, and its
// keywords.
func (s *session) loadCompletionWords(ctx context.Context) (completionWords, error) {
	w := completionWords{columns: map[string][]string{}}
	client := s.sql()
	info, err := client.GetTables(ctx, &flightsql.GetTablesOpts{IncludeSchema: true})
	if err != nil {
		return w, fmt.Errorf("list tables: %w", err)
	}
	err = readEndpoints(ctx, s, info, func(rdr array.RecordReader) error {
		for rdr.Next() {
			rec := rdr.RecordBatch()
			if rec.NumCols() < 5 {
				return fmt.Errorf("list tables: unexpected result columns %s", rec.Schema())
			}
			names, ok1 := rec.Column(2).(*array.String)
			schemas, ok2 := rec.Column(4).(*array.Binary)
			if !ok1 {
				return fmt.Errorf("list tables: unexpected result columns %s", rec.Schema())
			}
			for i := range int(rec.NumRows()) {
				name := names.Value(i)
				w.tables = append(w.tables, name)
				if !ok2 || schemas.IsNull(i) {
					continue
				}
				sc, err := flight.DeserializeSchema(schemas.Value(i), s.mem)
				if err != nil {
					continue
				}
				for _, f := range sc.Fields() {
					w.columns[strings.ToLower(name)] = append(w.columns[strings.ToLower(name)], f.Name)
				}
			}
		}
		return rdr.Err()
	})
	if err != nil {
		return w, err
	}
	sort.Strings(w.tables)

	info, err = client.GetSqlInfo(ctx, []flightsql.SqlInfo{flightsql.SqlInfoKeywords})
	if err != nil {
		return w, nil // tables and columns still complete
	}
	_ = readEndpoints(ctx, s, info, func(rdr array.RecordReader) error {
		for rdr.Next() {
			rec := rdr.RecordBatch()
			u, ok := rec.Column(1).(*array.DenseUnion)
			if !ok {
				return nil
			}
			for i := range int(rec.NumRows()) {
				list, ok := u.Field(u.ChildID(i)).(*array.List)
				if !ok {
					continue
				}
				vals, ok := list.ListValues().(*array.String)
				if !ok {
					continue
				}
				start, end := list.ValueOffsets(int(u.ValueOffset(i)))
				for j := start; j < end; j++ {
					w.keywords = append(w.keywords, strings.ToUpper(vals.Value(int(j))))
				}
			}
		}
		return rdr.Err()
	})
	sort.Strings(w.keywords)
	return w, nil
}

// readEndpoints reads every endpoint of info with use.
func readEndpoints(ctx context.Context, s *session, info *flight.FlightInfo, use func(array.RecordReader) error) error {
	for _, ep := range info.GetEndpoint() {
		if _, err := readTicket(ctx, s.fc, ep.GetTicket(), use); err != nil {
			return err
		}
	}
	return nil
}
