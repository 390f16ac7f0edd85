// Package wire reads a request once: Classify tells what a descriptor, ticket or
// action is about (a dataset, a Flight SQL command, another action) and what it names
// (dataset, SQL, command, table, action). The gRPC service routes on that answer,
// authorization decides on it and the request log describes it, so no request can be
// authorized as one thing and served as another. Protocol names such as
// DropDatasetAction are declared here, once. It is not a Flight SQL codec: arrow-go's
// protobufs are.
package wire

import (
	"encoding/json"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// FlightSQLTypePrefix starts the type URL of every Flight SQL message.
const FlightSQLTypePrefix = "type.googleapis.com/arrow.flight.protocol.sql."

// FlightSQLAny decodes b as a serialized protobuf Any holding a Flight SQL message, as
// Flight SQL tickets and command descriptors are. It reports false for anything else.
//
// A dataset-name ticket can never be mistaken for one: such a message starts with
// 0x0A (field 1, the type URL), and a newline is not allowed in dataset names.
func FlightSQLAny(b []byte) (*anypb.Any, bool) {
	if len(b) == 0 || b[0] != 0x0A {
		return nil, false
	}
	var a anypb.Any
	if err := proto.Unmarshal(b, &a); err != nil || !strings.HasPrefix(a.GetTypeUrl(), FlightSQLTypePrefix) {
		return nil, false
	}
	return &a, true
}

// IsFlightSQL reports whether b is a serialized Any holding a Flight SQL message.
func IsFlightSQL(b []byte) bool {
	_, ok := FlightSQLAny(b)
	return ok
}

// CommandName is the Flight SQL message type of a, e.g. "CommandStatementQuery".
func CommandName(a *anypb.Any) string {
	return strings.TrimPrefix(a.GetTypeUrl(), FlightSQLTypePrefix)
}

// StatementHandle is what the ticket of a Flight SQL statement query
// (TicketStatementQuery's statement_handle) carries, as JSON: the SQL itself, so that
// any server sharing the dataset root can run it, and an id for cancellation. The
// client may send any bytes here, so the SQL is as untrusted as a query's.
type StatementHandle struct {
	ID  string `json:"id"`
	SQL string `json:"sql"`
}

// DecodeStatementHandle decodes a statement handle; ok is false for anything but
// JSON with a non-empty sql.
func DecodeStatementHandle(b []byte) (h StatementHandle, ok bool) {
	if err := json.Unmarshal(b, &h); err != nil || h.SQL == "" {
		return h, false
	}
	return h, true
}
