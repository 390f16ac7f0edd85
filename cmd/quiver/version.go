package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	bindings "github.com/duckdb/duckdb-go-bindings"
	"github.com/spf13/cobra"
)

// version is the release version. Releases set it, and optionally the commit, at
// build time:
//
//	go build -tags duckdb_arrow -ldflags "-X main.version=v1.2.0 -X main.commit=abc1234" ./cmd/quiver
var version = "dev"

// commit overrides the VCS revision the Go toolchain records (vcs.revision), for
// builds made outside a checkout (a source tarball).
var commit = ""

// buildInfo is what `quiver version` and `quiver --version` print about the binary.
type buildInfo struct {
	Version  string
	Commit   string // "" when unknown (go run, a build outside a checkout)
	Modified bool   // built from a work tree with uncommitted changes
	Go       string
	Arrow    string
	DuckDB   string // the linked library's version and how it is linked: "v1.5.6 static"
	Platform string
}

// readBuildInfo gathers the build facts: the ldflags values first, then what the
// toolchain stamped into the binary (runtime/debug.ReadBuildInfo).
func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Go: runtime.Version(), Arrow: "unknown",
		DuckDB: bindings.LibraryVersion() + " " + duckdbLink, Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	for _, m := range bi.Deps {
		if m.Path == "github.com/apache/arrow-go/v18" {
			b.Arrow = m.Version
		}
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if commit == "" {
				b.Commit = s.Value
			}
		case "vcs.modified":
			if commit == "" {
				b.Modified = s.Value == "true"
			}
		}
	}
	return b
}

// String is the one-line version: "quiver v1.2.0 (commit 0123456789ab, go1.25, ...)".
// The DuckDB part names the library linked in, so a deployment can tell the default
// static build from one linked against DuckDB's release libduckdb.so.
func (b buildInfo) String() string {
	rev := "commit unknown"
	if b.Commit != "" {
		c := b.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		rev = "commit " + c
		if b.Modified {
			rev += "+modified"
		}
	}
	duckdb := ""
	if b.DuckDB != "" {
		duckdb = ", duckdb " + b.DuckDB
	}
	return fmt.Sprintf("quiver %s (%s, %s, arrow-go %s%s, %s)", b.Version, rev, b.Go, b.Arrow, duckdb, b.Platform)
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of quiver and the commit it was built from",
		Args:  noArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), readBuildInfo())
		},
	}
}
