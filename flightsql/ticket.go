package flightsql

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/quiverdata/quiver/catalog"
)

// flightSQLTypePrefix starts the type URL of every Flight SQL command.
const flightSQLTypePrefix = "type.googleapis.com/arrow.flight.protocol.sql."

// isFlightSQL reports whether b is a serialized protobuf Any holding a Flight SQL
// message, as Flight SQL tickets and command descriptors are.
//
// A dataset-name ticket can never be mistaken for one: such a ticket starts with 0x0A
// (field 1, the type URL), and a newline is not allowed in dataset names.
func isFlightSQL(b []byte) bool {
	if len(b) == 0 || b[0] != 0x0A {
		return false
	}
	var a anypb.Any
	if err := proto.Unmarshal(b, &a); err != nil {
		return false
	}
	return strings.HasPrefix(a.GetTypeUrl(), flightSQLTypePrefix)
}

// datasetFromTicket decodes a plain Flight ticket: the dataset name's bytes, as the
// Arrow cookbook's server issues them.
func datasetFromTicket(b []byte) (string, error) {
	name := string(b)
	if err := catalog.ValidateName(name); err != nil {
		return "", fmt.Errorf("%w: ticket is neither a dataset name nor a Flight SQL ticket: %w", errInvalidRequest, err)
	}
	return name, nil
}

// StatementSQL returns the SQL text a statement ticket's handle carries (the
// statement_handle of a TicketStatementQuery this server issued), for logs and
// metrics; ok is false for a handle this server did not issue.
func StatementSQL(handle []byte) (sql string, ok bool) {
	h, err := decodeStatementHandle(handle)
	if err != nil {
		return "", false
	}
	return h.SQL, true
}
