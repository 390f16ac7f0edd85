package observe

import (
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/flight"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"

	"github.com/quiverdata/quiver/flightsql"
	"github.com/quiverdata/quiver/flightsql/wire"
)

// What a call is about, decoded from its request for the log line. Nothing here
// fails: a request that does not decode is described by what did, and the handler
// answers it.

// Limits on what a log line quotes from a request.
const (
	maxSQLLen  = 200 // runes of SQL text
	maxNameLen = 128 // bytes of a dataset name (valid names are shorter)
)

// dropDatasetAction is the cookbook's custom action, whose body is a dataset name.
const dropDatasetAction = "drop_dataset"

// queryKind is the kind of a DoGet that runs a SQL query, "" for any other call.
type queryKind string

const (
	queryStatement queryKind = "statement"
	queryPrepared  queryKind = "prepared"
)

// description is what the log line says a call is about.
type description struct {
	attrs []slog.Attr
	query queryKind
}

// describeRequest describes the request message of a call: a FlightDescriptor
// (GetFlightInfo, GetSchema, PollFlightInfo, and the first FlightData of a DoPut or
// DoExchange), a Ticket (DoGet) or an Action (DoAction). Other messages, and
// Handshake payloads above all (they carry passwords), are not described.
func describeRequest(m any) description {
	switch m := m.(type) {
	case *flight.FlightDescriptor:
		return describeDescriptor(m)
	case *flight.FlightData:
		if m.GetFlightDescriptor() != nil {
			return describeDescriptor(m.GetFlightDescriptor())
		}
	case *flight.Ticket:
		return describeTicket(m.GetTicket())
	case *flight.Action:
		return describeAction(m)
	}
	return description{}
}

func describeDescriptor(d *flight.FlightDescriptor) description {
	switch d.GetType() {
	case flight.DescriptorPATH:
		return description{attrs: []slog.Attr{slog.String("dataset", shorten(strings.Join(d.GetPath(), "/"), maxNameLen))}}
	case flight.DescriptorCMD:
		return describeFlightSQL(d.GetCmd())
	}
	return description{}
}

// describeTicket tells a Flight SQL ticket (a serialized Any) from a dataset ticket
// (the dataset name's bytes) as the server does: a dataset name never starts with
// the newline that starts an Any.
func describeTicket(t []byte) description {
	if d, ok := describeFlightSQLOK(t); ok {
		return d
	}
	return description{attrs: []slog.Attr{slog.String("dataset", shorten(string(t), maxNameLen))}}
}

func describeAction(a *flight.Action) description {
	attrs := []slog.Attr{slog.String("action", shorten(a.GetType(), maxNameLen))}
	if a.GetType() == dropDatasetAction {
		return description{attrs: append(attrs, slog.String("dataset", shorten(string(a.GetBody()), maxNameLen)))}
	}
	// Flight SQL actions (CreatePreparedStatement, ClosePreparedStatement, ...) carry
	// an Any; other bodies are not quoted.
	if d, ok := describeFlightSQLOK(a.GetBody()); ok {
		d.attrs = append(attrs, d.attrs...)
		return d
	}
	return description{attrs: attrs}
}

func describeFlightSQL(b []byte) description {
	d, _ := describeFlightSQLOK(b)
	return d
}

// describeFlightSQLOK decodes b as an Any holding a Flight SQL message: its type as
// "command", and the SQL or dataset it names.
func describeFlightSQLOK(b []byte) (description, bool) {
	a, ok := wire.FlightSQLAny(b)
	if !ok {
		return description{}, false
	}
	d := description{attrs: []slog.Attr{slog.String("command", shorten(wire.CommandName(a), maxNameLen))}}
	msg, err := a.UnmarshalNew()
	if err != nil {
		return d, true
	}
	switch m := msg.(type) {
	case *pb.CommandStatementQuery:
		d.attrs = append(d.attrs, sqlAttr(m.GetQuery()))
	case *pb.ActionCreatePreparedStatementRequest:
		d.attrs = append(d.attrs, sqlAttr(m.GetQuery()))
	case *pb.TicketStatementQuery:
		d.query = queryStatement
		if sql, ok := flightsql.StatementSQL(m.GetStatementHandle()); ok {
			d.attrs = append(d.attrs, sqlAttr(sql))
		}
	case *pb.CommandPreparedStatementQuery:
		d.query = queryPrepared
	case *pb.CommandStatementIngest:
		d.attrs = append(d.attrs, slog.String("dataset", shorten(m.GetTable(), maxNameLen)))
	}
	return d, true
}

func sqlAttr(sql string) slog.Attr { return slog.String("sql", shortenSQL(sql)) }

// shortenSQL collapses runs of white space to one space and keeps the first maxSQLLen
// runes, so that a statement fits on its log line.
func shortenSQL(sql string) string {
	return shorten(strings.Join(strings.Fields(sql), " "), maxSQLLen)
}

// shorten keeps the first max runes of s (bytes for invalid UTF-8), marking a cut
// with "…".
func shorten(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
