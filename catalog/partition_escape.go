package catalog

import (
	"strings"
)

// Partition values in directory names
//
// A partition directory is key=value, the value escaped as pyarrow writes it (and
// as DuckDB, pyarrow and Spark read it back): every byte but the URI-unreserved ones
// [A-Za-z0-9._~-] becomes %XX, so '/', '=', '\\', '%', NUL, spaces and non-ASCII
// never reach the file system as themselves. A NULL is __HIVE_DEFAULT_PARTITION__,
// which all of them read as NULL; an empty string is the empty value ("k="), which
// they read as ''. Three values are escaped beyond pyarrow so that they cannot be
// mistaken for something else: "." and ".." (path elements) become %2E and %2E%2E,
// and a string that is literally __HIVE_DEFAULT_PARTITION__ starts with %5F.

// HiveNull is the directory value of a NULL partition value.
const HiveNull = "__HIVE_DEFAULT_PARTITION__"

const upperHex = "0123456789ABCDEF"

// EscapePartitionValue returns v as it appears after "key=" in a partition
// directory name. Its result passes checkPartitionValue whenever it is at most
// maxPartitionValue bytes long.
func EscapePartitionValue(v string) string {
	switch v {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	case HiveNull:
		return "%5F" + v[1:]
	}
	clean := true
	for i := 0; i < len(v) && clean; i++ {
		clean = unreserved(v[i])
	}
	if clean {
		return v
	}
	var b strings.Builder
	b.Grow(len(v) + 8)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
	return b.String()
}

// UnescapePartitionValue is the inverse of EscapePartitionValue on any directory
// value: null reports __HIVE_DEFAULT_PARTITION__; a '%' not followed by two hex
// digits stays as it is, as DuckDB and pyarrow leave it.
func UnescapePartitionValue(dir string) (v string, null bool) {
	if dir == HiveNull {
		return "", true
	}
	if !strings.Contains(dir, "%") {
		return dir, false
	}
	var b strings.Builder
	for i := 0; i < len(dir); i++ {
		c := dir[i]
		if c == '%' && i+2 < len(dir) && isHex(dir[i+1]) && isHex(dir[i+2]) {
			b.WriteByte(unhex(dir[i+1])<<4 | unhex(dir[i+2]))
			i += 2
			continue
		}
		b.WriteByte(c)
	}
	return b.String(), false
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
