package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/spf13/cobra"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/cmd/quiver/internal/duckread"
	"github.com/quiverdata/quiver/cmd/quiver/internal/fileformat"
)

// readerMemoryLimit caps what the CLI's DuckDB holds while it reads input files;
// past it DuckDB spills to a temporary directory. Reading streams, so this is a
// ceiling for unusual inputs (very wide rows, huge JSON objects), not a working size.
const readerMemoryLimit = "1GB"

// putInput is what `quiver put` reads: files of one format, or stdin.
type putInput struct {
	format duckread.Format
	files  []string  // absolute paths; a spooled copy of stdin
	stdin  io.Reader // an Arrow IPC stream on stdin, read as it arrives; nil otherwise
	size   int64     // bytes of the files, -1 unknown
	scan   duckread.ScanOptions
	batch  int
	spool  string // the temporary copy of stdin, removed by cleanup
}

func (in *putInput) cleanup() {
	if in.spool != "" {
		os.Remove(in.spool)
	}
}

// resolveInput checks the FILE arguments and flags and finds the files to read.
func resolveInput(cmd *cobra.Command, po putOptions, name string, args []string) (*putInput, error) {
	in := &putInput{size: -1, batch: po.batchRows}
	if po.sampleRows < -1 {
		return nil, usageErrorf("--sample-rows %d: want -1 (all rows), 0 (DuckDB's default) or a number of rows", po.sampleRows)
	}
	in.scan.SampleRows = po.sampleRows
	if po.inputFormat != "" {
		f, err := duckread.ParseFormat(po.inputFormat)
		if err != nil {
			return nil, usageErrorf("--input-format: %v", err)
		}
		in.format = f
	}
	if po.delimiter != "" {
		in.scan.Delimiter = unescapeDelimiter(po.delimiter)
	}
	switch {
	case po.header:
		in.scan.Header = new(bool)
		*in.scan.Header = true
	case po.noHeader:
		in.scan.Header = new(bool)
	}
	if po.columns != "" {
		cols, err := duckread.ParseColumns(po.columns)
		if err != nil {
			return nil, usageErrorf("--columns: %v", err)
		}
		in.scan.Columns = cols
	}
	if name == "" && args[0] == "-" {
		return nil, usageErrorf("reading stdin needs a dataset name: quiver put NAME - --input-format FORMAT")
	}
	if name != "" {
		// `quiver put *.csv` in a shell makes the first file the NAME: refuse that
		// rather than name a dataset after a file and read the others.
		_, _, ferr := duckread.FormatOf(name)
		if st, err := os.Stat(name); err == nil && !st.IsDir() && (ferr == nil || catalog.ValidateName(name) != nil) {
			return nil, usageErrorf("%s is a file, not a dataset name: quiver put [NAME] FILE... (with several files NAME comes first; quote a glob: 'logs/*.csv')", name)
		}
	}
	for _, a := range args {
		if a == "-" && len(args) > 1 {
			return nil, usageErrorf("stdin (-) cannot be read with other files")
		}
	}
	if args[0] == "-" {
		return in, in.spoolStdin(cmd)
	}
	files, format, err := duckread.Expand(args, in.format)
	if errors.Is(err, duckread.ErrUnknownFormat) {
		return nil, usageErrorf("%v: name the format with --input-format (%s)", err, duckread.FormatList())
	}
	if errors.Is(err, duckread.ErrNoFile) {
		return nil, err
	}
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	in.files, in.format = files, format
	if !format.DuckDB() && len(files) > 1 {
		return nil, usageErrorf("Arrow IPC files are put one at a time (%d given)", len(files))
	}
	in.size = 0
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		in.size += st.Size()
	}
	if !format.DuckDB() && (in.scan.Delimiter != "" || in.scan.Header != nil || in.scan.Columns != nil || in.scan.SampleRows != 0) {
		return nil, usageErrorf("--delimiter, --header, --no-header, --columns and --sample-rows apply to CSV, TSV and JSON input, not %s", format)
	}
	return in, nil
}

// unescapeDelimiter reads '\t' and "tab" as a tab, as a shell makes typing one awkward.
func unescapeDelimiter(s string) string {
	switch strings.ToLower(s) {
	case `\t`, "tab":
		return "\t"
	}
	return s
}

// spoolStdin copies stdin to a temporary file that DuckDB can read, named so that
// DuckDB decompresses gzip and zstd (told by their magic bytes). An Arrow IPC stream
// is not copied: it is read as it arrives.
func (in *putInput) spoolStdin(cmd *cobra.Command) error {
	switch in.format {
	case "":
		return usageErrorf("reading stdin needs --input-format (%s)", duckread.FormatList())
	case duckread.ArrowStream:
		in.stdin = cmd.InOrStdin()
		return nil
	case duckread.ArrowFile:
		return usageErrorf("an Arrow IPC file needs random access: save it to a file first, or send an Arrow IPC stream (--input-format arrows)")
	}
	br := bufio.NewReaderSize(cmd.InOrStdin(), 64<<10)
	ext := "." + string(in.format)
	if magic, _ := br.Peek(4); in.format != duckread.Parquet {
		switch {
		case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
			ext += ".gz"
		case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
			ext += ".zst"
		}
	}
	f, err := os.CreateTemp("", "quiver-stdin-*"+ext)
	if err != nil {
		return fmt.Errorf("copy stdin to a temporary file: %w", err)
	}
	in.spool = f.Name()
	n, err := io.Copy(f, br)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy stdin to %s: %w", f.Name(), err)
	}
	in.files, in.size = []string{f.Name()}, n
	return nil
}

// open starts reading. With target (an append to an existing dataset) the batches
// come in the dataset's columns and types, cast where no value changes. bar, when
// not nil, follows DuckDB's progress through the input bytes.
func (in *putInput) open(ctx context.Context, s *session, target *dataset, bar *progress, what string) (array.RecordReader, error) {
	if !in.format.DuckDB() {
		return in.openArrow(ctx, s, target, bar, what)
	}
	db, err := duckread.Open(in.files, readerMemoryLimit)
	if err != nil {
		return nil, err
	}
	if _, err := duckread.ScanSQL(in.format, in.files, in.scan); err != nil {
		db.Close()
		return nil, usageErrorf("%v", err)
	}
	scan, err := db.StrictCSV(in.format, in.files, in.scan)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("read %s: %w", in.describe(), err)
	}
	if in.format == duckread.JSON && in.scan.Columns == nil {
		if scan, err = db.TimestampsJSON(scan); err != nil {
			db.Close()
			return nil, fmt.Errorf("read %s: %w", in.describe(), err)
		}
	}
	return in.query(ctx, s, db, scan, target, bar, what, nil)
}

// query runs the read (or append) query of scan on db and returns its batches; the
// reader closes db, and calls done (if any) before that.
func (in *putInput) query(ctx context.Context, s *session, db *duckread.DB, scan string, target *dataset, bar *progress, what string, done func()) (array.RecordReader, error) {
	fail := func(err error) (array.RecordReader, error) {
		if done != nil {
			done()
		}
		db.Close()
		return nil, err
	}
	sql := "SELECT * FROM " + scan
	if target != nil {
		if target.Schema == nil {
			return fail(fmt.Errorf("dataset %q: the server sent no schema to append to", target.Name))
		}
		q, err := db.AppendSQL(scan, target.Schema)
		if err != nil {
			return fail(fmt.Errorf("append to %q: %w", target.Name, err))
		}
		sql = q
	}
	r, err := db.Query(ctx, sql, s.mem, in.batch)
	if err != nil {
		return fail(fmt.Errorf("read %s: %w", in.describe(), err))
	}
	var rdr array.RecordReader = &duckProgress{Reader: r, bar: bar, total: in.size, what: what, in: in}
	if target != nil {
		c, err := duckread.Conform(ctx, rdr, target.Schema, s.mem)
		if err != nil {
			rdr.Release()
			return fail(fmt.Errorf("append to %q: %w", target.Name, err))
		}
		rdr = c
	}
	return &closing{RecordReader: rdr, close: func() {
		if done != nil {
			done()
		}
		db.Close()
	}}, nil
}

// openArrow reads an Arrow IPC file or stream with arrow-go. An append goes through
// DuckDB all the same, to be cast to the dataset's types.
func (in *putInput) openArrow(ctx context.Context, s *session, target *dataset, bar *progress, what string) (array.RecordReader, error) {
	src := in.stdin
	closeSrc := func() {}
	if src == nil {
		fh, err := os.Open(in.files[0])
		if err != nil {
			return nil, err
		}
		src, closeSrc = fh, func() { fh.Close() }
	}
	counted := newCountingReader(src, func(n int64) { bar.add(what, 0, n) })
	format := fileformat.ArrowFile
	if in.format == duckread.ArrowStream {
		format = fileformat.ArrowStream
	}
	rdr, err := fileformat.NewReader(counted, format, s.mem)
	if err != nil {
		closeSrc()
		return nil, fmt.Errorf("%s: %w", in.describe(), err)
	}
	if target == nil {
		return &closing{RecordReader: rdr, close: closeSrc}, nil
	}
	db, err := duckread.Open(nil, readerMemoryLimit)
	if err != nil {
		rdr.Release()
		closeSrc()
		return nil, err
	}
	const view = "quiver_input"
	release, err := db.RegisterArrow(view, rdr)
	if err != nil {
		db.Close()
		rdr.Release()
		closeSrc()
		return nil, err
	}
	in.size = -1 // DuckDB's progress knows nothing of an Arrow stream; bytes are counted
	return in.query(ctx, s, db, view, target, nil, what, func() {
		release()
		rdr.Release()
		closeSrc()
	})
}

// describe names the input in messages.
func (in *putInput) describe() string {
	switch {
	case in.stdin != nil || in.spool != "":
		return "stdin"
	case len(in.files) == 1:
		return in.files[0]
	}
	return fmt.Sprintf("%d files (%s, ...)", len(in.files), in.files[0])
}

// duckProgress moves the bar along the input's bytes as DuckDB reports its progress.
type duckProgress struct {
	*duckread.Reader
	bar   *progress
	total int64
	shown int64
	what  string
	in    *putInput
}

func (p *duckProgress) Next() bool {
	ok := p.Reader.Next()
	if p.bar == nil || p.total <= 0 {
		return ok
	}
	done := p.total
	if ok {
		f := p.Reader.Progress()
		if f < 0 {
			return ok
		}
		done = int64(f * float64(p.total))
	}
	if done > p.shown {
		p.bar.add(p.what, 0, done-p.shown)
		p.shown = done
	}
	return ok
}

// Err names the input in a read error.
func (p *duckProgress) Err() error {
	if err := p.Reader.Err(); err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return fmt.Errorf("read %s: %w", p.in.describe(), err)
	}
	return nil
}

// closing is a reader that releases its reader and runs close on its last Release.
type closing struct {
	array.RecordReader
	refs  atomic.Int64 // references beyond the first
	close func()
}

func (c *closing) Retain() { c.refs.Add(1) }

func (c *closing) Release() {
	if c.refs.Add(-1) >= 0 {
		return
	}
	c.RecordReader.Release()
	c.close()
}

// nameFromFile is the dataset name `put FILE` uses: the file's base name without its
// format and compression extensions, made valid as the server's rules want (every
// character a name may not hold becomes '_', no leading '.', at most
// catalog.MaxNameLength bytes).
func nameFromFile(path string) (string, error) {
	if strings.ContainsAny(path, "*?[") {
		if _, err := os.Stat(path); err != nil {
			return "", usageErrorf("a glob needs a dataset name: quiver put NAME '%s'", path)
		}
	}
	base := duckread.StripExtensions(path)
	if abs, err := filepath.Abs(path); err == nil && (path == "." || path == "..") {
		base = filepath.Base(abs)
	}
	b := []byte(base)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			b[i] = '_'
		}
	}
	name := strings.TrimLeft(string(b), ".")
	if len(name) > catalog.MaxNameLength {
		name = name[:catalog.MaxNameLength]
	}
	if catalog.ValidateName(name) != nil {
		return "", usageErrorf("cannot make a dataset name of %s: name it, quiver put NAME %s", path, path)
	}
	return name, nil
}

// stdinIsTerminal reports whether the command's stdin is a terminal, where put
// --replace and drop ask before they destroy. A variable, so tests can answer.
var stdinIsTerminal = func(cmd *cobra.Command) bool {
	f, ok := cmd.InOrStdin().(*os.File)
	return ok && isTerminal(f)
}

// confirm asks question on stderr and reads a yes from stdin.
func confirm(cmd *cobra.Command, question string) bool {
	fmt.Fprint(cmd.ErrOrStderr(), question)
	line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}
