package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/flightsql"
)

// httpStatus is the one mapping from the gRPC code a failure gets on the Flight port
// to the HTTP status the API answers it with.
func httpStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.InvalidArgument, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.FailedPrecondition, codes.Aborted:
		return http.StatusConflict
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Canceled:
		return 499 // the client went away; nobody reads this answer
	}
	return http.StatusInternalServerError
}

// apiError is a failure of the API's own (a bad parameter, a wrong method) with the
// gRPC code the Flight port would give the same mistake.
type apiError struct {
	code codes.Code
	msg  string
}

func (e *apiError) Error() string { return e.msg }

// GRPCStatus lets status.FromError read the code.
func (e *apiError) GRPCStatus() *status.Status { return status.New(e.code, e.msg) }

func errorf(code codes.Code, format string, args ...any) error {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

// errorBody is the JSON body of every error answer.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// statusOf is the gRPC status of err, through flightsql's one table of domain errors.
func statusOf(err error) *status.Status {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.GRPCStatus()
	}
	return flightsql.StatusOf(err)
}

// writeError answers err as {"error": {"code", "message"}} with the HTTP status of its
// gRPC code. Internal errors are logged.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	st := statusOf(err)
	code := httpStatus(st.Code())
	if code >= 500 && st.Code() != codes.Unavailable && st.Code() != codes.DeadlineExceeded {
		s.log.Error("console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	var body errorBody
	body.Error.Code = st.Code().String()
	body.Error.Message = st.Message()
	if st.Code() == codes.Unauthenticated {
		// Not a WWW-Authenticate challenge: a browser would show its own login
		// dialog instead of the page's form.
		w.Header().Set("X-Quiver-Auth", "required")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// writeJSON answers v as JSON with status 200.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
