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
// passes prepareReadOnly first, which admits exactly one statement of type SELECT.
//
// Invariant: nothing in this file executes user SQL. duckdb_extract_statements only
// parses (a DuckDB string of several statements would otherwise execute all but the
// last while being prepared), and duckdb_prepare_extracted_statement only binds and
// plans.

// A SELECT can still have effects through a few system functions. Verified on DuckDB
// 1.5.6 with the lock-down in place: "SELECT * FROM enable_logging(storage := 'file',
// storage_path := '<root>/logs')" succeeds despite lock_configuration, creates a
// directory in the root and writes every later query of every client there (or, with
// the default memory storage, lets one client read the others' SQL from duckdb_logs).
// query() and json_execute_serialized_sql() run SQL given as a string, hiding the
// functions they call from any check of the parse tree. These are refused by name,
// wherever they appear in the statement, qualified or not.
var deniedFunctions = map[string]bool{
	// Database-wide logging and profiling; logging can write files.
	"enable_logging": true, "disable_logging": true, "truncate_duckdb_logs": true,
	"write_log": true, "enable_profiling": true, "disable_profiling": true,
	// Parser switches, checkpoints: global state, nothing a reader needs.
	"enable_peg_parser": true, "disable_peg_parser": true, "check_peg_parser": true,
	"checkpoint": true, "force_checkpoint": true,
	// SQL given as a string or a serialized plan.
	"query": true, "query_table": true, "json_execute_serialized_sql": true,
	// Raw pointers (unreachable today: SQL has no POINTER type) and database files.
	"arrow_scan": true, "arrow_scan_dumb": true, "read_duckdb": true,
}

// prepareReadOnly parses sql on conn and prepares it if, and only if, it is a single
// SELECT-typed statement that calls none of deniedFunctions. The caller destroys the
// returned statement.
func prepareReadOnly(conn bindings.Connection, sql string) (bindings.PreparedStatement, error) {
	var st bindings.PreparedStatement
	if strings.TrimSpace(sql) == "" {
		return st, fmt.Errorf("%w: empty SQL", ErrInvalidSQL)
	}
	var ex bindings.ExtractedStatements
	defer bindings.DestroyExtracted(&ex)
	n := int(bindings.ExtractStatements(conn, sql, &ex))
	if n == 0 {
		if msg := bindings.ExtractStatementsError(ex); msg != "" {
			return st, duckError(bindings.ErrorTypeInvalid, msg)
		}
		return st, fmt.Errorf("%w: no statement", ErrInvalidSQL)
	}
	if n > 1 {
		return st, multiStatementError(conn, ex, n)
	}
	if bindings.PrepareExtractedStatement(conn, ex, 0, &st) == bindings.StateError {
		err := duckError(bindings.ErrorTypeInvalid, bindings.PrepareError(st))
		bindings.DestroyPrepare(&st)
		return st, err
	}
	if t := bindings.PreparedStatementType(st); t != bindings.StatementTypeSelect {
		bindings.DestroyPrepare(&st)
		return st, readOnlyError(t)
	}
	if err := checkFunctions(conn, sql); err != nil {
		bindings.DestroyPrepare(&st)
		return st, err
	}
	return st, nil
}

// checkFunctions refuses sql if its parse tree calls a denied function. The tree comes
// from DuckDB's own parser via json_serialize_sql (which only parses), so quoting,
// case and qualification cannot hide a name. Statements DuckDB cannot serialize
// (the SELECTs that PRAGMA expands to, PIVOT inside a subquery) are refused: an
// unchecked statement is not let through.
func checkFunctions(conn bindings.Connection, sql string) error {
	tree, err := serializeSQL(conn, sql)
	if err != nil {
		return err
	}
	var doc struct {
		Error      bool            `json:"error"`
		Message    string          `json:"error_message"`
		Statements json.RawMessage `json:"statements"`
	}
	if err := json.Unmarshal([]byte(tree), &doc); err != nil {
		return fmt.Errorf("sandbox: parse tree: %w", err)
	}
	if doc.Error {
		return fmt.Errorf("%w: the statement cannot be checked (%s); PRAGMA and nested PIVOT are not supported", ErrForbidden, doc.Message)
	}
	var stmts any
	if err := json.Unmarshal(doc.Statements, &stmts); err != nil {
		return fmt.Errorf("sandbox: parse tree: %w", err)
	}
	if name := deniedCall(stmts); name != "" {
		return fmt.Errorf("%w: function %s is not allowed", ErrForbidden, name)
	}
	return nil
}

// deniedCall returns the first denied function name found anywhere in a parse tree.
func deniedCall(node any) string {
	switch n := node.(type) {
	case map[string]any:
		if name, ok := n["function_name"].(string); ok && deniedFunctions[strings.ToLower(name)] {
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
	var st bindings.PreparedStatement
	defer bindings.DestroyPrepare(&st)
	if bindings.Prepare(conn, "SELECT json_serialize_sql($1::VARCHAR)", &st) == bindings.StateError {
		return "", fmt.Errorf("sandbox: %s", bindings.PrepareError(st))
	}
	if bindings.BindVarchar(st, 1, sql) == bindings.StateError {
		return "", errors.New("sandbox: cannot bind the statement text")
	}
	var res bindings.Result
	defer bindings.DestroyResult(&res)
	if bindings.ExecutePrepared(st, &res) == bindings.StateError {
		return "", duckError(bindings.ResultErrorType(&res), bindings.ResultError(&res))
	}
	chunk := bindings.FetchChunk(res)
	if chunk.Ptr == nil {
		return "", errors.New("sandbox: json_serialize_sql returned no row")
	}
	defer bindings.DestroyDataChunk(&chunk)
	if bindings.DataChunkGetSize(chunk) != 1 {
		return "", errors.New("sandbox: json_serialize_sql returned no row")
	}
	vec := bindings.DataChunkGetVector(chunk, 0)
	if v := bindings.VectorGetValidity(vec); v != nil && !bindings.ValidityMaskValueIsValid(v, 0) {
		return "", errors.New("sandbox: json_serialize_sql returned NULL")
	}
	str := (*bindings.StringT)(bindings.VectorGetData(vec))
	return bindings.StringTData(str), nil // a copy
}

func readOnlyError(t bindings.StatementType) error {
	return fmt.Errorf("statement type %s is not allowed: %w", statementTypeName(t), ErrReadOnly)
}

// multiStatementError refuses input with several statements. It names the first
// statement that is not a SELECT, as ErrReadOnly, if preparing them shows one
// (preparing executes nothing); otherwise it is ErrInvalidSQL.
func multiStatementError(conn bindings.Connection, ex bindings.ExtractedStatements, n int) error {
	for i := range n {
		var st bindings.PreparedStatement
		ok := bindings.PrepareExtractedStatement(conn, ex, bindings.IdxT(i), &st) != bindings.StateError
		t := bindings.PreparedStatementType(st)
		bindings.DestroyPrepare(&st)
		if ok && t != bindings.StatementTypeSelect {
			return fmt.Errorf("%d statements, one a %s; multiple statements are not allowed: %w",
				n, statementTypeName(t), ErrReadOnly)
		}
	}
	return fmt.Errorf("%w: %d statements; multiple statements are not allowed", ErrInvalidSQL, n)
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
