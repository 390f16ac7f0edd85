package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// On a terminal, put --replace asks first and shows the dataset's shape before and
// after; --yes skips the question; declining changes nothing.
func TestPutReplaceAsksOnATerminal(t *testing.T) {
	r := startServe(t, opsOptions{})
	server := "grpc://" + r.grpcAddr
	dir := t.TempDir()
	first := filepath.Join(dir, "first.csv")
	second := filepath.Join(dir, "second.csv")
	if err := os.WriteFile(first, []byte("a,b\n1,x\n2,y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(second, []byte("a,b,c\n1,x,true\n2,y,false\n3,z,true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runQuiver(t, "", "put", "d", first, "-s", server, "--progress", "never"); err != nil {
		t.Fatalf("put: %v %s", err, stderr)
	}

	asked := 0
	saved := stdinIsTerminal
	stdinIsTerminal = func(*cobra.Command) bool { asked++; return true }
	t.Cleanup(func() { stdinIsTerminal = saved })

	_, stderr, err := runQuiver(t, "n\n", "put", "d", second, "--replace", "-s", server, "--progress", "never")
	if err != errNotReplaced || !strings.Contains(stderr, `Replace dataset "d" (2 rows, 2 columns)? [y/N]`) {
		t.Errorf("declined: err %v, stderr %q", err, stderr)
	}
	_, stderr, err = runQuiver(t, "y\n", "put", "d", second, "--replace", "-s", server, "--progress", "never")
	if err != nil || !strings.Contains(stderr, "replaced d: 3 rows, 3 columns (was 2 rows, 2 columns)") {
		t.Errorf("accepted: err %v, stderr %q", err, stderr)
	}
	before := asked
	_, stderr, err = runQuiver(t, "", "put", "d", first, "--replace", "--yes", "-s", server, "--progress", "never")
	if err != nil || strings.Contains(stderr, "[y/N]") || asked != before || !strings.Contains(stderr, "replaced d: 2 rows, 2 columns (was 3 rows, 3 columns)") {
		t.Errorf("--yes: err %v, asked %d times, stderr %q", err, asked-before, stderr)
	}
	// drop asks through the same door.
	_, stderr, err = runQuiver(t, "no\n", "drop", "d", "-s", server)
	if err != errNotConfirmed || !strings.Contains(stderr, `Drop dataset "d" (2 rows`) {
		t.Errorf("drop declined: err %v, stderr %q", err, stderr)
	}
}

// anyHas reports whether c or any command under it has the flag name.
func anyHas(c *cobra.Command, name string) bool {
	if c.Flags().Lookup(name) != nil || c.PersistentFlags().Lookup(name) != nil || name == "help" || name == "version" {
		return true
	}
	for _, sub := range c.Commands() {
		if anyHas(sub, name) {
			return true
		}
	}
	return false
}

// Every --flag that a help text or an example names exists (on that command, on the
// command a "quiver X" before it names, or at least on some command), and every
// --flag that an error of put names is put's (put's errors once told people to use
// --format, which put does not have).
func TestFlagsNamedInTextsExist(t *testing.T) {
	flagRef := regexp.MustCompile(`(?:^|[\s(\x60'"/,])--([a-z][a-z0-9-]*)`)
	cmdRef := regexp.MustCompile(`quiver ([a-z]+(?: [a-z][a-z-]*)?)`)
	root := newRootCommand()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		var texts []string
		texts = append(texts, c.Short, c.Long, c.Example)
		c.Flags().VisitAll(func(f *pflag.Flag) { texts = append(texts, f.Usage) })
		for _, text := range texts {
			for _, line := range strings.Split(text, "\n") {
				for _, m := range flagRef.FindAllStringSubmatchIndex(line, -1) {
					name := line[m[2]:m[3]]
					// "quiver serve --auth-file" in another command's help is serve's flag.
					owner := c
					before := line[:m[0]+1]
					if refs := cmdRef.FindAllStringSubmatch(before, -1); len(refs) > 0 {
						if sub, _, err := root.Find(strings.Fields(refs[len(refs)-1][1])); err == nil && sub != root {
							owner = sub
						}
					} else if strings.HasSuffix(strings.TrimSpace(before), "server's") {
						owner, _, _ = root.Find([]string{"serve"})
					}
					// A cross-reference ("clients pass it as --tls-ca") is fine if some
					// command has the flag; the errors below are held to their own command.
					if owner.Flags().Lookup(name) == nil && owner.InheritedFlags().Lookup(name) == nil && !anyHas(root, name) {
						t.Errorf("%s: its help names --%s, which no command has", c.CommandPath(), name)
					}
				}
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)

	// The errors put gives name put's flags.
	put := newPutCommand()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"x", filepath.Join(dir, "noext")},
		{"x", "-"},
		{"x", filepath.Join(dir, "a.xlsx")},
	} {
		for _, p := range args[1:] {
			if p != "-" {
				os.WriteFile(p, []byte("a\n1\n"), 0o644)
			}
		}
		_, stderr, err := runQuiver(t, "", append([]string{"put"}, args...)...)
		msg, _ := explain(err, "")
		for _, m := range flagRef.FindAllStringSubmatch(msg, -1) {
			if put.Flags().Lookup(m[1]) == nil {
				t.Errorf("put %q: the error %q names --%s, which put does not have (%s)", args, msg, m[1], stderr)
			}
		}
		if !strings.Contains(msg, "--input-format") {
			t.Errorf("put %q: %q does not point to --input-format", args, msg)
		}
	}
}
