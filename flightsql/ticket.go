package flightsql

import (
	"fmt"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql/wire"
)

// isFlightSQL reports whether b is a Flight SQL ticket or command (see wire).
func isFlightSQL(b []byte) bool { return wire.IsFlightSQL(b) }

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
