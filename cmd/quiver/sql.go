package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/chzyer/readline"
	"github.com/spf13/cobra"

	"github.com/quiverdata/quiver/cmd/quiver/internal/fileformat"
)

type sqlOptions struct {
	format  string
	maxRows int64
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

Without a query, with stdin a terminal, it opens a prompt with history (in the user
cache directory): end a statement with ;, \d lists datasets, \q quits. With stdin
not a terminal, the query is read from stdin.`,
		Example: `  quiver sql "SELECT region, sum(amount) FROM sales GROUP BY region"
  quiver sql "SELECT * FROM sales" --format csv > sales.csv
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
			var query string
			switch {
			case len(args) == 1 && args[0] != "-":
				query = args[0]
			case len(args) == 0 && isTerminal(os.Stdin):
				cancel() // the prompt cancels queries itself, one at a time
				return prompt(cmd, s, so)
			default:
				b, err := io.ReadAll(os.Stdin)
				if err != nil {
					return err
				}
				query = string(b)
			}
			if strings.TrimSpace(query) == "" {
				return usageErrorf("no query: quiver sql \"SELECT ...\"")
			}
			return runQuery(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), s, query, so)
		},
	}
	addClientFlags(cmd, &o)
	f := cmd.Flags()
	f.StringVarP(&so.format, "format", "f", "table", "output format: table, csv, json or arrow")
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

// prompt is the interactive SQL prompt. Each statement runs with its own context, so
// Ctrl-C stops the running query and not the prompt.
func prompt(cmd *cobra.Command, s *session, so sqlOptions) error {
	cfg := &readline.Config{
		Prompt:          "quiver> ",
		InterruptPrompt: "^C",
		EOFPrompt:       `\q`,
	}
	if dir, err := os.UserCacheDir(); err == nil {
		if err := os.MkdirAll(filepath.Join(dir, "quiver"), 0o700); err == nil {
			cfg.HistoryFile = filepath.Join(dir, "quiver", "sql_history")
		}
	}
	rl, err := readline.NewEx(cfg)
	if err != nil {
		return err
	}
	defer rl.Close()
	fmt.Fprintf(rl.Stderr(), "Connected to %s. End statements with ;  \\d lists datasets, \\q quits.\n", s.opts.server)
	var buf strings.Builder
	for {
		line, err := rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			buf.Reset()
			rl.SetPrompt("quiver> ")
			continue
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		trimmed := strings.TrimSpace(line)
		// Backslash commands work anywhere, also inside an unfinished statement.
		if buf.Len() == 0 || strings.HasPrefix(trimmed, `\`) {
			switch {
			case trimmed == "":
				continue
			case trimmed == `\q` || (buf.Len() == 0 && (trimmed == "exit" || trimmed == "quit")):
				return nil
			case trimmed == `\d`:
				runPromptCommand(rl, s, func(ctx context.Context) error {
					all, err := s.list(ctx)
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(rl.Stdout(), 0, 4, 2, ' ', 0)
					for _, d := range all {
						fmt.Fprintf(tw, "%s\ttable %s\t%s\n", d.Name, tableName(d.Name), plural(d.Rows, "row", "rows"))
					}
					return tw.Flush()
				})
				continue
			case strings.HasPrefix(trimmed, `\d `):
				name := strings.TrimSpace(strings.TrimPrefix(trimmed, `\d `))
				runPromptCommand(rl, s, func(ctx context.Context) error {
					d, err := s.stat(ctx, name)
					if err != nil {
						return err
					}
					info := &cobra.Command{}
					info.SetOut(rl.Stdout())
					return printInfo(info, formatTable, d)
				})
				continue
			}
		}
		buf.WriteString(line)
		buf.WriteString("\n")
		if !strings.HasSuffix(trimmed, ";") {
			rl.SetPrompt("   ...> ")
			continue
		}
		query := buf.String()
		buf.Reset()
		rl.SetPrompt("quiver> ")
		runPromptCommand(rl, s, func(ctx context.Context) error {
			return runQuery(ctx, rl.Stdout(), rl.Stderr(), s, query, so)
		})
	}
}

// runPromptCommand runs f until it ends or Ctrl-C, and prints its error.
func runPromptCommand(rl *readline.Instance, s *session, f func(context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := f(ctx); err != nil {
		msg, _ := explain(err, s.opts.server)
		fmt.Fprintln(rl.Stderr(), "error:", msg)
	}
}
