package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/spf13/cobra"

	"github.com/quiverdata/quiver/cmd/quiver/internal/fileformat"
)

type sqlOptions struct {
	format  string
	maxRows int64
	file    string // -f: a script to run
}

func newSQLCommand() *cobra.Command {
	var o clientOptions
	var so sqlOptions
	cmd := &cobra.Command{
		Use:   `sql ["SELECT ..."]`,
		Short: "Run a SQL query, or open a SQL prompt",
		Long: `Run a read-only SQL query through Flight SQL and print the result. Every dataset is a
table named after the dataset without its .parquet suffix: sales.parquet is sales.

--format table (the default) prints an aligned table as DuckDB's CLI does: column
types under the names, numbers as DuckDB prints them, and for a result longer than
--max-rows its first and last rows with the total row count. csv, json (one object
per line) and arrow (an Arrow IPC stream, not to a terminal) print every row. Every
format streams with bounded memory.

A query, a script (-f FILE) or stdin may hold several statements separated by ;
(a ; inside a string, a quoted name, a $$ body or a comment does not count). They
run one by one; the first that fails stops the script, names the statement and its
line, and the exit code is not 0.

Without a query, with stdin a terminal, it opens a prompt with history (in the user
cache directory): end a statement with ;, Tab completes table and column names and
keywords, \d lists datasets, \refresh reloads the names for Tab, \q quits. With stdin
not a terminal, the statements are read from stdin.`,
		Example: `  quiver sql "SELECT region, sum(amount) FROM sales GROUP BY region"
  quiver sql "SELECT * FROM sales" --format csv > sales.csv
  quiver sql -f report.sql
  quiver sql`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := parseSQLFormat(so.format); err != nil {
				return err
			}
			if so.maxRows < 0 {
				return usageErrorf("--max-rows %d: want 0 (all rows) or more", so.maxRows)
			}
			ctx, cancel := commandContext(cmd)
			defer cancel()
			s, err := connect(ctx, &o)
			if err != nil {
				return err
			}
			defer s.Close()
			var query, source string
			switch {
			case so.file != "" && len(args) == 1:
				return usageErrorf("give a query or -f FILE, not both")
			case so.file != "":
				b, err := os.ReadFile(so.file)
				if err != nil {
					return usageErrorf("-f: %v", err)
				}
				query, source = string(b), so.file
			case len(args) == 1 && args[0] != "-":
				query, source = args[0], "query"
			case len(args) == 0 && isTerminal(os.Stdin):
				cancel() // the prompt cancels queries itself, one at a time
				return prompt(cmd, s, so)
			default:
				b, err := io.ReadAll(os.Stdin)
				if err != nil {
					return err
				}
				query, source = string(b), "stdin"
			}
			return runScript(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), s, source, query, so)
		},
	}
	addClientFlags(cmd, &o)
	f := cmd.Flags()
	f.StringVar(&so.format, "format", "table", "output format: table, csv, json or arrow")
	f.StringVarP(&so.file, "file", "f", "", "run the SQL statements in FILE, one by one")
	f.Int64Var(&so.maxRows, "max-rows", 40, "rows a table shows at most: the first and last half of them; 0 shows all (held in memory)")
	cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"table", "csv", "json", "arrow"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func parseSQLFormat(s string) (string, error) {
	switch s {
	case "table", "csv", "json", "arrow":
		return s, nil
	}
	return "", usageErrorf("--format %q: want table, csv, json or arrow", s)
}

// runScript runs the statements of script one by one and stops at the first that
// fails; the error names source, the statement's number and its line.
func runScript(ctx context.Context, out, errOut io.Writer, s *session, source, script string, so sqlOptions) error {
	stmts := splitStatements(script)
	switch {
	case len(stmts) == 0:
		return usageErrorf("no query: quiver sql \"SELECT ...\" or quiver sql -f FILE")
	case len(stmts) > 1 && so.format == "arrow":
		return usageErrorf("--format arrow writes one result: %s holds %d statements", source, len(stmts))
	}
	for i, st := range stmts {
		if err := runQuery(ctx, out, errOut, s, st.text, so); err != nil {
			if len(stmts) == 1 && source == "query" {
				return err
			}
			return fmt.Errorf("%s:%d: statement %d of %d: %w", source, st.line, i+1, len(stmts), err)
		}
	}
	return nil
}

// runQuery executes query with Flight SQL and writes the result to out.
func runQuery(ctx context.Context, out, errOut io.Writer, s *session, query string, so sqlOptions) error {
	query = strings.TrimSuffix(strings.TrimSpace(query), ";")
	if so.format == "arrow" && out == os.Stdout && isTerminal(os.Stdout) {
		return usageErrorf("not writing an Arrow IPC stream to a terminal: pipe it somewhere")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the server's stream when the table is full
	info, err := s.sql().Execute(ctx, query)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	var schema *arrow.Schema
	if len(info.GetSchema()) > 0 {
		if schema, err = flight.DeserializeSchema(info.GetSchema(), s.mem); err != nil {
			return fmt.Errorf("query: the result schema does not decode: %w", err)
		}
	}

	if so.format == "table" {
		return queryTable(ctx, out, errOut, s, info, schema, so.maxRows)
	}
	format := map[string]fileformat.Format{"csv": fileformat.CSV, "json": fileformat.JSONLines, "arrow": fileformat.ArrowStream}[so.format]
	var w fileformat.Writer
	for _, ep := range info.GetEndpoint() {
		_, err := readTicket(ctx, s.fc, ep.GetTicket(), func(rdr array.RecordReader) error {
			if w == nil {
				if w, err = fileformat.NewWriter(out, format, rdr.Schema(), s.mem); err != nil {
					return err
				}
			}
			for rdr.Next() {
				if err := w.Write(rdr.RecordBatch()); err != nil {
					return err
				}
			}
			return rdr.Err()
		})
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
	}
	if w == nil {
		if schema == nil {
			return nil
		}
		if w, err = fileformat.NewWriter(out, format, schema, s.mem); err != nil {
			return err
		}
	}
	return w.Close()
}

// queryTable prints the result as an aligned table: every row when the result has at
// most maxRows rows, else the first and last rows, then the row count. It reads the
// whole result to count it but holds at most maxRows rows (0: all of them).
func queryTable(ctx context.Context, out, errOut io.Writer, s *session, info *flight.FlightInfo, schema *arrow.Schema, maxRows int64) error {
	var rt *resultTable
	for _, ep := range info.GetEndpoint() {
		_, err := readTicket(ctx, s.fc, ep.GetTicket(), func(rdr array.RecordReader) error {
			if rt == nil {
				rt = newResultTable(rdr.Schema(), schema, maxRows)
			}
			for rdr.Next() {
				rt.add(rdr.RecordBatch())
			}
			return rdr.Err()
		})
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
	}
	if rt == nil {
		if schema == nil {
			fmt.Fprintln(errOut, "(no result)")
			return nil
		}
		rt = newResultTable(schema, schema, maxRows)
	}
	rt.render(out)
	if rt.truncated() {
		fmt.Fprintf(errOut, "(%s (%d shown); --max-rows 0 shows all, --format csv streams them)\n", plural(rt.rows, "row", "rows"), rt.shown())
	} else {
		fmt.Fprintf(errOut, "(%s)\n", plural(rt.rows, "row", "rows"))
	}
	return nil
}
