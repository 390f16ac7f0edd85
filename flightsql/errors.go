package flightsql

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql/engine"
)

// toStatus turns an error from the catalog or the engine into a gRPC status error.
// It is the one place where domain errors meet status codes; handlers return its
// result and never build a status from an error's text.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok {
		if msg := hiddenPaths.redact(st.Message()); msg != st.Message() {
			return status.Error(st.Code(), msg)
		}
		return err
	}
	code := codeOf(err)
	if code == codes.Internal {
		slog.Error("internal error", "err", err)
	}
	return status.Error(code, hiddenPaths.redact(err.Error()))
}

// codeOf is the gRPC code for a domain error.
func codeOf(err error) codes.Code {
	for _, m := range errorCodes {
		if errors.Is(err, m.err) {
			return m.code
		}
	}
	return codes.Internal
}

// errorCodes maps domain errors to codes, first match wins: cancellation outranks
// the errors it causes.
var errorCodes = []struct {
	err  error
	code codes.Code
}{
	{context.Canceled, codes.Canceled},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
	{catalog.ErrNotFound, codes.NotFound},
	{catalog.ErrInvalidName, codes.InvalidArgument},
	{catalog.ErrInvalidData, codes.InvalidArgument},
	{catalog.ErrAlreadyExists, codes.AlreadyExists},
	{catalog.ErrUnreadable, codes.FailedPrecondition},
	{catalog.ErrVersionChanged, codes.FailedPrecondition},
	{catalog.ErrReadOnly, codes.FailedPrecondition},
	{catalog.ErrTooManyPartitions, codes.ResourceExhausted},
	{catalog.ErrClosed, codes.Unavailable},
	{engine.ErrReadOnly, codes.PermissionDenied},
	{engine.ErrForbidden, codes.PermissionDenied},
	{engine.ErrUnqueryable, codes.FailedPrecondition},
	{engine.ErrOutOfMemory, codes.ResourceExhausted},
	{engine.ErrInvalidSQL, codes.InvalidArgument},
	{engine.ErrClosed, codes.Unavailable},
	{errInvalidRequest, codes.InvalidArgument},
	{errUnknownAction, codes.Unimplemented},
	{errNoSQL, codes.Unimplemented},
	{errNotSupported, codes.Unimplemented},
	{errNotOneFile, codes.FailedPrecondition},
	{errPanic, codes.Internal},
	{errLimit, codes.ResourceExhausted},
	{errMessageTooLarge, codes.ResourceExhausted},
	{errResultMemory, codes.ResourceExhausted},
	{errKeptChanging, codes.Aborted},
	{engine.ErrViewsMoved, codes.Aborted},
}

var (
	// errInvalidRequest is a malformed descriptor, ticket or action body.
	errInvalidRequest = errors.New("invalid request")
	// errUnknownAction is an action type this server does not have.
	errUnknownAction = errors.New("unknown action")
	// errNoSQL is a Flight SQL request to a server running without Flight SQL.
	errNoSQL = errors.New("Flight SQL is not enabled on this server")
	// errNotSupported is a feature of the protocol this server does not have, such
	// as temporary tables.
	errNotSupported = errors.New("not supported")
	// errKeptChanging is a query whose datasets were replaced every time their parts
	// were fetched from object storage (sql.go leaseReads): worth a retry.
	errKeptChanging = errors.New("datasets kept changing")
)
