package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/agnivade/levenshtein"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Exit codes, for scripts. Documented in the README; keep them stable.
const (
	exitOK          = 0
	exitFailure     = 1   // anything else
	exitUsage       = 2   // bad flags, arguments or names
	exitNotFound    = 3   // no such dataset
	exitExists      = 4   // the dataset exists and neither --replace nor --append was given
	exitUnreachable = 5   // no server at --server
	exitInterrupted = 130 // SIGINT or SIGTERM
)

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// notFoundError is a dataset that does not exist, with the names closest to it.
type notFoundError struct {
	name        string
	suggestions []string
	any         bool // the server has datasets at all
}

func (e *notFoundError) Error() string {
	msg := fmt.Sprintf("dataset %q does not exist", e.name)
	switch {
	case len(e.suggestions) == 1:
		msg += fmt.Sprintf("; did you mean %q?", e.suggestions[0])
	case len(e.suggestions) > 1:
		msg += "; close names: " + strings.Join(e.suggestions, ", ")
	case !e.any:
		msg += " (the server has no datasets yet; `quiver put NAME FILE` adds one)"
	default:
		msg += " (`quiver ls` lists the datasets)"
	}
	return msg
}

// existsError is a put that would overwrite a dataset.
type existsError struct {
	name string
	rows int64
}

func (e *existsError) Error() string {
	return fmt.Sprintf("dataset %q already exists (%d rows); --replace overwrites it, --append adds the rows to it", e.name, e.rows)
}

// closeNames returns the names within a small edit distance of name, or that equal
// it but for case or a .parquet suffix, closest first, at most five.
func closeNames(name string, names []string) []string {
	type cand struct {
		name string
		dist int
	}
	norm := func(s string) string { return strings.TrimSuffix(strings.ToLower(s), ".parquet") }
	var cands, contain []cand
	limit := max(2, len([]rune(norm(name)))/3)
	for _, n := range names {
		d := levenshtein.ComputeDistance(norm(name), norm(n))
		switch {
		case d <= limit:
			cands = append(cands, cand{n, d})
		case strings.Contains(norm(n), norm(name)) && len(norm(name)) >= 3:
			contain = append(contain, cand{n, d})
		}
	}
	if len(cands) == 0 { // names that contain what was typed, only if nothing is closer
		cands = contain
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].dist != cands[j].dist {
			return cands[i].dist < cands[j].dist
		}
		return cands[i].name < cands[j].name
	})
	var out []string
	for i := 0; i < len(cands) && i < 5; i++ {
		out = append(out, cands[i].name)
	}
	return out
}

// explain turns err into the sentence the user reads and the exit code. gRPC status
// codes become what they mean for someone at a terminal; the server's message, which
// names the dataset or statement, is kept.
func explain(err error, server string) (string, int) {
	var ue *usageError
	var nf *notFoundError
	var ee *existsError
	var ae *ambiguousError
	switch {
	case errors.As(err, &ae):
		return ae.Error(), exitUsage
	case errors.As(err, &ue):
		return ue.msg, exitUsage
	case errors.As(err, &nf):
		return nf.Error(), exitNotFound
	case errors.As(err, &ee):
		return ee.Error(), exitExists
	case errors.Is(err, context.Canceled):
		return "interrupted", exitInterrupted
	case errors.Is(err, io.ErrClosedPipe):
		return "output closed", exitFailure
	}
	st, ok := status.FromError(unwrapStatus(err))
	if !ok {
		return err.Error(), exitFailure
	}
	msg := st.Message()
	prefix := ""
	if s := prefixOf(err); s != "" {
		prefix = s + ": "
	}
	switch st.Code() {
	case codes.Unavailable:
		if diagnoseDial != nil {
			if why := diagnoseDial(context.Background()); why != "" {
				return why, exitUnreachable
			}
		}
		return fmt.Sprintf("cannot reach a Quiver server at %s: is `quiver serve` running there, and is --server (or QUIVER_SERVER) right? (%s)", server, msg), exitUnreachable
	case codes.NotFound:
		return prefix + msg, exitNotFound
	case codes.AlreadyExists:
		return prefix + msg, exitExists
	case codes.InvalidArgument:
		return prefix + "the server refused the request: " + msg, exitFailure
	case codes.Unauthenticated:
		return prefix + "the server wants you to authenticate: " + msg, exitFailure
	case codes.PermissionDenied:
		return prefix + "not allowed: " + msg, exitFailure
	case codes.Unimplemented:
		return prefix + fmt.Sprintf("the server at %s cannot do this: %s", server, msg), exitFailure
	case codes.DeadlineExceeded:
		return prefix + "the server took too long: " + msg, exitFailure
	case codes.Canceled:
		return "cancelled", exitInterrupted
	case codes.ResourceExhausted:
		return prefix + "too large for the server: " + msg + " (a record batch larger than the server's --max-message-bytes? try a smaller --batch-rows)", exitFailure
	case codes.FailedPrecondition:
		return prefix + msg, exitFailure
	case codes.Internal, codes.Unknown, codes.DataLoss:
		return prefix + "the server failed: " + msg + " (a bug in the server; its log has the details)", exitFailure
	}
	return prefix + st.Code().String() + ": " + msg, exitFailure
}

// unwrapStatus finds a gRPC status error inside err's wrapping.
func unwrapStatus(err error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if _, ok := e.(interface{ GRPCStatus() *status.Status }); ok {
			return e
		}
	}
	return err
}

// prefixOf is what err's wrapping adds before the status, e.g. "put \"x\"".
func prefixOf(err error) string {
	inner := unwrapStatus(err)
	if inner == err {
		return ""
	}
	s := strings.TrimSuffix(err.Error(), inner.Error())
	return strings.TrimSuffix(strings.TrimSpace(s), ":")
}
