//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	bindings "github.com/duckdb/duckdb-go-bindings"
)

var (
	// ErrReadOnly reports a statement that is not a plain read: anything but SELECT
	// (COPY, INSERT, CREATE, SET, ATTACH, ...), and input whose statements include one.
	// The wrapping error names the statement type.
	ErrReadOnly = errors.New("Quiver's SQL is read-only")

	// ErrInvalidSQL reports SQL that DuckDB cannot parse or bind (syntax errors, unknown
	// tables, columns or functions, type errors), empty SQL, several statements in one
	// string, and parameters that do not match the statement's placeholders.
	// The wrapping error carries DuckDB's own message.
	ErrInvalidSQL = errors.New("invalid SQL")

	// ErrForbidden reports a read-only statement that DuckDB's sandbox refused: a file
	// outside the dataset root, a locked setting, an extension.
	ErrForbidden = errors.New("not allowed by Quiver's SQL sandbox")

	// ErrClosed reports use of an Engine, or of Rows, after Engine.Close.
	ErrClosed = errors.New("engine is closed")

	// ErrOutOfMemory reports a query that needed more memory than Config.MemoryLimit
	// allows and more spill space than Config.MaxTempSize: DuckDB's "Out of Memory
	// Error", with its message.
	ErrOutOfMemory = errors.New("query needs more memory than the server allows")

	// ErrStuck reports a Shutdown whose deadline passed while queries were still
	// running in DuckDB, which ignored their interrupts. The wrapping error counts them;
	// each is logged at error level.
	ErrStuck = errors.New("queries did not stop")

	// ErrDatabaseFailed reports an INTERNAL or FATAL error of DuckDB: a bug in it, after
	// which it refuses every statement ("database has been invalidated"). The engine
	// replaces the database before its next statement; queries that were running on
	// the old one fail with this error.
	ErrDatabaseFailed = errors.New("DuckDB failed internally; SQL restarts on a fresh database")
)

// TempDir is DuckDB's spill directory: like the root, a path no client message may
// show (flightsql redacts both).
func (e *Engine) TempDir() string { return e.tempDir }

// stmtLabel shortens sql to a one-line prefix fit for an error message.
func stmtLabel(sql string) string {
	const max = 80
	s := strings.Join(strings.Fields(sql), " ")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max]) + "…"
}

// sqlError wraps err with the statement it concerns.
func sqlError(sql string, err error) error {
	return fmt.Errorf("sql %q: %w", stmtLabel(sql), err)
}

// duckError classifies an error message and type reported by DuckDB.
// Prepare-time failures carry no type, only the message, whose prefix DuckDB builds
// from the exception type ("Permission Error: ..."); typ is ErrorTypeInvalid then.
func duckError(typ bindings.ErrorType, msg string) error {
	if typ == bindings.ErrorTypeInvalid {
		typ = errorTypeFromMessage(msg)
	}
	switch typ {
	case bindings.ErrorTypePermission:
		return fmt.Errorf("%w: %s", ErrForbidden, msg)
	case bindings.ErrorTypeParser, bindings.ErrorTypeSyntax, bindings.ErrorTypeBinder,
		bindings.ErrorTypeCatalog, bindings.ErrorTypeConversion, bindings.ErrorTypeOutOfRange,
		bindings.ErrorTypeInvalidInput, bindings.ErrorTypeMismatchType, bindings.ErrorTypeInvalidType,
		bindings.ErrorTypeDivideByZero, bindings.ErrorTypeDecimal, bindings.ErrorTypeNotImplemented,
		bindings.ErrorTypeParameterNotResolved, bindings.ErrorTypeParameterNotAllowed,
		bindings.ErrorTypeExpression, bindings.ErrorTypeMissingExtension, bindings.ErrorTypeSequence,
		bindings.ErrorTypeDependency:
		return fmt.Errorf("%w: %s", ErrInvalidSQL, msg)
	case bindings.ErrorTypeOutOfMemory:
		return fmt.Errorf("%w: %s", ErrOutOfMemory, msg)
	case bindings.ErrorTypeInternal, bindings.ErrorTypeFatal:
		// DuckDB appends a native stack trace (addresses in our binary): noise in
		// logs, and nothing for a client to see.
		if i := strings.Index(msg, "\n\nStack Trace:"); i >= 0 {
			msg = msg[:i]
		}
		return fmt.Errorf("%w: %s", ErrDatabaseFailed, msg)
	}
	return errors.New(msg)
}

// errorTypeFromMessage recovers the exception type from the prefix DuckDB gives its
// messages. Only the types whose classification matters are listed.
func errorTypeFromMessage(msg string) bindings.ErrorType {
	prefixes := []struct {
		prefix string
		typ    bindings.ErrorType
	}{
		{"Permission Error", bindings.ErrorTypePermission},
		{"Parser Error", bindings.ErrorTypeParser},
		{"Syntax Error", bindings.ErrorTypeSyntax},
		{"Binder Error", bindings.ErrorTypeBinder},
		{"Catalog Error", bindings.ErrorTypeCatalog},
		{"Conversion Error", bindings.ErrorTypeConversion},
		{"Out of Range Error", bindings.ErrorTypeOutOfRange},
		{"Invalid Input Error", bindings.ErrorTypeInvalidInput},
		{"Not implemented Error", bindings.ErrorTypeNotImplemented},
		{"Invalid Error", bindings.ErrorTypeInvalidInput},
		{"Missing Extension Error", bindings.ErrorTypeMissingExtension},
		{"Out of Memory Error", bindings.ErrorTypeOutOfMemory},
		{"Interrupt Error", bindings.ErrorTypeInterrupt},
		{"INTERRUPT Error", bindings.ErrorTypeInterrupt},
		{"INTERNAL Error", bindings.ErrorTypeInternal},
		{"FATAL Error", bindings.ErrorTypeFatal},
	}
	for _, p := range prefixes {
		if strings.HasPrefix(msg, p.prefix) {
			return p.typ
		}
	}
	return bindings.ErrorTypeInvalid
}

// ctxError is the error to report for a context that is done: the engine's query
// timeout names itself through the context's cause, and errors.Is still finds
// context.DeadlineExceeded or context.Canceled.
func ctxError(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	if cause := context.Cause(ctx); cause != nil && errors.Is(cause, err) {
		return cause
	}
	return err
}
