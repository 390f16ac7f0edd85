package main

import (
	"bytes"
	"strings"
	"testing"
)

// runRoot runs the root command with args and returns its stdout.
func runRoot(t *testing.T, args ...string) string {
	t.Helper()
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		t.Fatalf("quiver %s: %v", strings.Join(args, " "), err)
	}
	return out.String()
}

func TestVersionCommit(t *testing.T) {
	oldVersion, oldCommit := version, commit
	t.Cleanup(func() { version, commit = oldVersion, oldCommit })
	version, commit = "v1.2.3", "0123456789abcdef0123"

	got := runRoot(t, "version")
	if !strings.HasPrefix(got, "quiver v1.2.3 (commit 0123456789ab, go") || !strings.Contains(got, "arrow-go ") ||
		!strings.Contains(got, ", duckdb v") || !strings.Contains(got, " "+duckdbLink+", ") {
		t.Errorf("quiver version = %q, want the version, the commit's first 12 digits and the linked DuckDB", got)
	}
	if flag := runRoot(t, "--version"); flag != got {
		t.Errorf("quiver --version = %q, quiver version = %q: they should agree", flag, got)
	}
}

func TestVersionUnknownCommit(t *testing.T) {
	b := buildInfo{Version: "dev", Go: "go1.x", Arrow: "v18", Platform: "linux/amd64"}
	if got := b.String(); got != "quiver dev (commit unknown, go1.x, arrow-go v18, linux/amd64)" {
		t.Errorf("String() = %q", got)
	}
	b.Commit, b.Modified = "abc", true
	if got := b.String(); !strings.Contains(got, "commit abc+modified") {
		t.Errorf("String() = %q, want the modified mark", got)
	}
}
