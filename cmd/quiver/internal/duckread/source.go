package duckread

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Format is an input format `quiver put` reads.
type Format string

// The input formats, named as --input-format accepts them.
const (
	CSV         Format = "csv"     // DuckDB's read_csv: delimiter, quoting, header and types detected
	TSV         Format = "tsv"     // read_csv with a tab delimiter
	JSON        Format = "json"    // DuckDB's read_json: an array of objects or one object per line
	Parquet     Format = "parquet" // DuckDB's read_parquet
	ArrowFile   Format = "arrow"   // Arrow IPC file (.arrow, .feather), read by arrow-go
	ArrowStream Format = "arrows"  // Arrow IPC stream (.arrows), read by arrow-go
)

// Formats lists every input format, for help texts and completion.
var Formats = []Format{CSV, TSV, JSON, Parquet, ArrowFile, ArrowStream}

// DuckDB reports whether DuckDB reads f (the others are Arrow IPC).
func (f Format) DuckDB() bool { return f == CSV || f == TSV || f == JSON || f == Parquet }

// extensions maps file name extensions, lower case, to formats.
var extensions = map[string]Format{
	".csv":     CSV,
	".tsv":     TSV,
	".tab":     TSV,
	".json":    JSON,
	".jsonl":   JSON,
	".ndjson":  JSON,
	".parquet": Parquet,
	".pq":      Parquet,
	".arrow":   ArrowFile,
	".feather": ArrowFile,
	".ipc":     ArrowFile,
	".arrows":  ArrowStream,
}

// compressions are the extensions of compressed text files, which DuckDB
// decompresses as it reads (CSV, TSV and JSON only).
var compressions = map[string]bool{".gz": true, ".gzip": true, ".zst": true, ".zstd": true}

// aliases are other names ParseFormat accepts.
var aliases = map[string]Format{
	"jsonl": JSON, "ndjson": JSON, "feather": ArrowFile, "ipc": ArrowFile, "pq": Parquet,
}

// ParseFormat returns the format called name (case-insensitive), accepting aliases.
func ParseFormat(name string) (Format, error) {
	n := strings.ToLower(name)
	for _, f := range Formats {
		if string(f) == n {
			return f, nil
		}
	}
	if f, ok := aliases[n]; ok {
		return f, nil
	}
	return "", fmt.Errorf("format %q: want one of %s", name, FormatList())
}

// FormatList is the formats as a comma-separated string.
func FormatList() string {
	s := make([]string, len(Formats))
	for i, f := range Formats {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

// ErrNoFile is an argument that names no file: not a file, a directory, or a glob
// that matches any.
var ErrNoFile = errors.New("no such file or directory")

// ErrUnknownFormat is a file whose name does not tell its format.
var ErrUnknownFormat = errors.New("no format Quiver knows")

// FormatOf returns the format path's extension names, past a compression
// extension (.csv.gz is CSV), and whether it is compressed.
func FormatOf(path string) (f Format, compressed bool, err error) {
	base := strings.ToLower(filepath.Base(path))
	ext := filepath.Ext(base)
	if compressions[ext] {
		compressed = true
		base = strings.TrimSuffix(base, ext)
		ext = filepath.Ext(base)
	}
	f, ok := extensions[ext]
	switch {
	case !ok && ext == "":
		return "", false, fmt.Errorf("%s has no file extension to tell its format by: %w", path, ErrUnknownFormat)
	case !ok:
		return "", false, fmt.Errorf("%s: extension %q names %w", path, ext, ErrUnknownFormat)
	case compressed && !f.DuckDB() || compressed && f == Parquet:
		return "", false, fmt.Errorf("%s: a compressed %s file cannot be read: decompress it first (Parquet and Arrow compress inside the file)", path, f)
	}
	return f, compressed, nil
}

// StripExtensions is the base name of path without its format and compression
// extensions: "data/sales_2024.csv.gz" is "sales_2024".
func StripExtensions(path string) string {
	base := filepath.Base(filepath.Clean(path))
	for range 2 {
		ext := strings.ToLower(filepath.Ext(base))
		if _, ok := extensions[ext]; ok || compressions[ext] {
			base = base[:len(base)-len(ext)]
		}
	}
	return base
}

// Expand turns the FILE arguments of `quiver put` into the files to read, in order:
// a file is itself, a directory is every file under it that has a known extension
// (every file when format is given), sorted by path, hidden ones skipped, and an
// argument with glob characters (*, ?, [) is the files it matches. Every file must be
// of one format: the one given, or the one their extensions name. Paths come back
// absolute.
func Expand(args []string, format Format) ([]string, Format, error) {
	var files []string
	for _, arg := range args {
		got, err := expandOne(arg, format)
		if err != nil {
			return nil, "", err
		}
		files = append(files, got...)
	}
	if len(files) == 0 {
		return nil, "", errors.New("no input files")
	}
	if format != "" {
		return files, format, nil
	}
	first := ""
	for _, f := range files {
		ff, _, err := FormatOf(f)
		if err != nil {
			return nil, "", err
		}
		if format == "" {
			format, first = ff, f
		} else if ff != format {
			return nil, "", fmt.Errorf("%s is %s but %s is %s: put files of one format at a time", first, format, f, ff)
		}
	}
	return files, format, nil
}

func expandOne(arg string, format Format) ([]string, error) {
	st, err := os.Stat(arg)
	switch {
	case err == nil && st.IsDir():
		return walkDir(arg, format)
	case err == nil:
		abs, err := filepath.Abs(arg)
		return []string{abs}, err
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	case !strings.ContainsAny(arg, "*?["):
		return nil, fmt.Errorf("%s: %w", arg, ErrNoFile)
	}
	matches, err := filepath.Glob(arg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", arg, err)
	}
	var out []string
	for _, m := range matches {
		if st, err := os.Stat(m); err != nil || st.IsDir() {
			continue
		}
		abs, err := filepath.Abs(m)
		if err != nil {
			return nil, err
		}
		out = append(out, abs)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w (no file matches)", arg, ErrNoFile)
	}
	return out, nil
}

// walkDir lists the files under dir that have a known extension (any, with format).
func walkDir(dir string, format Format) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir && strings.HasPrefix(e.Name(), ".") {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() {
			return nil
		}
		if format == "" {
			if _, _, err := FormatOf(path); err != nil {
				return nil
			}
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return err
		}
		out = append(out, abs)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: a directory without files to read (CSV, TSV, JSON, Parquet, Arrow)", dir)
	}
	sort.Strings(out)
	return out, nil
}
