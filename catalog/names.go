package catalog

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxNameLength is the longest dataset name accepted, in bytes. It leaves room under
// the usual 255-byte file name limit for the temporary names the store derives from it.
const MaxNameLength = 200

// parquetSuffix is dropped from a dataset name to form its SQL table name.
const parquetSuffix = ".parquet"

// Errors returned by the store. Callers test them with errors.Is; the messages of the
// wrapped errors name the dataset concerned.
var (
	// ErrNotFound means no dataset has the given name.
	ErrNotFound = errors.New("dataset not found")
	// ErrInvalidName means a name is not one path element of [A-Za-z0-9_.-] not
	// starting with '.', or is too long.
	ErrInvalidName = errors.New("invalid dataset name")
	// ErrAlreadyExists means a create found the dataset, or another dataset with the
	// same SQL table name, already there.
	ErrAlreadyExists = errors.New("dataset already exists")
	// ErrInvalidData means an upload was malformed: a failed stream, a batch whose
	// schema differs from the stream's, or an append whose schema differs from the
	// dataset's.
	ErrInvalidData = errors.New("invalid data")
	// ErrUnreadable means a file in the root is not a readable Parquet dataset.
	ErrUnreadable = errors.New("dataset is not readable Parquet")
	// ErrReadOnly means a dataset cannot be changed where it is: a single file on a
	// bucket without the local backend's renames (drop it, then put it again).
	ErrReadOnly = errors.New("dataset cannot be changed in place")
)

// ValidateName reports whether name may name a dataset: one path element of ASCII
// letters, digits, '_', '-' and '.', not starting with '.', at most MaxNameLength bytes.
// Everything the store touches on disk is derived from names that passed this check,
// so no client input can reach a path outside the root.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: name is empty", ErrInvalidName)
	case len(name) > MaxNameLength:
		return fmt.Errorf("%w: name is %d bytes, longer than %d", ErrInvalidName, len(name), MaxNameLength)
	case name[0] == '.':
		return fmt.Errorf("%w: %q starts with '.'", ErrInvalidName, name)
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			// Name the character as the client typed it, not its first UTF-8 byte.
			c := fmt.Sprintf(`'\x%02x'`, name[i]) // not UTF-8
			if r, size := utf8.DecodeRuneInString(name[i:]); r != utf8.RuneError || size > 1 {
				c = fmt.Sprintf("%q", r)
			}
			return fmt.Errorf("%w: %q has the character %s at byte %d; names use letters, digits, '_', '-' and '.'", ErrInvalidName, name, c, i)
		}
	}
	if TableName(name) == "" {
		return fmt.Errorf("%w: %q has nothing before %q", ErrInvalidName, name, parquetSuffix)
	}
	return nil
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// TableName is the SQL table name of a dataset: its name without a trailing ".parquet".
func TableName(name string) string {
	return strings.TrimSuffix(name, parquetSuffix)
}

// sameTable reports whether two dataset names map to the same SQL table. SQL
// identifiers are case-insensitive in DuckDB, so "Sales" and "sales.parquet" collide.
func sameTable(a, b string) bool {
	return FoldIdent(TableName(a)) == FoldIdent(TableName(b))
}

// FoldIdent folds an SQL identifier as DuckDB compares them: ASCII letters only.
// DuckDB matches table, CTE and schema names case-insensitively by lower-casing A-Z
// and nothing else, so KELVIN SIGN (U+212A) is not "k" and U+0130 is not "i" to it.
// Go's strings.ToLower and strings.EqualFold fold those to ASCII letters: anything
// that mirrors DuckDB's name resolution must use this instead.
func FoldIdent(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + ('a' - 'A')
				}
			}
			return string(b)
		}
	}
	return s
}
