package integration

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// update rewrites golden files under testdata/ with what the tests produce:
//
//	go test -tags duckdb_arrow ./integration -run TestName -update
var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// checkGolden compares got with testdata/name, or writes it there with -update.
func checkGolden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from what the server reports; if the change is intended, run with -update and review the diff.\ngot:\n%s", path, got)
	}
}
