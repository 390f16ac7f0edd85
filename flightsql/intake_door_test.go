package flightsql

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Client batches enter through the intake only: no other file of the package
// builds an IPC reader, and every handler that is handed arrow-go's reader of a
// client stream wraps it (newIntakeReader, or collectParams, which does) or ignores
// it. A new handler that reads client data some other way fails here.
func TestOnlyIntakeDecodesClientStreams(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	readers := regexp.MustCompile(`flight\.NewRecordReader|ipc\.NewReader|ipc\.NewReaderFromMessageReader`)
	// A handler taking a flight.MessageReader, and its body up to the next top-level func.
	handler := regexp.MustCompile(`(?s)\nfunc \([^)]*\) (\w+)\([^)]*\b(\w+) flight\.MessageReader[^{]*\{(.*?)\n}\n`)
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || strings.HasPrefix(f, "intake") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		if loc := readers.FindStringIndex(src); loc != nil {
			t.Errorf("%s builds an IPC reader (%s): client streams are read through the intake (intake.go)", f, src[loc[0]:loc[1]])
		}
		for _, m := range handler.FindAllStringSubmatch(src, -1) {
			name, rdr, body := m[1], m[2], m[3]
			found++
			if rdr == "_" {
				continue
			}
			if !strings.Contains(body, "newIntakeReader("+rdr+", ") && !strings.Contains(body, "collectParams(") {
				t.Errorf("%s: %s reads its flight.MessageReader %q without the intake (newIntakeReader)", f, name, rdr)
			}
		}
	}
	if found < 2 { // ingest and parameter binding at least: the pattern still matches
		t.Errorf("found %d handlers taking a flight.MessageReader, want at least 2", found)
	}
}
