package main

import (
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

func newLsCommand() *cobra.Command {
	var o clientOptions
	var format string
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the datasets on the server",
		Long: `List the datasets on the server: name, rows, size on disk, number of columns and
when it last changed.

--format table (the default) is for people; csv and json (one object per line, sizes
in bytes, times in RFC 3339) are for scripts.`,
		Example: `  quiver ls
  quiver ls --format json | jq -r .name`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := parseListFormat(format)
			if err != nil {
				return err
			}
			ctx, cancel := commandContext(cmd)
			defer cancel()
			s, err := connect(ctx, &o)
			if err != nil {
				return err
			}
			defer s.Close()
			all, err := s.list(ctx)
			if err != nil {
				return err
			}
			header := []string{"name", "rows", "size", "columns", "modified"}
			var rows [][]string
			var objs []map[string]any
			for _, d := range all {
				cols := 0
				if d.Schema != nil {
					cols = d.Schema.NumFields()
				}
				size, mod := strconv.FormatInt(d.Bytes, 10), ""
				if f == formatTable {
					size = humanBytes(d.Bytes)
				}
				if !d.Modified.IsZero() {
					mod = d.Modified.UTC().Format(time.RFC3339)
					if f == formatTable {
						mod = d.Modified.Local().Format("2006-01-02 15:04:05")
					}
				}
				rows = append(rows, []string{d.Name, strconv.FormatInt(d.Rows, 10), size, strconv.Itoa(cols), mod})
				obj := map[string]any{"name": d.Name, "rows": d.Rows, "bytes": d.Bytes, "columns": cols}
				if mod != "" {
					obj["modified"] = mod
				}
				objs = append(objs, obj)
			}
			if f == formatTable && len(all) == 0 {
				cmd.PrintErrln("no datasets yet: `quiver put NAME FILE` adds one")
				return nil
			}
			if f == formatCSV {
				header[2] = "bytes"
			}
			return rowsOut(cmd.OutOrStdout(), f, header, rows, objs, 2, 3, 4)
		},
	}
	addClientFlags(cmd, &o)
	cmd.Flags().StringVarP(&format, "format", "f", "table", "output format: table, csv or json")
	cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"table", "csv", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// noArgs is cobra.NoArgs as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q (see %s --help)", cmd.CommandPath(), args, cmd.CommandPath())
	}
	return nil
}

// exactArgs is cobra.ExactArgs as a usage error naming what is expected.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("usage: %s %s (see %s --help)", cmd.CommandPath(), what, cmd.CommandPath())
		}
		return nil
	}
}
