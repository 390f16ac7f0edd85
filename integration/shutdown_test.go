package integration

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestBinarySIGTERMWithStuckQuery: DuckDB 1.5.6 checks for interrupts between chunks,
// not inside one scalar function call, so a single expensive call cannot be stopped:
// levenshtein of two 100,000-character strings runs about 18 s here whatever the
// query timeout (40,000 characters: 2.9 s under a 300 ms timeout). It stands in for
// any construct DuckDB does not interrupt (deeply nested Parquet lists were one; the
// sandbox now refuses those). SIGTERM must still end the server within its grace
// period plus the 2 s stop margin: the stuck query is logged at error level and the
// process exits non-zero.
func TestBinarySIGTERMWithStuckQuery(t *testing.T) {
	const grace = time.Second
	p := newBinaryRoot(t).serve(t,
		"--shutdown-grace", grace.String(), "--query-timeout", "500ms", "--threads", "1")
	cl, err := fsql.NewClient(p.addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	queried := make(chan error, 1)
	go func() {
		_, err := runQuery(context.Background(), cl, "SELECT levenshtein(repeat('a', 100000), repeat('b', 100000)) AS d")
		queried <- err
	}()
	// The query is inside the one levenshtein call once its DoGet has started; the
	// query timeout (500ms) has passed without stopping it by the time of the signal.
	time.Sleep(1500 * time.Millisecond)
	select {
	case err := <-queried:
		t.Fatalf("the query ended before the signal (%v): DuckDB got faster or learnt to interrupt it; lengthen the strings", err)
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
	for _, want := range []string{"level=ERROR", "still running in DuckDB at shutdown", "levenshtein", "shutdown incomplete"} {
		if !strings.Contains(log, want) {
			t.Errorf("log does not say %q:\n%s", want, log)
		}
	}
	if err := <-queried; err == nil {
		t.Error("the stuck query succeeded; want it cut off")
	}
}
