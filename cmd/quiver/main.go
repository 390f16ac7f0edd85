// Command quiver stores Parquet datasets and serves them over Arrow Flight and Arrow
// Flight SQL. `quiver serve` runs the server; the other subcommands are its clients.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		msg, code := explain(err, dialedServer)
		fmt.Fprintln(os.Stderr, "quiver:", msg)
		os.Exit(code)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "quiver",
		Short: "Parquet datasets over Arrow Flight and Flight SQL",
		Long: `Quiver stores Apache Parquet datasets in a directory and serves them over
Apache Arrow Flight (list, describe, put, get, drop) and Arrow Flight SQL, where
every dataset is a table that an embedded DuckDB queries.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	// --version prints what `quiver version` prints.
	root.SetVersionTemplate(readBuildInfo().String() + "\n")
	root.AddCommand(newServeCommand())
	root.AddCommand(newAuthCommand())
	root.AddCommand(newLsCommand(), newInfoCommand(), newPutCommand(), newGetCommand(),
		newSQLCommand(), newDropCommand(), newVersionCommand())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%v (see %s --help)", err, c.CommandPath())
	})
	return root
}
