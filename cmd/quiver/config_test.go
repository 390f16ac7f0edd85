package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// envOf is a lookupEnv over a map.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// parseServe parses args with the serve command's own flags, then applies the
// environment env and the config file holding config (none when empty), as the
// command does before it runs, and returns the flag values it would run with.
func parseServe(t *testing.T, args []string, env map[string]string, config string) (func(name string) string, error) {
	t.Helper()
	cmd := newServeCommand()
	if config != "" {
		path := filepath.Join(t.TempDir(), "quiver.toml")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		if env == nil || env["QUIVER_CONFIG"] != "from-env" {
			args = append(args, "--config", path)
		} else {
			env["QUIVER_CONFIG"] = path
		}
	}
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	err := applyConfig(cmd.Flags(), envOf(env))
	return func(name string) string { return cmd.Flags().Lookup(name).Value.String() }, err
}

func TestConfigPrecedence(t *testing.T) {
	const file = `
root = "/from/file"
query-timeout = "1m"
threads = 3
grpc_reflection = true
metrics-addr = "127.0.0.1:9100"
`
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		file string
		// want
		root     string
		timeout  time.Duration
		threads  int
		reflect  bool
		metrics  string
		logLevel string
	}{
		{name: "defaults", root: "./datasets", timeout: 5 * time.Minute, logLevel: "info"},
		{name: "file over defaults", file: file,
			root: "/from/file", timeout: time.Minute, threads: 3, reflect: true, metrics: "127.0.0.1:9100", logLevel: "info"},
		{name: "env over file", file: file, env: map[string]string{"QUIVER_ROOT": "/from/env", "QUIVER_QUERY_TIMEOUT": "2m", "QUIVER_GRPC_REFLECTION": "false"},
			root: "/from/env", timeout: 2 * time.Minute, threads: 3, reflect: false, metrics: "127.0.0.1:9100", logLevel: "info"},
		{name: "flag over env over file", file: file, env: map[string]string{"QUIVER_ROOT": "/from/env", "QUIVER_THREADS": "5"},
			args: []string{"--root", "/from/flag", "--query-timeout", "3m"},
			root: "/from/flag", timeout: 3 * time.Minute, threads: 5, reflect: true, metrics: "127.0.0.1:9100", logLevel: "info"},
		{name: "flag set to its default still wins", file: file, env: map[string]string{"QUIVER_ROOT": "/from/env"},
			args: []string{"--root", "./datasets", "--threads", "0"},
			root: "./datasets", timeout: time.Minute, threads: 0, reflect: true, metrics: "127.0.0.1:9100", logLevel: "info"},
		{name: "env without file", env: map[string]string{"QUIVER_LOG_LEVEL": "debug", "QUIVER_METRICS_ADDR": ":9200"},
			root: "./datasets", timeout: 5 * time.Minute, metrics: ":9200", logLevel: "debug"},
		{name: "empty env is unset", file: file, env: map[string]string{"QUIVER_ROOT": ""},
			root: "/from/file", timeout: time.Minute, threads: 3, reflect: true, metrics: "127.0.0.1:9100", logLevel: "info"},
		{name: "config path from QUIVER_CONFIG", file: file, env: map[string]string{"QUIVER_CONFIG": "from-env"},
			root: "/from/file", timeout: time.Minute, threads: 3, reflect: true, metrics: "127.0.0.1:9100", logLevel: "info"},
		{name: "unrelated QUIVER_ variables are ignored", env: map[string]string{"QUIVER_SERVER": "grpc://x:1", "QUIVER_BIN": "/bin/quiver"},
			root: "./datasets", timeout: 5 * time.Minute, logLevel: "info"},
	} {
		t.Run(c.name, func(t *testing.T) {
			flag, err := parseServe(t, c.args, c.env, c.file)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{flag("root"), flag("query-timeout"), flag("threads"), flag("grpc-reflection"), flag("metrics-addr"), flag("log-level")}
			want := []string{c.root, c.timeout.String(), strconv.Itoa(c.threads), strconv.FormatBool(c.reflect), c.metrics, c.logLevel}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("got %v, want %v (root, query-timeout, threads, grpc-reflection, metrics-addr, log-level)", got, want)
					break
				}
			}
		})
	}
}

// TestConfigCoversEveryFlag sets every serve flag from a config file, so a flag
// added later is covered too: the file is written from the flag set itself.
func TestConfigCoversEveryFlag(t *testing.T) {
	cmd := newServeCommand()
	var b strings.Builder
	var names []string
	for _, name := range flagNames(cmd.Flags()) {
		f := cmd.Flags().Lookup(name)
		// Its default, as a string: every flag type parses its own String().
		b.WriteString(name + " = " + strconv.Quote(f.Value.String()) + "\n")
		names = append(names, name)
	}
	_, err := parseServe(t, nil, nil, b.String())
	if err != nil {
		t.Fatalf("a config file with every flag: %v\n%s", err, b.String())
	}
	if len(names) < 11 {
		t.Errorf("only %d flags: %v", len(names), names)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name, file string
		env        map[string]string
		want       []string
	}{
		{name: "unknown key", file: "root = \"x\"\nroots = \"y\"\n", want: []string{`unknown key "roots"`, "the keys are the flags", "root, ", "query-timeout, "}},
		{name: "table", file: "[tls]\ncert = \"x\"\n", want: []string{`unknown key "tls"`}},
		{name: "config names config", file: `config = "other.toml"`, want: []string{`unknown key "config"`}},
		{name: "bad value", file: `query-timeout = "soon"`, want: []string{"query-timeout", "soon"}},
		{name: "number for a duration", file: `shutdown-grace = 10`, want: []string{"shutdown-grace", "missing unit"}},
		{name: "list for a scalar", file: `addr = ["a", "b"]`, want: []string{"addr", "a list"}},
		{name: "twice", file: "log-level = \"info\"\nlog_level = \"debug\"\n", want: []string{"set twice"}},
		{name: "not TOML", file: "root = \n", want: []string{"config file"}},
		{name: "bad env", env: map[string]string{"QUIVER_THREADS": "many"}, want: []string{`QUIVER_THREADS="many"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseServe(t, nil, c.env, c.file)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		cmd := newServeCommand()
		if err := cmd.ParseFlags([]string{"--config", filepath.Join(t.TempDir(), "nope.toml")}); err != nil {
			t.Fatal(err)
		}
		if err := applyConfig(cmd.Flags(), envOf(nil)); err == nil || !strings.Contains(err.Error(), "nope.toml") {
			t.Fatalf("missing config file: %v", err)
		}
	})
}

// TestServeCommandReadsConfig runs the cobra command itself: its PreRunE applies the
// config before RunE sees the options.
func TestServeCommandReadsConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.toml")
	if err := os.WriteFile(path, []byte(`log-format = "yaml"`), 0o600); err != nil {
		t.Fatal(err)
	}
	root := newRootCommand()
	root.SetArgs([]string{"serve", "--config", path})
	err := root.Execute()
	if err == nil || !strings.Contains(err.Error(), `--log-format "yaml"`) {
		t.Fatalf("serve with log-format from the config: %v, want the logger's refusal of yaml", err)
	}
}
