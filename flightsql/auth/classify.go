package auth

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/quiverdata/quiver/flightsql/wire"
)

// need is what one request requires of its caller.
type need struct {
	perm  Permission
	scope scope
	// datasets are the dataset names a scopeDatasets request touches; tables are SQL
	// table names (ingest, key metadata), resolved to their datasets before the grant
	// is matched (TableReader.DatasetForTable).
	datasets, tables []string
	// creates: the request may create its table (ingest), so a table that does not
	// exist yet is judged by the dataset it would create.
	creates bool
	// sql is the statement of a scopeStatement request.
	sql string
	// what describes the request for logs and messages, never with a secret in it:
	// `DoGet of dataset "sales.parquet"`, `Flight SQL CommandStatementQuery`.
	what string
}

// scope says which datasets a request reaches.
type scope int

const (
	// scopeServer requests touch no dataset's data (ListActions, GetSqlInfo, closing
	// a prepared statement). Any grant of the permission suffices.
	scopeServer scope = iota
	// scopeDatasets requests name their datasets: each must be covered by the grant's
	// patterns. One that names none (a malformed descriptor) is refused to a
	// restricted grant, and left to the handler's InvalidArgument otherwise.
	scopeDatasets
	// scopeAll requests may reach any dataset (Substrait plans, unknown commands):
	// refused to restricted grants.
	scopeAll
	// scopeStatement requests run the SQL statement in need.sql: a restricted grant
	// must cover every table it reads, as the Guard's TableReader tells. Without
	// one, they are scopeAll.
	scopeStatement
	// scopePrepared requests run a prepared statement by its handle. The statement
	// was authorized, as scopeStatement, when the handle was created: the handle is
	// an unguessable 128-bit random id that only its creator is given, and its SQL
	// cannot change (parameters bind values, never names).
	scopePrepared
	// scopeTableList requests list tables (GetTables): any grant may, and the server
	// lists only the tables the caller's grant covers (see FromContext).
	scopeTableList
)

// Full gRPC method names of the Flight service.
const (
	flightService       = "/" + "arrow.flight.protocol.FlightService" + "/"
	methodHandshake     = flightService + "Handshake"
	methodListFlights   = flightService + "ListFlights"
	methodGetFlightInfo = flightService + "GetFlightInfo"
	methodPollInfo      = flightService + "PollFlightInfo"
	methodGetSchema     = flightService + "GetSchema"
	methodDoGet         = flightService + "DoGet"
	methodDoPut         = flightService + "DoPut"
	methodDoExchange    = flightService + "DoExchange"
	methodDoAction      = flightService + "DoAction"
	methodListActions   = flightService + "ListActions"

	// healthService is reachable without credentials: load balancers and
	// orchestrators probe it.
	healthService = "/grpc.health.v1.Health/"
)

// methodNeed is what a method requires before its request message is seen. For
// DoGet, DoPut and DoAction it is the floor; the first message decides the rest
// (messageNeed). ok is false for methods that need no credentials at all.
func methodNeed(method string) (n need, ok bool) {
	switch {
	case strings.HasPrefix(method, healthService):
		return need{}, false
	case method == methodListFlights, method == methodListActions:
		return need{perm: Read, what: shortMethod(method)}, true
	case method == methodDoGet, method == methodDoPut, method == methodDoAction,
		method == methodGetFlightInfo, method == methodPollInfo, method == methodGetSchema:
		return need{perm: Read, what: shortMethod(method)}, true
	}
	// DoExchange (nothing here serves it), Flight methods newer than this code and
	// other services (reflection): fail closed.
	return need{perm: Admin, what: shortMethod(method)}, true
}

// hasMessageNeed reports whether the method's first request message decides its need.
func hasMessageNeed(method string) bool {
	switch method {
	case methodDoGet, methodDoPut, methodDoAction, methodGetFlightInfo, methodPollInfo, methodGetSchema:
		return true
	}
	return false
}

// messageNeed classifies a request by its (first) message, read once by wire.Classify:
// the router and the request log read it the same way.
func messageNeed(method string, m any) need {
	req := wire.Classify(m)
	switch method {
	case methodGetFlightInfo, methodPollInfo, methodGetSchema:
		if _, ok := m.(*flight.FlightDescriptor); ok {
			return requestNeed(shortMethod(method), req, false)
		}
	case methodDoGet:
		if _, ok := m.(*flight.Ticket); ok {
			return requestNeed("DoGet", req, false)
		}
	case methodDoPut:
		if _, ok := m.(*flight.FlightData); ok {
			return requestNeed("DoPut", req, true)
		}
	case methodDoAction:
		if _, ok := m.(*flight.Action); ok {
			return actionNeed(req)
		}
	}
	return need{perm: Admin, what: fmt.Sprintf("%s with a %T", shortMethod(method), m)}
}

// requestNeed classifies a descriptor or ticket. put is true for DoPut, where the
// descriptor says what is written.
func requestNeed(method string, req wire.Request, put bool) need {
	perm := Read
	if put {
		perm = Write
	}
	switch req.Kind {
	case wire.KindDataset:
		if req.Dataset == "" {
			return need{perm: perm, scope: scopeDatasets, what: fmt.Sprintf("%s of PATH %s", method, quoteShort(strings.Join(req.Path, "/")))}
		}
		return need{perm: perm, scope: scopeDatasets, datasets: []string{req.Dataset}, what: fmt.Sprintf("%s of dataset %s", method, quoteShort(req.Dataset))}
	case wire.KindFlightSQL:
		n := commandNeed(req, put)
		n.what = method + " of " + n.what
		return n
	}
	// No descriptor (a DoPut whose first message lacks one) or an unknown type: the
	// handler refuses it; restricted grants are refused here already.
	return need{perm: perm, scope: scopeDatasets, what: method + " of no known descriptor"}
}

// commandClass is how a Flight SQL command is authorized.
type commandClass int

const (
	// classServerMeta: metadata about the server, no dataset (GetSqlInfo, GetCatalogs).
	classServerMeta commandClass = iota
	// classTableList: lists tables and their columns. The server filters the list by
	// the caller's grant.
	classTableList
	// classTableKeys: key metadata of named tables.
	classTableKeys
	// classQuery: a SQL or Substrait statement, or a prepared one.
	classQuery
	// classUpdate: a statement that changes data. The engine refuses them (Quiver is
	// read-only over SQL), but should one ever run, it needs write.
	classUpdate
	// classIngest: bulk ingest into one table.
	classIngest
)

func fullName(m proto.Message) protoreflect.FullName {
	return m.ProtoReflect().Descriptor().FullName()
}

// commandClasses classifies every Flight SQL command of arrow-go's protobufs. A
// command not listed (a newer Flight SQL) is a query: refused to restricted grants.
var commandClasses = map[protoreflect.FullName]commandClass{
	fullName(&pb.CommandGetSqlInfo{}):              classServerMeta,
	fullName(&pb.CommandGetXdbcTypeInfo{}):         classServerMeta,
	fullName(&pb.CommandGetCatalogs{}):             classServerMeta,
	fullName(&pb.CommandGetDbSchemas{}):            classServerMeta,
	fullName(&pb.CommandGetTableTypes{}):           classServerMeta,
	fullName(&pb.CommandGetTables{}):               classTableList,
	fullName(&pb.CommandGetPrimaryKeys{}):          classTableKeys,
	fullName(&pb.CommandGetExportedKeys{}):         classTableKeys,
	fullName(&pb.CommandGetImportedKeys{}):         classTableKeys,
	fullName(&pb.CommandGetCrossReference{}):       classTableKeys,
	fullName(&pb.CommandStatementQuery{}):          classQuery,
	fullName(&pb.CommandStatementSubstraitPlan{}):  classQuery,
	fullName(&pb.CommandPreparedStatementQuery{}):  classQuery,
	fullName(&pb.TicketStatementQuery{}):           classQuery,
	fullName(&pb.CommandStatementUpdate{}):         classUpdate,
	fullName(&pb.CommandPreparedStatementUpdate{}): classUpdate,
	fullName(&pb.CommandStatementIngest{}):         classIngest,
}

// commandNeed classifies a Flight SQL command (a descriptor's cmd or a ticket).
// put is true for DoPut: there a Substrait plan is an update, not a query.
func commandNeed(req wire.Request, put bool) need {
	perm := Read
	if put {
		perm = Write
	}
	if req.Command == "" {
		// Not Flight SQL: the handler answers InvalidArgument. Refuse restricted grants
		// here, and writes of unknown things to readers.
		return need{perm: perm, scope: scopeAll, what: "an unknown command"}
	}
	what := "Flight SQL " + req.Command
	var class commandClass
	known := false
	if req.Message != nil {
		class, known = commandClasses[fullName(req.Message)]
	}
	if !known {
		return need{perm: perm, scope: scopeAll, what: what}
	}
	switch class {
	case classServerMeta:
		return need{perm: Read, scope: scopeServer, what: what}
	case classTableList:
		return need{perm: Read, scope: scopeTableList, what: what}
	case classTableKeys:
		return need{perm: Read, scope: scopeDatasets, tables: keyTables(req.Message), what: what}
	case classQuery:
		return queryNeed(req, put, what)
	case classUpdate:
		return need{perm: Write, scope: scopeAll, what: what}
	case classIngest:
		if req.Table == "" {
			return need{perm: Write, scope: scopeDatasets, what: what}
		}
		return need{perm: Write, scope: scopeDatasets, tables: []string{req.Table}, creates: true,
			what: what + " into table " + quoteShort(req.Table)}
	}
	return need{perm: Admin, what: what}
}

// queryNeed classifies a query command. One whose SQL cannot be read from the
// request (a Substrait plan, a malformed message) is scopeAll.
func queryNeed(req wire.Request, put bool, what string) need {
	n := need{perm: Read, scope: scopeAll, what: what}
	switch req.Message.(type) {
	case *pb.CommandStatementSubstraitPlan:
		if put {
			n.perm = Write
		}
	case *pb.CommandStatementQuery, *pb.TicketStatementQuery:
		// A statement ticket carries the SQL itself, and the client may send any ticket.
		if req.SQL != "" {
			n.scope, n.sql = scopeStatement, req.SQL
		}
	case *pb.CommandPreparedStatementQuery:
		n.scope = scopePrepared
	}
	return n
}

// keyTables are the tables a key-metadata command names; none if it does not decode.
func keyTables(m proto.Message) []string {
	switch c := m.(type) {
	case *pb.CommandGetPrimaryKeys:
		return []string{c.GetTable()}
	case *pb.CommandGetExportedKeys:
		return []string{c.GetTable()}
	case *pb.CommandGetImportedKeys:
		return []string{c.GetTable()}
	case *pb.CommandGetCrossReference:
		return []string{c.GetPkTable(), c.GetFkTable()}
	}
	return nil
}

// readActions are the Flight and Flight SQL actions any reader may run: they manage
// the caller's own statements, queries and session, and touch no dataset.
var readActions = map[string]bool{
	flight.CancelFlightInfoActionType:          true,
	flight.RenewFlightEndpointActionType:       true,
	flight.SetSessionOptionsActionType:         true,
	flight.GetSessionOptionsActionType:         true,
	flight.CloseSessionActionType:              true,
	flightsql.ClosePreparedStatementActionType: true,
	flightsql.CancelQueryActionType:            true,
	flightsql.BeginTransactionActionType:       true,
	flightsql.EndTransactionActionType:         true,
	flightsql.BeginSavepointActionType:         true,
	flightsql.EndSavepointActionType:           true,
}

// actionNeed classifies a DoAction by its type.
func actionNeed(req wire.Request) need {
	typ := req.Action
	switch {
	case req.Kind == wire.KindDataset: // drop_dataset
		return need{perm: Write, scope: scopeDatasets, datasets: []string{req.Dataset}, what: wire.DropDatasetAction + " of " + quoteShort(req.Dataset)}
	case typ == flightsql.CreatePreparedStatementActionType:
		n := need{perm: Read, scope: scopeAll, what: "action " + typ}
		if _, ok := req.Message.(*pb.ActionCreatePreparedStatementRequest); ok && req.SQL != "" {
			n.scope, n.sql = scopeStatement, req.SQL
		}
		return n
	case typ == flightsql.CreatePreparedSubstraitPlanActionType:
		return need{perm: Read, scope: scopeAll, what: "action " + typ}
	case readActions[typ]:
		return need{perm: Read, scope: scopeServer, what: "action " + typ}
	}
	// An action this code does not know (the handler answers Unimplemented, or it is
	// newer than this table): only admins, so a new write action is never open to
	// readers by omission.
	return need{perm: Admin, what: "action " + quoteShort(typ)}
}

// shortMethod is "DoGet" for "/arrow.flight.protocol.FlightService/DoGet".
func shortMethod(full string) string {
	if i := strings.LastIndexByte(full, '/'); i >= 0 && strings.HasPrefix(full, flightService) {
		return full[i+1:]
	}
	return full
}
