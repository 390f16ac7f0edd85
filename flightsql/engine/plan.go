//go:build duckdb_arrow

package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	bindings "github.com/duckdb/duckdb-go-bindings"
)

// What DuckDB binds a statement to. The parse tree (reads.go, sandbox.go) shows what
// a statement names; the bound plan shows what it reads once DuckDB has expanded every
// view and every macro, including built-in macros whose bodies are hidden from the
// statement's text: pg_get_viewdef(oid) is a subquery over duckdb_views(), and
// information_schema.views a view over it (verified on 1.5.6). Decisions about what
// a statement may read are taken on the plan, not on a list of macros.

// boundPlan is the part of a logical plan the checks need.
type boundPlan struct {
	gets  []boundGet // every LOGICAL_GET: a table function and, for read_parquet, its files
	funcs []string   // every scalar, aggregate and window function a bound expression calls
	// origins has, per result column, the files of the scan it comes from unchanged
	// (origins.go); nil where unknown.
	origins [][]string
	// bare: the statement's parse tree has a bare scan's shape (barescan.go).
	bare bool
}

// boundGet is one table function scan in a plan.
type boundGet struct {
	name    string
	files   []string // read_parquet's file list, as bound
	columns []string // the columns the plan reads; nil if it does not say
	// schema and table name the table a seq_scan reads (memtier.go); "" otherwise.
	schema, table string
}

// bindPlan binds the statement sql, whose parse tree stmt is (parseChecked came first:
// it is one SELECT), and returns its optimized logical plan from json_serialize_plan:
// optimized, so that a scan reads only the columns the result needs (SHOW TABLES
// scans duckdb_views for names, not for the definitions the unpruned subquery
// mentions). Constant folding can hide a scalar call there, which is why revealing
// scalar functions are refused on the parse tree instead (revealingCall). Binding
// executes nothing.
//
// DuckDB 1.5.6 cannot serialize the plan of a parameter whose type binding leaves
// open ("SELECT ? AS x": "Attempted to dereference unique_ptr that is NULL!"), so a
// statement with parameters is planned with NULL in their place, rebuilt from its
// parse tree by json_deserialize_sql. Parameters bind values, never names, so the
// plan reads the same tables and calls the same functions.
func bindPlan(conn bindings.Connection, sql string, stmt any) (boundPlan, error) {
	if nullParams(stmt) {
		tree, err := json.Marshal(map[string]any{"error": false, "statements": []any{stmt}})
		if err != nil {
			return boundPlan{}, fmt.Errorf("sandbox: parse tree: %w", err)
		}
		if sql, err = queryString(conn, "SELECT json_deserialize_sql($1::JSON)", string(tree)); err != nil {
			return boundPlan{}, fmt.Errorf("sandbox: rebuild without parameters: %w", err)
		}
	}
	out, err := queryString(conn, "SELECT json_serialize_plan($1::VARCHAR)", sql)
	if err != nil {
		return boundPlan{}, fmt.Errorf("sandbox: bind: %w", err)
	}
	var doc struct {
		Error   bool   `json:"error"`
		Type    string `json:"error_type"`
		Message string `json:"error_message"`
		Plans   []any  `json:"plans"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		return boundPlan{}, fmt.Errorf("sandbox: plan: %w", err)
	}
	if doc.Error {
		if doc.Type == "permission" {
			return boundPlan{}, fmt.Errorf("%w: %s", ErrForbidden, doc.Message)
		}
		return boundPlan{}, fmt.Errorf("%w: %s", ErrInvalidSQL, doc.Message)
	}
	var p boundPlan
	p.walk(doc.Plans)
	if len(doc.Plans) == 1 {
		p.origins = columnOrigins(doc.Plans[0])
	}
	return p, nil
}

// nullParams replaces every parameter in a parse tree with a NULL constant and
// reports whether there was one.
func nullParams(n any) bool {
	found := false
	switch v := n.(type) {
	case []any:
		for _, c := range v {
			found = nullParams(c) || found
		}
	case map[string]any:
		for k, c := range v {
			if m, ok := c.(map[string]any); ok && str(m, "class") == "PARAMETER" {
				v[k] = nullConstant(m)
				found = true
				continue
			}
			if l, ok := c.([]any); ok {
				for i, e := range l {
					if m, ok := e.(map[string]any); ok && str(m, "class") == "PARAMETER" {
						l[i] = nullConstant(m)
						found = true
					}
				}
			}
			found = nullParams(c) || found
		}
	}
	return found
}

func nullConstant(param map[string]any) map[string]any {
	return map[string]any{
		"class": "CONSTANT", "type": "VALUE_CONSTANT", "alias": param["alias"],
		"query_location": param["query_location"],
		"value":          map[string]any{"type": map[string]any{"id": "NULL", "type_info": nil}, "is_null": true},
	}
}

func (p *boundPlan) walk(n any) {
	switch v := n.(type) {
	case []any:
		for _, c := range v {
			p.walk(c)
		}
	case map[string]any:
		if str(v, "type") == "LOGICAL_GET" {
			p.gets = append(p.gets, planGet(v))
		}
		if _, isExpr := v["expression_class"]; isExpr {
			if name := str(v, "name"); name != "" {
				p.funcs = append(p.funcs, name)
			}
		}
		for _, c := range v {
			p.walk(c)
		}
	}
}

func planGet(v map[string]any) boundGet {
	g := boundGet{name: str(v, "name")}
	if fd, ok := v["function_data"].(map[string]any); ok {
		files, _ := fd["files"].([]any)
		for _, f := range files {
			if s, ok := f.(string); ok {
				g.files = append(g.files, s)
			}
		}
		if g.name == "seq_scan" {
			g.schema, g.table = str(fd, "schema"), str(fd, "table")
		}
	}
	names, _ := v["names"].([]any)
	idx, _ := v["column_indexes"].([]any)
	for _, c := range idx {
		m, _ := c.(map[string]any)
		i, ok := m["index"].(float64)
		if !ok || int(i) < 0 || int(i) >= len(names) {
			return boundGet{name: g.name, files: g.files, schema: g.schema, table: g.table} // a row id or another virtual column: say nothing
		}
		name, _ := names[int(i)].(string)
		g.columns = append(g.columns, name)
	}
	return g
}

// revealingColumns are the system table functions whose results show the server's
// configuration or its files, whoever asks, and the columns that do (nil: all of
// them): settings (allowed_directories and temp_directory are server paths, the secret
// and extension directories the service account's home), view definitions (each names
// its dataset's files by absolute path), temporary and cached files, extensions'
// install paths, secrets. No principal may learn the server's filesystem layout, so a
// statement whose bound plan reads one of these columns is refused, however it
// reached it: by name, through a macro or a system view (information_schema.routines).
// View definitions hold no path (the file lists are macro bodies, see viewSQL), so
// duckdb_views, SHOW TABLES and pg_get_viewdef stay allowed to unrestricted grants.
var revealingColumns = map[string][]string{
	"duckdb_functions":           {"macro_definition"}, // the views' file lists (viewSQL)
	"duckdb_settings":            {"value"},
	"duckdb_temporary_files":     nil,
	"duckdb_external_file_cache": nil,
	"duckdb_extensions":          {"install_path"},
	"duckdb_secrets":             nil,
	"which_secret":               nil,
}

// revealingScalars are the scalar functions that show the same: a setting's value.
// They are refused on the parse tree, with every built-in macro whose body calls one
// (macrosCalling, at engine start): constant folding may have removed the call from
// the plan by the time it is serialized.
var revealingScalars = map[string]bool{"current_setting": true}

// checkRevealing refuses a plan that reads a revealing column or scans a denied
// function.
func (p boundPlan) checkRevealing() error {
	for _, g := range p.gets {
		cols, revealing := revealingColumns[g.name]
		switch {
		case deniedFunctions[g.name]:
			return fmt.Errorf("%w: function %s is not allowed", ErrForbidden, g.name)
		case !revealing:
		case cols == nil || g.columns == nil:
			return fmt.Errorf("%w: %s shows the server's configuration or files, which no client is shown", ErrForbidden, g.name)
		default:
			for _, c := range g.columns {
				if slices.Contains(cols, c) {
					return fmt.Errorf("%w: %s.%s shows the server's configuration or files, which no client is shown", ErrForbidden, g.name, c)
				}
			}
		}
	}
	return nil
}

// Built-in macros are the same in every database of the process; their closure over
// revealingScalars is computed once, from DuckDB's own definitions.
var (
	revealingOnce   sync.Once
	revealingMacros map[string]bool
	revealingErr    error
	builtinMacros   int // how many macro definitions were searched
)

// loadRevealingMacros finds, on conn, every macro whose body calls a revealing scalar
// function or another such macro.
func loadRevealingMacros(conn bindings.Connection) error {
	revealingOnce.Do(func() {
		defs, err := queryString(conn, `SELECT coalesce(string_agg(lower(function_name) || chr(1) || lower(macro_definition), chr(2)), '')
			FROM duckdb_functions() WHERE function_type IN ('macro', 'table_macro') AND macro_definition IS NOT NULL`)
		if err != nil {
			revealingErr = fmt.Errorf("engine: list built-in macros: %w", err)
			return
		}
		bodies := map[string]string{}
		for _, d := range strings.Split(defs, "\x02") {
			if name, body, ok := strings.Cut(d, "\x01"); ok {
				bodies[name] += " " + body
			}
		}
		builtinMacros = len(bodies)
		revealingMacros = macrosCalling(bodies, revealingScalars)
	})
	return revealingErr
}

// macrosCalling returns the macros (name to body) that call one of fns, directly or
// through other such macros.
func macrosCalling(bodies map[string]string, fns map[string]bool) map[string]bool {
	found := map[string]bool{}
	calls := func(body, fn string) bool {
		for i := strings.Index(body, fn); i >= 0; {
			before := i == 0 || !identByte(body[i-1])
			rest := strings.TrimLeft(body[i+len(fn):], " ")
			if before && strings.HasPrefix(rest, "(") {
				return true
			}
			j := strings.Index(body[i+1:], fn)
			if j < 0 {
				break
			}
			i += 1 + j
		}
		return false
	}
	for changed := true; changed; {
		changed = false
		for name, body := range bodies {
			if found[name] {
				continue
			}
			for fn := range fns {
				if calls(body, fn) {
					found[name], changed = true, true
					break
				}
			}
			if !found[name] {
				for m := range found {
					if calls(body, m) {
						found[name], changed = true, true
						break
					}
				}
			}
		}
	}
	return found
}

func identByte(c byte) bool {
	return c == '_' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// revealingCall reports whether a function name in a parse tree is a revealing
// scalar function, a macro that calls one, or a view's files macro (its value is the
// list of the view's files). Like deniedCall it folds with Go's Unicode
// lower-casing, which only refuses more.
func revealingCall(name string) bool {
	name = strings.ToLower(name)
	return revealingScalars[name] || revealingMacros[name] || strings.HasPrefix(name, filesMacroPrefix)
}
