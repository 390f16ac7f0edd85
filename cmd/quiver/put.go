package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/spf13/cobra"
	"google.golang.org/grpc/metadata"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/cmd/quiver/internal/duckread"
)

type putOptions struct {
	inputFormat string
	replace     bool
	append      bool
	yes         bool
	batchRows   int
	delimiter   string
	header      bool
	noHeader    bool
	columns     string
	sampleRows  int
	partitionBy string
}

func newPutCommand() *cobra.Command {
	var o clientOptions
	var po putOptions
	cmd := &cobra.Command{
		Use:   "put [NAME] FILE...",
		Short: "Upload files as a dataset",
		Long: `Upload FILE to the server as the dataset NAME. Without NAME, the dataset is named
after the file: sales_2024.csv.gz becomes sales_2024 (characters a name may not hold
become '_'; the name used is printed).

FILE is read by DuckDB, which detects what it can: CSV (.csv; delimiter, quoting,
header line and column types detected), TSV (.tsv), JSON (.json, .jsonl, .ndjson: an
array of objects or one object per line), each also compressed (.gz, .zst), and
Parquet (.parquet). Dates and timestamps arrive as date and timestamp columns. Arrow
IPC files (.arrow, .feather) and streams (.arrows) are sent as they are. The extension
tells the format, or --input-format does.

Several FILEs, a directory (every file under it with a known extension) or a quoted
glob ('logs/2024-*.csv.gz') make one dataset; all must be of one format.

When detection is wrong: --delimiter, --header or --no-header, and --columns with
every column's name and DuckDB type (id:BIGINT,name:VARCHAR,price:DECIMAL(10,2)).
Types are detected from the first 20480 rows (--sample-rows N: from N, -1: from all,
which reads the input twice); a later value that does not fit its column's type
stops the upload with an error naming the column and the value, and the dataset is
unchanged.

FILE - reads stdin; name the format with --input-format. An Arrow IPC stream is sent
as it arrives; anything else is first copied to a temporary file (DuckDB reads files),
which takes as much disk space as the input.

The data streams batch by batch, so memory stays small whatever the size of the
input, and the dataset changes only when the whole upload has arrived.

An existing dataset is left alone unless --replace (overwrite it; on a terminal this
asks first, unless --yes) or --append (add the rows). --append matches columns by
name and casts each to the dataset's type when no value changes (a float column of
whole numbers goes into an integer column); otherwise it stops, naming the column
and both types, and the dataset is unchanged. NAME may also be the dataset's SQL
table name.

--partition-by year,month stores the rows in hive-style partition directories
(year=2024/month=3/part-....parquet), the partition columns in the directory names
rather than in the files, as Spark, pyarrow and DuckDB read them; the dataset still
has every column. An --append to a partitioned dataset goes to its partitions.`,
		Example: `  quiver put sales.csv                         # dataset "sales"
  quiver put sales sales.csv
  quiver put events 'logs/2024-*.csv.gz'
  quiver put events logs/ --append
  quiver put events events.csv --partition-by year,month
  quiver put prices prices.txt --input-format csv --delimiter '|' --no-header --columns 'sku:VARCHAR,price:DECIMAL(10,2)'
  zcat big.csv.gz | quiver put big - --input-format csv`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("put needs a FILE: quiver put [NAME] FILE... (see quiver put --help)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := commandContext(cmd)
			defer cancel()
			name, files := "", args
			if len(args) > 1 {
				name, files = args[0], args[1:]
			}
			return put(ctx, cmd, &o, po, name, files)
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
	f.StringVarP(&po.inputFormat, "input-format", "i", "", "format of FILE: "+duckread.FormatList()+" (default: from its extension)")
	f.BoolVar(&po.replace, "replace", false, "overwrite the dataset if it exists (asks on a terminal)")
	f.BoolVarP(&po.yes, "yes", "y", false, "with --replace: do not ask")
	f.BoolVar(&po.append, "append", false, "add the rows to the dataset if it exists, cast to its columns' types where no value changes")
	f.IntVar(&po.batchRows, "batch-rows", 64<<10, "rows per record batch sent (at most about 4 MiB each)")
	f.StringVar(&po.delimiter, "delimiter", "", `CSV field delimiter, e.g. ';', '|' or '\t' (default: detected)`)
	f.BoolVar(&po.header, "header", false, "CSV: the first line names the columns (default: detected)")
	f.BoolVar(&po.noHeader, "no-header", false, "CSV: the first line is data (columns are column0, column1, ... unless --columns)")
	f.StringVar(&po.partitionBy, "partition-by", "", "write hive-style partitions by these columns, col1[,col2]: one key=value/ directory level per column (integers, strings, dates, booleans)")
	f.StringVar(&po.columns, "columns", "", "every column's name and DuckDB type, in order: name:TYPE,... (CSV, JSON)")
	f.IntVar(&po.sampleRows, "sample-rows", 0, "rows DuckDB reads to detect CSV and JSON types: 0 = DuckDB's default (20480), -1 = all (a first pass over the input)")
	cmd.RegisterFlagCompletionFunc("input-format", formatCompletion)
	return cmd
}

func formatCompletion(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	var s []string
	for _, f := range duckread.Formats {
		s = append(s, string(f))
	}
	return s, cobra.ShellCompDirectiveNoFileComp
}

// errNotReplaced is a --replace the user declined at the prompt.
var errNotReplaced = errors.New("not replaced")

func put(ctx context.Context, cmd *cobra.Command, o *clientOptions, po putOptions, name string, args []string) error {
	if po.replace && po.append {
		return usageErrorf("--replace and --append exclude each other: replace the dataset, or add to it")
	}
	if po.header && po.noHeader {
		return usageErrorf("--header and --no-header exclude each other")
	}
	partitionBy, err := parsePartitionBy(po.partitionBy)
	if err != nil {
		return err
	}
	if po.batchRows <= 0 {
		return usageErrorf("--batch-rows %d: want a positive number of rows", po.batchRows)
	}
	in, err := resolveInput(cmd, po, name, args)
	if err != nil {
		return err
	}
	defer in.cleanup()
	if name == "" {
		if name, err = nameFromFile(args[0]); err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "dataset name %q (from %s)\n", name, args[0])
	}
	if err := checkName(name); err != nil {
		return err
	}

	s, err := connect(ctx, o)
	if err != nil {
		return err
	}
	defer s.Close()

	// Refuse to overwrite before reading a byte. Between this check and the upload
	// another client may create the dataset; the upload then replaces it (DoPut
	// always replaces), a window accepted for a CLI.
	existing, exists, err := s.lookup(ctx, name, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	if exists {
		name = existing.Name
	}
	if exists && !po.replace && !po.append {
		return &existsError{name: name, rows: existing.Rows}
	}
	if exists && po.replace && !po.yes && stdinIsTerminal(cmd) {
		if !confirm(cmd, fmt.Sprintf("Replace dataset %q (%s, %s)? [y/N] ",
			name, plural(existing.Rows, "row", "rows"), plural(int64(numColumns(existing)), "column", "columns"))) {
			return errNotReplaced
		}
	}
	appending := exists && po.append

	bar := newProgress(o, "put "+name, "bytes", in.size)
	var target *dataset
	if appending {
		target = &existing
	}
	rdr, err := in.open(ctx, s, target, bar, "put "+name)
	if err != nil {
		bar.finish(err)
		return err
	}
	defer rdr.Release()
	counting := &rowCounter{RecordReader: rdr, on: func(rows int64) { bar.add("put "+name, rows, 0) }}

	var rows int64
	switch {
	case len(partitionBy) > 0:
		mode := "create"
		switch {
		case appending:
			mode = "append"
		case exists:
			mode = "replace"
		case po.append:
			mode = "create_or_append"
		}
		pctx := metadata.AppendToOutgoingContext(ctx, "quiver-partition-by", strings.Join(partitionBy, ","), "quiver-put-mode", mode)
		rows, err = doPut(pctx, s.fc, name, counting)
	case appending:
		rows, err = ingestAppend(ctx, s, name, counting)
	default:
		rows, err = doPut(ctx, s.fc, name, counting)
	}
	bar.finish(err)
	if err != nil {
		return fmt.Errorf("put %q: %w", name, err)
	}
	cols := int64(rdr.Schema().NumFields())
	shape := plural(rows, "row", "rows") + ", " + plural(cols, "column", "columns")
	w := cmd.ErrOrStderr()
	switch {
	case appending:
		fmt.Fprintf(w, "appended %s: %s\n", name, shape)
	case exists:
		fmt.Fprintf(w, "replaced %s: %s (was %s, %s)\n", name, shape,
			plural(existing.Rows, "row", "rows"), plural(int64(numColumns(existing)), "column", "columns"))
	default:
		fmt.Fprintf(w, "stored %s: %s\n", name, shape)
	}
	return nil
}

// parsePartitionBy splits --partition-by's columns.
func parsePartitionBy(v string) ([]string, error) {
	if v == "" {
		return nil, nil
	}
	var cols []string
	for _, c := range strings.Split(v, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			return nil, usageErrorf("--partition-by %q: want column names separated by commas", v)
		}
		cols = append(cols, c)
	}
	return cols, nil
}

func numColumns(d dataset) int {
	if d.Schema == nil {
		return 0
	}
	return d.Schema.NumFields()
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
	// ExecuteIngest ends the IPC stream (its deferred Close) even when rdr failed,
	// and the server could take that end for the end of the data. Cancelling the
	// call as soon as rdr fails, before ExecuteIngest sees it, aborts the upload.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rdr = &cancelOnError{RecordReader: rdr, cancel: cancel}
	n, err := s.sql().ExecuteIngest(ctx, rdr, &flightsql.ExecuteIngestOpts{
		Table: catalog.TableName(name),
		TableDefinitionOptions: &flightsql.TableDefinitionOptions{
			IfNotExist: flightsql.TableDefinitionOptionsTableNotExistOptionFail,
			IfExists:   flightsql.TableDefinitionOptionsTableExistsOptionAppend,
		},
	})
	if rerr := rdr.Err(); rerr != nil {
		return n, rerr // the reason, not the cancellation it caused
	}
	return n, err
}

// cancelOnError cancels a call the moment its reader ends with an error.
type cancelOnError struct {
	array.RecordReader
	cancel context.CancelFunc
}

func (r *cancelOnError) Next() bool {
	if r.RecordReader.Next() {
		return true
	}
	if r.RecordReader.Err() != nil {
		r.cancel()
	}
	return false
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
