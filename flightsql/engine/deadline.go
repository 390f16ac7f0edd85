//go:build duckdb_arrow

package engine

import (
	"context"
	"fmt"
)

// requestKey marks a context that Request has bounded by an engine's query timeout.
type requestKey struct{}

// Request bounds ctx by Config.QueryTimeout for one client request, however many
// statements the request runs: a prepared statement with 40 parameter rows runs 40
// queries, and planning describes before it runs. Query, Describe and DescribeBound
// under the returned context start no timer of their own, so the limit is one
// deadline for the whole request. Call cancel when the request is over.
func (e *Engine) Request(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Value(requestKey{}) == e {
		return ctx, func() {}
	}
	ctx = context.WithValue(ctx, requestKey{}, e)
	d := e.cfg.QueryTimeout
	if d <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, d,
		fmt.Errorf("query timeout %s elapsed: %w", d, context.DeadlineExceeded))
}

// withCause is err, or, when ctx has ended, err marked with the reason it ended: a
// catalog listing on object storage cut by the query timeout otherwise says only
// "context deadline exceeded", where the engine's own errors name the timeout.
func withCause(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	return fmt.Errorf("%w (%v)", context.Cause(ctx), err)
}
