package fileformat

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Format is a file format the CLI reads or writes.
type Format string

// The formats, named as --input-format and --format accept them.
const (
	Parquet     Format = "parquet"
	CSV         Format = "csv"
	JSONLines   Format = "jsonl"
	ArrowFile   Format = "arrow"  // Arrow IPC file format (.arrow, .feather)
	ArrowStream Format = "arrows" // Arrow IPC stream format (.arrows)
)

// Formats lists every format, for help texts and completion.
var Formats = []Format{Parquet, CSV, JSONLines, ArrowFile, ArrowStream}

// Binary reports whether f is not text, so not for a terminal.
func (f Format) Binary() bool { return f == Parquet || f == ArrowFile || f == ArrowStream }

// extensions maps file name extensions, lower case, to formats.
var extensions = map[string]Format{
	".parquet": Parquet,
	".pq":      Parquet,
	".csv":     CSV,
	".jsonl":   JSONLines,
	".ndjson":  JSONLines,
	".json":    JSONLines,
	".arrow":   ArrowFile,
	".feather": ArrowFile,
	".ipc":     ArrowFile,
	".arrows":  ArrowStream,
}

// aliases are other names Parse accepts.
var aliases = map[string]Format{
	"json":    JSONLines,
	"ndjson":  JSONLines,
	"feather": ArrowFile,
	"ipc":     ArrowFile,
	"pq":      Parquet,
}

// FromPath returns the format that path's extension names.
func FromPath(path string) (Format, error) {
	ext := strings.ToLower(filepath.Ext(path))
	if f, ok := extensions[ext]; ok {
		return f, nil
	}
	if ext == "" {
		return "", fmt.Errorf("%s has no file extension to tell its format by: name the format with --format (%s)", path, List())
	}
	return "", fmt.Errorf("%s: extension %q names no format Quiver knows: name the format with --format (%s)", path, ext, List())
}

// Parse returns the format called name (case-insensitive), accepting aliases.
func Parse(name string) (Format, error) {
	n := Format(strings.ToLower(name))
	for _, f := range Formats {
		if f == n {
			return f, nil
		}
	}
	if f, ok := aliases[string(n)]; ok {
		return f, nil
	}
	return "", fmt.Errorf("format %q: want one of %s", name, List())
}

// List is the formats as a comma-separated string.
func List() string {
	s := make([]string, len(Formats))
	for i, f := range Formats {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}
