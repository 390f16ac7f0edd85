package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of quiver",
		Args:  noArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			arrow := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, m := range bi.Deps {
					if m.Path == "github.com/apache/arrow-go/v18" {
						arrow = m.Version
					}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "quiver %s (%s, arrow-go %s, %s/%s)\n", version, runtime.Version(), arrow, runtime.GOOS, runtime.GOARCH)
		},
	}
}
