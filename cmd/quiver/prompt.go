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

	"github.com/chzyer/readline"
	"github.com/spf13/cobra"
)

// prompt is the interactive SQL prompt on the terminal.
func prompt(cmd *cobra.Command, s *session, so sqlOptions) error {
	cfg := &readline.Config{}
	if dir, err := os.UserCacheDir(); err == nil {
		if err := os.MkdirAll(filepath.Join(dir, "quiver"), 0o700); err == nil {
			cfg.HistoryFile = filepath.Join(dir, "quiver", "sql_history")
		}
	}
	return runPrompt(cfg, s, so)
}

// runPrompt reads statements with readline configured by cfg (whose input and
// terminal test tests replace) until \q or end of input. Each statement runs with its
// own context, so Ctrl-C stops the running query and not the prompt. A statement of
// several lines is one history entry.
func runPrompt(cfg *readline.Config, s *session, so sqlOptions) error {
	completer := &sqlCompleter{load: s.loadCompletionWords}
	cfg.Prompt = "quiver> "
	cfg.InterruptPrompt = "^C"
	cfg.EOFPrompt = `\q`
	cfg.AutoComplete = completer
	cfg.DisableAutoSaveHistory = true
	rl, err := readline.NewEx(cfg)
	if err != nil {
		return err
	}
	defer rl.Close()
	fmt.Fprintf(rl.Stderr(), "Connected to %s. End statements with ;  Tab completes, \\d lists datasets, \\q quits.\n", s.opts.server)
	var buf strings.Builder
	var lines []string // the lines of the statement in buf, for its history entry
	for {
		line, err := rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			buf.Reset()
			lines = nil
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
			if strings.HasPrefix(trimmed, `\`) || trimmed == "exit" || trimmed == "quit" {
				rl.SaveHistory(trimmed)
			}
			switch {
			case trimmed == "":
				continue
			case trimmed == `\q` || (buf.Len() == 0 && (trimmed == "exit" || trimmed == "quit")):
				return nil
			case trimmed == `\refresh`:
				completer.refresh()
				fmt.Fprintln(rl.Stderr(), "(names for Tab reloaded at the next Tab)")
				continue
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
			case strings.HasPrefix(trimmed, `\`):
				fmt.Fprintf(rl.Stderr(), "unknown command %s: \\d [NAME], \\refresh, \\q\n", trimmed)
				continue
			}
		}
		buf.WriteString(line)
		buf.WriteString("\n")
		lines = append(lines, trimmed)
		if !statementComplete(buf.String()) {
			rl.SetPrompt("   ...> ")
			continue
		}
		script := buf.String()
		rl.SaveHistory(strings.Join(lines, " "))
		buf.Reset()
		lines = nil
		rl.SetPrompt("quiver> ")
		for _, st := range splitStatements(script) {
			failed := false
			runPromptCommand(rl, s, func(ctx context.Context) error {
				err := runQuery(ctx, rl.Stdout(), rl.Stderr(), s, st.text, so)
				failed = err != nil
				return err
			})
			if changesTables(st.text) {
				completer.refresh()
			}
			if failed {
				break // the rest of the line depended on it, as in a script
			}
		}
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
