//go:build duckdb_arrow

package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	bindings "github.com/duckdb/duckdb-go-bindings"
)

// The gate. DuckDB's own lock-down (see Engine.openDB) keeps reads inside the root and
// settings frozen, but it still lets a statement write inside the root (COPY ... TO),
// create and drop catalog entries, and run USE or SET VARIABLE. So every user statement
// passes prepareReadOnly first, which admits exactly one SELECT that calls none of
// deniedFunctions.
//
// Invariant: no user statement reaches DuckDB's binder until DuckDB's parser has shown
// it to be one SELECT. Binding is not free of effects: preparing EXPORT DATABASE
// creates its target directory (verified on 1.5.6), and a string of several statements
// handed to duckdb_prepare executes all but the last. The parser's verdict comes from
// json_serialize_sql, which parses, serializes only SELECT statements and executes
// nothing; its tree is also what deniedFunctions is checked against.

// A SELECT can still have effects through a few system functions. Verified on DuckDB
// 1.5.6 with the lock-down in place: "SELECT * FROM enable_logging(storage := 'file',
// storage_path := '<root>/logs')" succeeds despite lock_configuration, creates a
// directory in the root and writes every later query of every client there (or, with
// the default memory storage, lets one client read the others' SQL from duckdb_logs).
// query() and json_execute_serialized_sql() run SQL given as a string, hiding the
// functions they call from any check of the parse tree. These are refused by name,
// wherever they appear in the statement, qualified or quoted.
var deniedFunctions = map[string]bool{
	// Database-wide logging and profiling; logging can write files.
	"enable_logging": true, "disable_logging": true, "truncate_duckdb_logs": true,
	"write_log": true, "enable_profiling": true, "disable_profiling": true,
	// Parser switches, checkpoints: global state, nothing a reader needs.
	"enable_peg_parser": true, "disable_peg_parser": true, "check_peg_parser": true,
	"checkpoint": true, "force_checkpoint": true,
	// SQL given as a string or a serialized plan. json_serialize_plan binds the SQL
	// it is given and returns the plan, in which every scan names its files by
	// absolute path: a view's files, whether the caller's grant covers it or not.
	"query": true, "query_table": true, "json_execute_serialized_sql": true, "json_serialize_plan": true,
	// Raw pointers (unreachable today: SQL has no POINTER type) and database files.
	"arrow_scan": true, "arrow_scan_dumb": true, "read_duckdb": true,
}

// prepareReadOnly prepares sql on the session's connection if, and only if, it is a
// single SELECT that calls none of deniedFunctions. The caller destroys the returned
// statement.
//
// A statement text the gate admitted before on the same catalog (gatecache.go) is
// only extracted and prepared: one parse and one bind. If the views changed while it
// was prepared, it goes through the whole gate again.
func (e *Engine) prepareReadOnly(s *session, sql string) (bindings.PreparedStatement, error) {
	st, _, err := e.prepareGated(s, sql)
	return st, err
}

// prepareGated is prepareReadOnly, and also returns the origins of the result
// columns from the plan the gate checked (origins.go).
func (e *Engine) prepareGated(s *session, sql string) (bindings.PreparedStatement, [][]string, error) {
	st, origins, _, _, err := e.prepareScanning(s, sql)
	return st, origins, err
}

// prepareScanning is prepareGated, and also returns the files the prepared statement's
// Parquet scans read, when they are known for certain: the plan the gate checked was
// bound on the same views as the statement prepared (no SyncTables changed a view in
// between). views is then the views' generation (viewsGen) they hold for, an even
// number; odd when they are not known.
func (e *Engine) prepareScanning(s *session, sql string) (st bindings.PreparedStatement, origins [][]string, scans []string, views uint64, err error) {
	if strings.TrimSpace(sql) == "" {
		return st, nil, nil, 1, fmt.Errorf("%w: empty SQL", ErrInvalidSQL)
	}
	key := e.gateKeyFor(sql, s.gen)
	stable := key.views%2 == 0 // odd: SyncTables is changing views
	if files, origins, ok := e.gates.admitted(key); ok && stable {
		for _, f := range files {
			if err := fileDepths.check(f); err != nil {
				return st, nil, nil, 1, err
			}
		}
		st, err := prepareOne(s.conn, sql)
		if err == nil && e.viewsGen.Load() == key.views {
			if e.hot != nil {
				s.scans = e.gates.scans(key)
			}
			return st, origins, files, key.views, nil
		}
		if err == nil {
			bindings.DestroyPrepare(&st)
		}
	}
	e.gateRuns.Add(1)
	st, plan, err := gateAndPrepare(s.conn, sql)
	if err != nil {
		return st, nil, nil, 1, err
	}
	e.bare.put(sql, plan.bare) // the shape is the text's, whatever the catalog
	if e.hot != nil {
		s.scans = plan.scans()
	}
	if !stable || e.viewsGen.Load() != key.views {
		return st, plan.origins, nil, 1, nil
	}
	if files, ok := e.cacheable(plan); ok {
		e.gates.admit(key, files, plan.origins)
		if e.hot != nil {
			e.gates.putScans(key, s.scans)
		}
	}
	return st, plan.origins, plan.scannedFiles(), key.views, nil
}

// gateAndPrepare is the whole gate: it parses sql, binds its plan and checks both,
// then prepares it, and returns the prepared statement and the plan it checked.
func gateAndPrepare(conn bindings.Connection, sql string) (bindings.PreparedStatement, boundPlan, error) {
	var st bindings.PreparedStatement
	stmts, err := parseChecked(conn, sql)
	if err != nil {
		return st, boundPlan{}, err
	}
	n := len(stmts)
	if n == 0 {
		return st, boundPlan{}, fmt.Errorf("%w: no statement", ErrInvalidSQL)
	}
	if n > 1 {
		return st, boundPlan{}, fmt.Errorf("%w: %d statements; multiple statements are not allowed", ErrInvalidSQL, n)
	}
	// Before bindPlan, which rewrites parameters in the tree.
	bare := bareScanTree(stmts[0])
	// What the statement reads once its views and macros are expanded (plan.go).
	plan, err := bindPlan(conn, sql, stmts[0])
	if err != nil {
		return st, boundPlan{}, err
	}
	plan.bare = bare
	if err := plan.checkRevealing(); err != nil {
		return st, boundPlan{}, err
	}
	if err := plan.checkFilesNesting(); err != nil {
		return st, boundPlan{}, err
	}
	st, err = prepareOne(conn, sql)
	return st, plan, err
}

// prepareOne prepares sql, known to the gate to be one SELECT. Extracting first keeps
// this to exactly one statement: were sql several, preparing it whole would execute
// all but the last.
func prepareOne(conn bindings.Connection, sql string) (bindings.PreparedStatement, error) {
	var st bindings.PreparedStatement
	var ex bindings.ExtractedStatements
	defer bindings.DestroyExtracted(&ex)
	if k := int(bindings.ExtractStatements(conn, sql, &ex)); k != 1 {
		if msg := bindings.ExtractStatementsError(ex); msg != "" {
			return st, duckError(bindings.ErrorTypeInvalid, msg)
		}
		return st, fmt.Errorf("%w: %d statements; multiple statements are not allowed", ErrInvalidSQL, k)
	}
	if bindings.PrepareExtractedStatement(conn, ex, 0, &st) == bindings.StateError {
		err := duckError(bindings.ErrorTypeInvalid, bindings.PrepareError(st))
		bindings.DestroyPrepare(&st)
		return st, err
	}
	// Belt and braces: the prepared statement must agree with the parser.
	if t := bindings.PreparedStatementType(st); t != bindings.StatementTypeSelect {
		bindings.DestroyPrepare(&st)
		return st, readOnlyError(statementTypeName(t))
	}
	return st, nil
}

// checkParse parses sql (and does nothing more) and returns the number of statements
// if all are SELECTs that call no denied function. Whatever DuckDB's parser does not
// produce as a SELECT is refused with ErrReadOnly, including the SELECT-like forms
// that DuckDB builds out of other statements (PRAGMA table_info, PIVOT, IMPORT
// DATABASE): an unchecked statement is not let through.
func checkParse(conn bindings.Connection, sql string) (int, error) {
	stmts, err := parseChecked(conn, sql)
	return len(stmts), err
}

// parseChecked is checkParse that returns the parse trees of the statements.
func parseChecked(conn bindings.Connection, sql string) ([]any, error) {
	tree, err := serializeSQL(conn, sql)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Error      bool   `json:"error"`
		Type       string `json:"error_type"`
		Message    string `json:"error_message"`
		Statements []any  `json:"statements"`
	}
	// Numbers stay as written: the tree may be serialized again (bindPlan), and
	// DuckDB's query_location is a uint64 that a float64 would round.
	dec := json.NewDecoder(strings.NewReader(tree))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("sandbox: parse tree: %w", err)
	}
	if doc.Error {
		if doc.Type == "not implemented" && strings.HasPrefix(doc.Message, "Only SELECT") {
			return nil, notSelectError(conn, sql)
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalidSQL, doc.Message)
	}
	if name := deniedCall(doc.Statements); name != "" {
		return nil, fmt.Errorf("%w: function %s is not allowed", ErrForbidden, name)
	}
	if name := hiddenRef(doc.Statements); name != "" {
		return nil, fmt.Errorf("%w: %s (in %q) is internal to the server", ErrForbidden, memSchema, clip(name, 100))
	}
	return doc.Statements, nil
}

// notSelectError names a refused statement. It is only a message, the decision was
// the parser's: the type is the statement's first keyword as the user wrote it.
// Counting statements parses again (ExtractStatements executes nothing: a COPY second
// in the string writes nothing, verified).
func notSelectError(conn bindings.Connection, sql string) error {
	var ex bindings.ExtractedStatements
	defer bindings.DestroyExtracted(&ex)
	if n := int(bindings.ExtractStatements(conn, sql, &ex)); n > 1 {
		return fmt.Errorf("%d statements, not all SELECT; multiple statements are not allowed: %w", n, ErrReadOnly)
	}
	return readOnlyError(firstKeyword(sql))
}

// firstKeyword returns the first word of sql, upper-cased, skipping comments.
func firstKeyword(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n(;")
		if strings.HasPrefix(s, "--") {
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return "UNKNOWN"
			}
			s = s[i:]
			continue
		}
		if strings.HasPrefix(s, "/*") {
			i := strings.Index(s, "*/")
			if i < 0 {
				return "UNKNOWN"
			}
			s = s[i+2:]
			continue
		}
		break
	}
	end := strings.IndexFunc(s, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || r == '_')
	})
	if end < 0 {
		end = len(s)
	}
	if end == 0 {
		return "UNKNOWN"
	}
	return strings.ToUpper(s[:end])
}

// deniedCall returns the first denied function name found anywhere in a parse tree.
// Names are folded with Go's Unicode lower-casing, which folds more than DuckDB's
// ASCII-only rule: for a list of refusals, folding more only refuses more.
func deniedCall(node any) string {
	switch n := node.(type) {
	case map[string]any:
		if name, ok := n["function_name"].(string); ok && (deniedFunctions[strings.ToLower(name)] || revealingCall(name)) {
			return name
		}
		for _, v := range n {
			if name := deniedCall(v); name != "" {
				return name
			}
		}
	case []any:
		for _, v := range n {
			if name := deniedCall(v); name != "" {
				return name
			}
		}
	}
	return ""
}

// serializeSQL returns json_serialize_sql(sql), run on conn with sql bound as a value.
func serializeSQL(conn bindings.Connection, sql string) (string, error) {
	return queryString(conn, "SELECT json_serialize_sql($1::VARCHAR)", sql)
}

// queryString runs a trusted query that returns one VARCHAR, with arg bound to $1 if
// given, and returns that value.
func queryString(conn bindings.Connection, query string, arg ...string) (string, error) {
	var st bindings.PreparedStatement
	defer bindings.DestroyPrepare(&st)
	if bindings.Prepare(conn, query, &st) == bindings.StateError {
		return "", fmt.Errorf("sandbox: %s", bindings.PrepareError(st))
	}
	for i, a := range arg {
		if bindings.BindVarchar(st, bindings.IdxT(i+1), a) == bindings.StateError {
			return "", errors.New("sandbox: cannot bind the statement text")
		}
	}
	var res bindings.Result
	defer bindings.DestroyResult(&res)
	if bindings.ExecutePrepared(st, &res) == bindings.StateError {
		return "", duckError(bindings.ResultErrorType(&res), bindings.ResultError(&res))
	}
	chunk := bindings.FetchChunk(res)
	if chunk.Ptr == nil {
		return "", errors.New("sandbox: query returned no row")
	}
	defer bindings.DestroyDataChunk(&chunk)
	if bindings.DataChunkGetSize(chunk) != 1 {
		return "", errors.New("sandbox: query returned no row")
	}
	vec := bindings.DataChunkGetVector(chunk, 0)
	if v := bindings.VectorGetValidity(vec); v != nil && !bindings.ValidityMaskValueIsValid(v, 0) {
		return "", errors.New("sandbox: query returned NULL")
	}
	str := (*bindings.StringT)(bindings.VectorGetData(vec))
	return bindings.StringTData(str), nil // a copy
}

func readOnlyError(typ string) error {
	return fmt.Errorf("statement type %s is not allowed: %w", typ, ErrReadOnly)
}

// statementTypeName names t the way SQL spells the statement.
func statementTypeName(t bindings.StatementType) string {
	switch t {
	case bindings.StatementTypeSelect:
		return "SELECT"
	case bindings.StatementTypeInsert:
		return "INSERT"
	case bindings.StatementTypeUpdate:
		return "UPDATE"
	case bindings.StatementTypeExplain:
		return "EXPLAIN"
	case bindings.StatementTypeDelete:
		return "DELETE"
	case bindings.StatementTypePrepare:
		return "PREPARE"
	case bindings.StatementTypeCreate:
		return "CREATE"
	case bindings.StatementTypeExecute:
		return "EXECUTE"
	case bindings.StatementTypeAlter:
		return "ALTER"
	case bindings.StatementTypeTransaction:
		return "TRANSACTION"
	case bindings.StatementTypeCopy:
		return "COPY"
	case bindings.StatementTypeAnalyze:
		return "ANALYZE"
	case bindings.StatementTypeVariableSet:
		return "VARIABLE_SET"
	case bindings.StatementTypeCreateFunc:
		return "CREATE_FUNC"
	case bindings.StatementTypeDrop:
		return "DROP"
	case bindings.StatementTypeExport:
		return "EXPORT"
	case bindings.StatementTypePragma:
		return "PRAGMA"
	case bindings.StatementTypeVacuum:
		return "VACUUM"
	case bindings.StatementTypeCall:
		return "CALL"
	case bindings.StatementTypeSet:
		return "SET"
	case bindings.StatementTypeLoad:
		return "LOAD"
	case bindings.StatementTypeRelation:
		return "RELATION"
	case bindings.StatementTypeExtension:
		return "EXTENSION"
	case bindings.StatementTypeLogicalPlan:
		return "LOGICAL_PLAN"
	case bindings.StatementTypeAttach:
		return "ATTACH"
	case bindings.StatementTypeDetach:
		return "DETACH"
	case bindings.StatementTypeMulti:
		return "MULTI"
	case bindings.StatementTypeCopyDatabase:
		return "COPY_DATABASE"
	case bindings.StatementTypeUpdateExtensions:
		return "UPDATE_EXTENSIONS"
	case bindings.StatementTypeMergeInto:
		return "MERGE_INTO"
	}
	return fmt.Sprintf("INVALID(%d)", int(t))
}
