package observe

import (
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/flight"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"

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
// DoExchange), a Ticket (DoGet) or an Action (DoAction), as wire.Classify reads it
// for the router and the guard too. Other messages, and Handshake payloads above all
// (they carry passwords), are not described.
func describeRequest(m any) description {
	switch m.(type) {
	case *flight.FlightDescriptor, *flight.FlightData, *flight.Ticket, *flight.Action:
	default:
		return description{}
	}
	req := wire.Classify(m)
	var d description
	if req.Action != "" {
		d.attrs = append(d.attrs, slog.String("action", shorten(req.Action, maxNameLen)))
	}
	switch {
	case req.Kind == wire.KindDataset && req.Action == "" && req.Path != nil:
		d.attrs = append(d.attrs, slog.String("dataset", shorten(strings.Join(req.Path, "/"), maxNameLen)))
	case req.Kind == wire.KindDataset:
		d.attrs = append(d.attrs, slog.String("dataset", shorten(req.Dataset, maxNameLen)))
	}
	if req.Command != "" {
		d.attrs = append(d.attrs, slog.String("command", shorten(req.Command, maxNameLen)))
	}
	if req.SQL != "" {
		d.attrs = append(d.attrs, sqlAttr(req.SQL))
	}
	if req.Table != "" {
		d.attrs = append(d.attrs, slog.String("dataset", shorten(req.Table, maxNameLen)))
	}
	switch req.Message.(type) {
	case *pb.TicketStatementQuery:
		d.query = queryStatement
	case *pb.CommandPreparedStatementQuery:
		d.query = queryPrepared
	}
	return d
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
