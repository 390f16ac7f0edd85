package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/spf13/cobra"
)

// errNotConfirmed is a drop the user declined at the prompt.
var errNotConfirmed = errors.New("not dropped")

func newDropCommand() *cobra.Command {
	var o clientOptions
	var yes bool
	cmd := &cobra.Command{
		Use:   "drop NAME",
		Short: "Delete a dataset",
		Long: `Delete a dataset from the server. There is no undo.

On a terminal it asks first, unless --yes. When stdin is not a terminal (a script, a
pipe) it does not ask.`,
		Example: `  quiver drop old.parquet
  quiver drop old.parquet --yes`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := commandContext(cmd)
			defer cancel()
			s, d, err := connectTo(ctx, &o, args[0])
			if err != nil {
				return err
			}
			defer s.Close()
			if !yes && stdinIsTerminal(cmd) {
				q := fmt.Sprintf("Drop dataset %q (%s, %s)? There is no undo. [y/N] ",
					d.Name, plural(d.Rows, "row", "rows"), humanBytes(d.Bytes))
				if !confirm(cmd, q) {
					return errNotConfirmed
				}
			}
			// d.Name, not the argument: that may have been the SQL table name.
			if err := dropDataset(ctx, s.fc, d.Name); err != nil {
				return fmt.Errorf("drop %q: %w", d.Name, err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "dropped %s\n", d.Name)
			return nil
		},
		ValidArgsFunction: datasetNames(&o),
	}
	addClientFlags(cmd, &o)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

// dropDataset runs the cookbook's drop_dataset action.
func dropDataset(ctx context.Context, fc flight.Client, name string) error {
	stream, err := fc.DoAction(ctx, &flight.Action{Type: "drop_dataset", Body: []byte(name)})
	if err != nil {
		return err
	}
	return drain(stream.Recv)
}
