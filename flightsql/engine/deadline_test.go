//go:build duckdb_arrow

package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRequestIsOneDeadline: statements run under one Request share its deadline; a
// statement started after it has passed fails with the query timeout instead of getting
// a fresh one, and so does planning.
func TestRequestIsOneDeadline(t *testing.T) {
	const timeout = 200 * time.Millisecond
	e, _ := testEngine(t, Config{QueryTimeout: timeout})
	ctx, cancel := e.Request(context.Background())
	defer cancel()
	if got := queryAll(t, e, "SELECT 1", nil); len(got) != 1 {
		t.Fatalf("SELECT 1 outside the request: %v", got)
	}
	time.Sleep(timeout + 50*time.Millisecond)

	wantTimeout := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "query timeout 200ms") {
			t.Errorf("%s after the request's deadline: %v, want the query timeout", what, err)
		}
	}
	rows, err := e.Query(ctx, "SELECT 1", nil, 0)
	if err == nil {
		rows.Release()
	}
	wantTimeout("Query", err)
	_, err = e.Describe(ctx, "SELECT 1")
	wantTimeout("Describe", err)

	// A nested Request keeps the outer deadline rather than starting its own.
	inner, cancelInner := e.Request(ctx)
	defer cancelInner()
	if inner.Err() == nil {
		t.Error("a nested Request extended the deadline")
	}

	// Outside a request each statement still gets the limit of its own.
	if _, err := e.Describe(context.Background(), "SELECT 1"); err != nil {
		t.Errorf("Describe outside a request: %v", err)
	}
	if err := runLong(t, e, context.Background(), longQuery); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("long query outside a request: %v, want the query timeout", err)
	}
}

func TestWithCauseNamesTheTimeout(t *testing.T) {
	cause := errors.New("query timeout 1.5s elapsed")
	ctx, cancel := context.WithCancelCause(context.Background())
	listing := errors.New("scan dataset root: list <root>: canceled")
	if got := withCause(ctx, listing); got != listing {
		t.Fatalf("a live context changed the error: %v", got)
	}
	cancel(cause)
	got := withCause(ctx, listing)
	if !errors.Is(got, cause) || !strings.Contains(got.Error(), "query timeout 1.5s elapsed") || !strings.Contains(got.Error(), "scan dataset root") {
		t.Fatalf("withCause = %v, want the cause and the listing's words", got)
	}
	if withCause(ctx, nil) != nil {
		t.Fatal("withCause(nil) is not nil")
	}
}
