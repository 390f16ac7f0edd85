//go:build duckdb_arrow

package engine

import (
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

// prepareReadOnly parses sql on conn and prepares it if, and only if, it is a single
// SELECT-typed statement. The caller destroys the returned statement.
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
	return st, nil
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
