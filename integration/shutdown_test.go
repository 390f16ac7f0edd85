package integration

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestBinarySIGTERMWithStuckQuery: DuckDB 1.5.6 ignores interrupts while it sets up
// a reader of deeply nested lists (about 8 s at depth 25, exponential beyond). The
// engine makes no view of such a file, but read_parquet over it reaches the same
// code, and stands in for any construct DuckDB does not interrupt. SIGTERM must still
// end the server within its grace period plus the 2 s stop margin: the stuck query
// is logged at error level and the process exits non-zero.
func TestBinarySIGTERMWithStuckQuery(t *testing.T) {
	const grace = time.Second
	root := t.TempDir()
	deep := deepRecord(memory.DefaultAllocator, 25)
	defer deep.Release()
	path := filepath.Join(root, "deep.parquet")
	writeParquetFile(t, path, deep)

	p := startQuiver(t, t.TempDir(), "--root", root, "--addr", "127.0.0.1:0",
		"--shutdown-grace", grace.String(), "--query-timeout", "500ms", "--threads", "1")
	cl, err := fsql.NewClient(p.addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	queried := make(chan error, 1)
	go func() {
		_, err := runQuery(context.Background(), cl, "SELECT * FROM read_parquet('"+path+"')")
		queried <- err
	}()
	// The query is inside DuckDB's reader setup once its DoGet has started; the
	// query timeout (500ms) has passed without stopping it by the time of the signal.
	time.Sleep(1500 * time.Millisecond)
	select {
	case err := <-queried:
		t.Fatalf("the query ended before the signal (%v): DuckDB got faster; deepen the file", err)
	default:
	}

	err, took := p.terminate(t, grace+30*time.Second)
	t.Logf("exit after %v: %v", took, err)
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
		t.Errorf("exit: %v, want exit status 1", err)
	}
	if limit := grace + 2*time.Second + 1500*time.Millisecond; took > limit {
		t.Errorf("took %v to exit after SIGTERM, want under %v (grace %v + stop margin 2s + slack)", took, limit, grace)
	}
	log := p.logText()
	for _, want := range []string{"level=ERROR", "still running in DuckDB at shutdown", "deep.parquet", "shutdown incomplete"} {
		if !strings.Contains(log, want) {
			t.Errorf("log does not say %q:\n%s", want, log)
		}
	}
	if err := <-queried; err == nil {
		t.Error("the stuck query succeeded; want it cut off")
	}
}
