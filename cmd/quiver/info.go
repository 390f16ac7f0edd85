package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/quiverdata/quiver/catalog"
)

func newInfoCommand() *cobra.Command {
	var o clientOptions
	var format string
	cmd := &cobra.Command{
		Use:   "info NAME",
		Short: "Show a dataset's schema and statistics",
		Long: `Show a dataset's schema and statistics: its SQL table name, rows, size on disk,
when it last changed, and each column's name, Arrow type and nullability.

--format json prints one object with the same facts, for scripts.`,
		Example: `  quiver info sales.parquet`,
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := parseListFormat(format)
			if err != nil {
				return err
			}
			ctx, cancel := commandContext(cmd)
			defer cancel()
			s, d, err := connectTo(ctx, &o, args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			return printInfo(cmd, f, d)
		},
		ValidArgsFunction: datasetNames(&o),
	}
	addClientFlags(cmd, &o)
	cmd.Flags().StringVarP(&format, "format", "f", "table", "output format: table, csv (the columns) or json")
	return cmd
}

func printInfo(cmd *cobra.Command, f listFormat, d dataset) error {
	w := cmd.OutOrStdout()
	header := []string{"column", "name", "type", "nullable"}
	var rows [][]string
	var cols []map[string]any
	if d.Schema != nil {
		for i, fld := range d.Schema.Fields() {
			rows = append(rows, []string{strconv.Itoa(i + 1), fld.Name, fld.Type.String(), strconv.FormatBool(fld.Nullable)})
			cols = append(cols, map[string]any{"name": fld.Name, "type": fld.Type.String(), "nullable": fld.Nullable})
		}
	}
	switch f {
	case formatJSON:
		obj := map[string]any{
			"name": d.Name, "table": catalog.TableName(d.Name),
			"rows": d.Rows, "bytes": d.Bytes, "columns": cols,
		}
		if !d.Modified.IsZero() {
			obj["modified"] = d.Modified.UTC().Format(time.RFC3339)
		}
		return rowsOut(w, formatJSON, nil, nil, []map[string]any{obj})
	case formatCSV:
		return rowsOut(w, formatCSV, header, rows, nil)
	}
	mod := "unknown"
	if !d.Modified.IsZero() {
		mod = d.Modified.Local().Format("2006-01-02 15:04:05 MST")
	}
	fmt.Fprintf(w, "Dataset:   %s\n", d.Name)
	fmt.Fprintf(w, "SQL table: %s\n", catalog.TableName(d.Name))
	fmt.Fprintf(w, "Rows:      %d\n", d.Rows)
	fmt.Fprintf(w, "Size:      %s (%d bytes of Parquet)\n", humanBytes(d.Bytes), d.Bytes)
	fmt.Fprintf(w, "Modified:  %s\n", mod)
	fmt.Fprintf(w, "Columns:   %d\n", len(rows))
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	return rowsOut(w, formatTable, header, rows, nil, 1)
}
