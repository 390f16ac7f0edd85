package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/spf13/cobra"

	"github.com/quiverdata/quiver/cmd/quiver/internal/fileformat"
)

func newGetCommand() *cobra.Command {
	var o clientOptions
	var output, format string
	var reencode bool
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Download a dataset to a file or stdout",
		Long: `Download the dataset NAME.

With -o FILE, the format comes from FILE's extension: .parquet, .csv, .jsonl, .arrow
or .feather (Arrow IPC file), .arrows (Arrow IPC stream); --format overrides it. FILE
appears only when the download is complete: a failed download leaves no partial file.

Without -o (or with -o -), it writes to stdout, as CSV unless --format says otherwise.
Binary formats (parquet, arrow, arrows) are refused when stdout is a terminal.

For .parquet, it copies the server's stored Parquet file byte for byte (same
encoding, compression and size) when the dataset is one file; a dataset of several
parts (what --append makes) is re-encoded into one file, and get says so.
--reencode always re-encodes.

The download streams batch by batch (or in 1 MiB chunks of the file), so memory
stays small whatever the size.`,
		Example: `  quiver get sales.parquet -o sales.csv
  quiver get sales.parquet | head
  quiver get sales.parquet --format arrows | python -c 'import pyarrow as pa, sys; print(pa.ipc.open_stream(sys.stdin.buffer).read_all())'`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := commandContext(cmd)
			defer cancel()
			return get(ctx, cmd, &o, args[0], output, format, reencode)
		},
		ValidArgsFunction: datasetNames(&o),
	}
	addClientFlags(cmd, &o)
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "-", "file to write, - for stdout")
	f.StringVarP(&format, "format", "f", "", "output format: "+fileformat.List()+" (default: from -o's extension; csv on stdout)")
	f.BoolVar(&reencode, "reencode", false, "for parquet: write the batches anew instead of copying the stored file")
	cmd.RegisterFlagCompletionFunc("format", formatCompletion)
	return cmd
}

func get(ctx context.Context, cmd *cobra.Command, o *clientOptions, name, output, formatName string, reencode bool) error {
	if err := checkName(name); err != nil {
		return err
	}
	toStdout := output == "-" || output == ""
	var format fileformat.Format
	var err error
	switch {
	case formatName != "":
		if format, err = fileformat.Parse(formatName); err != nil {
			return usageErrorf("--format: %v", err)
		}
	case toStdout:
		format = fileformat.CSV
	default:
		if format, err = fileformat.FromPath(output); err != nil {
			return usageErrorf("%v", err)
		}
	}
	if toStdout && format.Binary() && isTerminal(os.Stdout) {
		return usageErrorf("not writing %s to a terminal: pipe it somewhere or use -o FILE", format)
	}

	s, err := connect(ctx, o)
	if err != nil {
		return err
	}
	defer s.Close()
	d, err := s.stat(ctx, name)
	if err != nil {
		return err
	}
	name = d.Name // the argument may be the dataset's SQL table name

	var out io.Writer = cmd.OutOrStdout()
	var commit func() error
	if !toStdout {
		f, done, err := createAtomic(output)
		if err != nil {
			return err
		}
		defer done(false) // removes the temporary file unless committed
		out, commit = f, func() error { return done(true) }
	}
	cw := &countingWriter{w: out}
	if format == fileformat.Parquet && !reencode {
		bar := newProgress(o, "get "+name, "bytes", d.Bytes)
		rows, size, err := getRawParquet(ctx, s.fc, name, cw, func(n int64) { bar.add("get "+name, 0, n) })
		bar.finish(err)
		var no *errNoRawCopy
		switch {
		case errors.As(err, &no):
			fmt.Fprintf(cmd.ErrOrStderr(), "re-encoding %s: the server cannot hand out its stored file: %s\n", name, no.why)
		case err != nil:
			return fmt.Errorf("get %q: %w", name, err)
		default:
			if commit != nil {
				if err := commit(); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %s, %s (the stored Parquet file, as is)\n", output, plural(rows, "row", "rows"), humanBytes(size))
			}
			return nil
		}
	}
	bar := newProgress(o, "get "+name, "rows", d.Rows)
	rows, err := download(ctx, s, d, func(schema *arrow.Schema) (fileformat.Writer, error) {
		return fileformat.NewWriter(cw, format, schema, s.mem)
	}, func(rec arrow.RecordBatch) { bar.add("get "+name, rec.NumRows(), cw.n-bar.doneBytes()) })
	bar.finish(err)
	if err != nil {
		return fmt.Errorf("get %q: %w", name, err)
	}
	if commit != nil {
		if err := commit(); err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %s, %s\n", output, plural(rows, "row", "rows"), humanBytes(cw.n))
	}
	return nil
}

// download streams every endpoint of d into the writer that newWriter makes for the
// stream's schema, and returns the rows written.
func download(ctx context.Context, s *session, d dataset, newWriter func(*arrow.Schema) (fileformat.Writer, error), onBatch func(arrow.RecordBatch)) (int64, error) {
	var w fileformat.Writer
	var rows int64
	for _, ep := range d.info.GetEndpoint() {
		// Quiver's endpoints carry no location: fetch from this server. A location
		// elsewhere (the scale-out plan) would need a connection of its own.
		n, err := readTicket(ctx, s.fc, ep.GetTicket(), func(rdr array.RecordReader) error {
			if w == nil {
				var err error
				if w, err = newWriter(rdr.Schema()); err != nil {
					return err
				}
			}
			for rdr.Next() {
				rec := rdr.RecordBatch()
				if err := w.Write(rec); err != nil {
					return fmt.Errorf("write: %w", err)
				}
				onBatch(rec)
			}
			return rdr.Err()
		})
		rows += n
		if err != nil {
			return rows, err
		}
	}
	if w == nil { // no endpoints: an empty dataset still gets its header or schema
		if d.Schema == nil {
			return 0, fmt.Errorf("the server sent neither data nor a schema for %q", d.Name)
		}
		var err error
		if w, err = newWriter(d.Schema); err != nil {
			return 0, err
		}
	}
	return rows, w.Close()
}

// readTicket runs DoGet for t and hands the stream to use.
func readTicket(ctx context.Context, fc flight.Client, t *flight.Ticket, use func(array.RecordReader) error) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := fc.DoGet(ctx, t)
	if err != nil {
		return 0, err
	}
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		return 0, err
	}
	defer rdr.Release()
	counted := &rowCounter{RecordReader: rdr, on: func(int64) {}}
	var rows int64
	counted.on = func(n int64) { rows += n }
	err = use(counted)
	return rows, err
}

// createAtomic creates a temporary file beside path; done(true) syncs it and renames
// it to path, done(false) removes it. Calling done again does nothing.
func createAtomic(path string) (*os.File, func(commit bool) error, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".quiver-tmp-*")
	if err != nil {
		return nil, nil, err
	}
	finished := false
	return f, func(commit bool) error {
		if finished {
			return nil
		}
		finished = true
		if !commit {
			f.Close()
			os.Remove(f.Name())
			return nil
		}
		err := f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(f.Name(), 0o644)
		}
		if err == nil {
			err = os.Rename(f.Name(), path)
		}
		if err != nil {
			os.Remove(f.Name())
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	}, nil
}
