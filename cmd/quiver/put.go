package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/spf13/cobra"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/cmd/quiver/internal/fileformat"
)

type putOptions struct {
	inputFormat string
	replace     bool
	append      bool
	batchRows   int
}

func newPutCommand() *cobra.Command {
	var o clientOptions
	var po putOptions
	cmd := &cobra.Command{
		Use:   "put NAME FILE",
		Short: "Upload a file as a dataset",
		Long: `Upload FILE to the server as the dataset NAME. FILE is Parquet, CSV (with a header
line), JSON lines (one object per line), or Arrow IPC as a file (.arrow, .feather) or
a stream (.arrows); its extension says which, or --input-format. FILE - reads stdin
(CSV, JSON lines or an Arrow IPC stream; name the format with --input-format).

CSV and JSON column types are inferred from the first 10000 rows: integers, floats,
booleans, dates and timestamps in CSV; numbers, booleans, strings, arrays and objects
in JSON. Empty CSV cells are nulls.

The file streams batch by batch, so memory stays small whatever its size. The dataset
changes only when the whole upload has arrived.

An existing dataset is left alone unless --replace (overwrite it) or --append (add the
rows; the columns must match). --append goes through Flight SQL bulk ingestion.`,
		Example: `  quiver put sales.parquet sales.csv
  quiver put sales.parquet more-sales.jsonl --append
  zcat big.csv.gz | quiver put big.parquet - --input-format csv`,
		Args: exactArgs(2, "NAME FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := commandContext(cmd)
			defer cancel()
			return put(ctx, cmd, &o, po, args[0], args[1])
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return datasetNames(&o)(cmd, args, toComplete)
			}
			return nil, cobra.ShellCompDirectiveDefault // FILE: files
		},
	}
	addClientFlags(cmd, &o)
	f := cmd.Flags()
	f.StringVarP(&po.inputFormat, "input-format", "i", "", "format of FILE: "+fileformat.List()+" (default: from its extension)")
	f.BoolVar(&po.replace, "replace", false, "overwrite the dataset if it exists")
	f.BoolVar(&po.append, "append", false, "add the rows to the dataset if it exists (Flight SQL bulk ingest)")
	f.IntVar(&po.batchRows, "batch-rows", 64<<10, "rows per record batch sent (CSV, JSON lines, Parquet)")
	cmd.RegisterFlagCompletionFunc("input-format", formatCompletion)
	return cmd
}

func formatCompletion(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	var s []string
	for _, f := range fileformat.Formats {
		s = append(s, string(f))
	}
	return s, cobra.ShellCompDirectiveNoFileComp
}

func put(ctx context.Context, cmd *cobra.Command, o *clientOptions, po putOptions, name, path string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if po.replace && po.append {
		return usageErrorf("--replace and --append exclude each other: replace the dataset, or add to it")
	}
	var format fileformat.Format
	var err error
	switch {
	case po.inputFormat != "":
		if format, err = fileformat.Parse(po.inputFormat); err != nil {
			return usageErrorf("--input-format: %v", err)
		}
	case path == "-":
		return usageErrorf("reading stdin needs --input-format (csv, jsonl or arrows)")
	default:
		if format, err = fileformat.FromPath(path); err != nil {
			return usageErrorf("%v", err)
		}
	}

	in, size := io.Reader(os.Stdin), int64(-1)
	if path != "-" {
		fh, err := os.Open(path)
		if err != nil {
			return err
		}
		defer fh.Close()
		if st, err := fh.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		in = fh
	}

	s, err := connect(ctx, o)
	if err != nil {
		return err
	}
	defer s.Close()

	// Refuse to overwrite before reading a byte. Between this check and the upload
	// another client may create the dataset; the upload then replaces it (DoPut
	// always replaces), a window accepted for a CLI.
	existing, exists, err := s.exists(ctx, name)
	if err != nil {
		return err
	}
	if exists && !po.replace && !po.append {
		return &existsError{name: name, rows: existing.Rows}
	}

	bar := newProgress(o, "put "+name, "bytes", size)
	counted := newCountingReader(in, func(n int64) { bar.add("put "+name, 0, n) })
	rdr, err := fileformat.NewReader(ctx, counted, format, fileformat.ReadOptions{Allocator: s.mem, BatchRows: po.batchRows})
	if errors.Is(err, fileformat.ErrNeedsFile) {
		bar.finish(err)
		return usageErrorf("%v: save it to a file first, or send CSV, JSON lines or an Arrow IPC stream", err)
	}
	if err != nil {
		bar.finish(err)
		return fmt.Errorf("%s: %w", path, err)
	}
	defer rdr.Release()
	counting := &rowCounter{RecordReader: rdr, on: func(rows int64) { bar.add("put "+name, rows, 0) }}

	var rows int64
	if exists && po.append {
		rows, err = ingestAppend(ctx, s, name, counting)
	} else {
		rows, err = doPut(ctx, s.fc, name, counting)
	}
	bar.finish(err)
	if err != nil {
		return fmt.Errorf("put %q: %w", name, err)
	}
	verb := "stored"
	switch {
	case exists && po.append:
		verb = "appended"
	case exists:
		verb = "replaced"
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s %s: %s\n", verb, name, plural(rows, "row", "rows"))
	return nil
}

// doPut uploads rdr as the dataset name with DoPut and a PATH descriptor, as the Arrow
// cookbook does. It returns the rows sent.
func doPut(ctx context.Context, fc flight.Client, name string, rdr array.RecordReader) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	// A failed upload returns without closing w or the send side: cancel then aborts
	// the stream, so the server never sees its end and keeps the previous version.
	defer cancel()
	stream, err := fc.DoPut(ctx)
	if err != nil {
		return 0, err
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(rdr.Schema()))
	w.SetFlightDescriptor(pathDescriptor(name))
	var rows int64
	for rdr.Next() {
		rec := rdr.RecordBatch()
		if err := w.Write(rec); err != nil {
			if errors.Is(err, io.EOF) {
				// The server ended the stream; its error is what Recv returns.
				break
			}
			return rows, err
		}
		rows += rec.NumRows()
	}
	if err := rdr.Err(); err != nil {
		return rows, err
	}
	if err := w.Close(); err != nil && !errors.Is(err, io.EOF) {
		return rows, err
	}
	if err := stream.CloseSend(); err != nil {
		return rows, err
	}
	return rows, drain(stream.Recv)
}

// ingestAppend appends rdr to the dataset name with Flight SQL bulk ingestion
// (CommandStatementIngest, if_exists=APPEND, if_not_exist=FAIL). The table is the
// dataset's SQL table name.
func ingestAppend(ctx context.Context, s *session, name string, rdr array.RecordReader) (int64, error) {
	n, err := s.sql().ExecuteIngest(ctx, rdr, &flightsql.ExecuteIngestOpts{
		Table: catalog.TableName(name),
		TableDefinitionOptions: &flightsql.TableDefinitionOptions{
			IfNotExist: flightsql.TableDefinitionOptionsTableNotExistOptionFail,
			IfExists:   flightsql.TableDefinitionOptionsTableExistsOptionAppend,
		},
	})
	return n, err
}

// rowCounter reports the rows of each batch that passes through.
type rowCounter struct {
	array.RecordReader
	on func(rows int64)
}

func (r *rowCounter) Next() bool {
	if !r.RecordReader.Next() {
		return false
	}
	r.on(r.RecordReader.RecordBatch().NumRows())
	return true
}
