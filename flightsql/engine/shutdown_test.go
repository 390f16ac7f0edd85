//go:build duckdb_arrow

package engine

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for a logger and a test to share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestShutdownGivesUpOnAStuckQuery: DuckDB checks for interrupts between chunks, not
// inside one scalar function call: levenshtein of two 40,000-character strings runs
// about 3 s here whatever the query timeout (deeply nested Parquet lists were another
// such construct; the sandbox now refuses those). Shutdown returns ErrStuck when its
// context ends, having logged the stuck query at error level, instead of waiting for
// DuckDB; the query is left to finish.
func TestShutdownGivesUpOnAStuckQuery(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	e, _ := testEngine(t, Config{Logger: log})
	sql := "SELECT levenshtein(repeat('a', 40000), repeat('b', 40000)) AS d"

	queryDone := make(chan error, 1)
	go func() {
		rows, err := e.Query(context.Background(), sql, nil, 0)
		if err == nil {
			_, _, err = drain(t, rows)
			rows.Release()
		}
		queryDone <- err
	}()
	for len(e.stuckQueries()) == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // inside the levenshtein call by now

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := e.Shutdown(ctx)
	took := time.Since(start)
	if !errors.Is(err, ErrStuck) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want ErrStuck and DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "1 queries") {
		t.Errorf("Shutdown error %q does not count 1 query", err)
	}
	if took > time.Second {
		t.Errorf("Shutdown took %v with a 200ms deadline", took)
	}
	out := logs.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "still running in DuckDB at shutdown") || !strings.Contains(out, "levenshtein") {
		t.Errorf("log does not name the stuck query at error level:\n%s", out)
	}
	if err := e.Close(); err != nil {
		t.Errorf("Close after Shutdown = %v, want nil", err)
	}

	// The query ends when DuckDB lets go; the engine then finishes closing.
	select {
	case err := <-queryDone:
		if err == nil {
			t.Error("the query succeeded after the engine shut down; want an error")
		}
	case <-time.After(time.Minute):
		t.Fatal("the query never ended")
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logs.String(), "engine closed"); {
		if time.Now().After(deadline) {
			t.Fatalf("engine never closed:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestShutdownWithinDeadline: with nothing stuck, Shutdown closes at once and
// returns nil.
func TestShutdownWithinDeadline(t *testing.T) {
	e, root := testEngine(t, Config{})
	syncOrFail(t, e, Table{Name: "people", Files: []string{writePeople(t, root, "p.parquet", 0, 100)}, Version: "1"})
	rows, err := e.Query(context.Background(), "SELECT * FROM people, range(100000000)", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if rows.Next() || !errors.Is(rows.Err(), ErrClosed) {
		t.Fatalf("Rows after Shutdown: err %v, want ErrClosed", rows.Err())
	}
}
