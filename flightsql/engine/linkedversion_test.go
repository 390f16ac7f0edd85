//go:build duckdb_arrow

package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	bindings "github.com/duckdb/duckdb-go-bindings"
)

// bindingsModule is the module whose C declarations the engine is compiled against.
const bindingsModule = "github.com/duckdb/duckdb-go-bindings"

// TestLinkedDuckDBVersion checks that the DuckDB library in this binary is the version
// the duckdb-go-bindings module in go.mod declares its C API for. With the default build
// that library is the module's own static one; built with the tag duckdb_use_lib (see
// tools/libduckdb.sh) it is whatever libduckdb.so the linker and the rpath found, and a
// library of another version would be called through declarations that do not match it.
func TestLinkedDuckDBVersion(t *testing.T) {
	modVersion, err := requiredVersion(filepath.Join("..", "..", "go.mod"), bindingsModule)
	if err != nil {
		t.Fatal(err)
	}
	want, err := duckdbVersionOfBindings(modVersion)
	if err != nil {
		t.Fatal(err)
	}
	if got := bindings.LibraryVersion(); got != want {
		t.Fatalf("linked DuckDB library reports %s; %s %s is built for %s", got, bindingsModule, modVersion, want)
	}
}

// requiredVersion returns the version go.mod at path requires of module. Test binaries
// carry no module information (debug.ReadBuildInfo lists no dependencies), so the test
// reads go.mod itself.
func requiredVersion(path, module string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading go.mod: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(fields) >= 2 && fields[0] == module {
			return fields[1], nil
		}
	}
	return "", fmt.Errorf("%s requires no %s", path, module)
}

// duckdbVersionOfBindings maps a duckdb-go-bindings module version to the DuckDB
// release it wraps: v0.MMmmpp.x is DuckDB vM.mm.pp (v0.10506.0 is v1.5.6, v0.20000.0
// is v2.0.0).
func duckdbVersionOfBindings(modVersion string) (string, error) {
	parts := strings.SplitN(strings.TrimPrefix(modVersion, "v"), ".", 3)
	if len(parts) != 3 || parts[0] != "0" {
		return "", fmt.Errorf("%s version %q is not of the form v0.MMmmpp.x", bindingsModule, modVersion)
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || n < 10000 {
		return "", fmt.Errorf("%s version %q is not of the form v0.MMmmpp.x", bindingsModule, modVersion)
	}
	return fmt.Sprintf("v%d.%d.%d", n/10000, n/100%100, n%100), nil
}

func TestDuckDBVersionOfBindings(t *testing.T) {
	for _, c := range []struct{ mod, want string }{
		{"v0.10506.0", "v1.5.6"},
		{"v0.10500.0", "v1.5.0"},
		{"v0.20000.0", "v2.0.0"},
		{"v0.20000.0-3.preview", "v2.0.0"},
	} {
		got, err := duckdbVersionOfBindings(c.mod)
		if err != nil || got != c.want {
			t.Errorf("duckdbVersionOfBindings(%q) = %q, %v; want %q", c.mod, got, err, c.want)
		}
	}
	for _, bad := range []string{"v0.3.1", "v1.0.0", "v0.x.0", ""} {
		if got, err := duckdbVersionOfBindings(bad); err == nil {
			t.Errorf("duckdbVersionOfBindings(%q) = %q, want an error", bad, got)
		}
	}
}
