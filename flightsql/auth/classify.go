package auth

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

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

// dropDatasetAction is package flightsql's plain Flight action (the Arrow cookbook's);
// its body is the dataset name. The integration tests check the two stay in step.
const dropDatasetAction = "drop_dataset"

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

// messageNeed classifies a request by its (first) message.
func messageNeed(method string, m any) need {
	switch method {
	case methodGetFlightInfo, methodPollInfo, methodGetSchema:
		if desc, ok := m.(*flight.FlightDescriptor); ok {
			return descriptorNeed(shortMethod(method), desc, false)
		}
	case methodDoGet:
		if t, ok := m.(*flight.Ticket); ok {
			return ticketNeed(t.GetTicket())
		}
	case methodDoPut:
		if fd, ok := m.(*flight.FlightData); ok {
			return descriptorNeed("DoPut", fd.GetFlightDescriptor(), true)
		}
	case methodDoAction:
		if a, ok := m.(*flight.Action); ok {
			return actionNeed(a)
		}
	}
	return need{perm: Admin, what: fmt.Sprintf("%s with a %T", shortMethod(method), m)}
}

// descriptorNeed classifies a descriptor: PATH names a dataset, CMD is Flight SQL.
// put is true for DoPut, where the descriptor says what is written.
func descriptorNeed(method string, desc *flight.FlightDescriptor, put bool) need {
	perm := Read
	if put {
		perm = Write
	}
	switch desc.GetType() {
	case flight.DescriptorPATH:
		n := need{perm: perm, scope: scopeDatasets, what: fmt.Sprintf("%s of PATH %s", method, quoteShort(strings.Join(desc.GetPath(), "/")))}
		if p := desc.GetPath(); len(p) == 1 {
			n.datasets = p
			n.what = fmt.Sprintf("%s of dataset %s", method, quoteShort(p[0]))
		}
		return n
	case flight.DescriptorCMD:
		n := commandNeed(desc.GetCmd(), put)
		n.what = method + " of " + n.what
		return n
	}
	// No descriptor (a DoPut whose first message lacks one) or an unknown type: the
	// handler refuses it; restricted grants are refused here already.
	return need{perm: perm, scope: scopeDatasets, what: fmt.Sprintf("%s of a %v descriptor", method, desc.GetType())}
}

// ticketNeed classifies a DoGet ticket: a Flight SQL ticket (a serialized Any, see
// flightsql/ticket.go) or the name of a dataset.
func ticketNeed(t []byte) need {
	if isFlightSQL(t) {
		n := commandNeed(t, false)
		n.what = "DoGet of " + n.what
		return n
	}
	return need{perm: Read, scope: scopeDatasets, datasets: []string{string(t)}, what: "DoGet of dataset " + quoteShort(string(t))}
}

// isFlightSQL: a serialized Any holding a Flight SQL message (see wire).
func isFlightSQL(b []byte) bool { return wire.IsFlightSQL(b) }

// sqlTypePrefix starts the type URL of every Flight SQL message.
const sqlTypePrefix = wire.FlightSQLTypePrefix

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
func commandNeed(cmd []byte, put bool) need {
	var a anypb.Any
	if err := proto.Unmarshal(cmd, &a); err != nil || !strings.HasPrefix(a.GetTypeUrl(), sqlTypePrefix) {
		// Not Flight SQL: the handler answers InvalidArgument. Refuse restricted grants
		// here, and writes of unknown things to readers.
		perm := Read
		if put {
			perm = Write
		}
		return need{perm: perm, scope: scopeAll, what: "an unknown command"}
	}
	name := a.MessageName()
	what := "Flight SQL " + string(name.Name())
	class, known := commandClasses[name]
	if !known {
		perm := Read
		if put {
			perm = Write
		}
		return need{perm: perm, scope: scopeAll, what: what}
	}
	switch class {
	case classServerMeta:
		return need{perm: Read, scope: scopeServer, what: what}
	case classTableList:
		return need{perm: Read, scope: scopeTableList, what: what}
	case classTableKeys:
		return need{perm: Read, scope: scopeDatasets, tables: keyTables(&a), what: what}
	case classQuery:
		return queryNeed(&a, put, what)
	case classUpdate:
		return need{perm: Write, scope: scopeAll, what: what}
	case classIngest:
		var ing pb.CommandStatementIngest
		if err := a.UnmarshalTo(&ing); err != nil || ing.GetTable() == "" {
			return need{perm: Write, scope: scopeDatasets, what: what}
		}
		return need{perm: Write, scope: scopeDatasets, tables: []string{ing.GetTable()}, creates: true,
			what: what + " into table " + quoteShort(ing.GetTable())}
	}
	return need{perm: Admin, what: what}
}

// queryNeed classifies a query command. One whose SQL cannot be read from the
// request (a Substrait plan, a malformed message) is scopeAll.
func queryNeed(a *anypb.Any, put bool, what string) need {
	n := need{perm: Read, scope: scopeAll, what: what}
	switch a.MessageName() {
	case fullName(&pb.CommandStatementSubstraitPlan{}):
		if put {
			n.perm = Write
		}
	case fullName(&pb.CommandStatementQuery{}):
		var c pb.CommandStatementQuery
		if a.UnmarshalTo(&c) == nil && c.GetQuery() != "" {
			n.scope, n.sql = scopeStatement, c.GetQuery()
		}
	case fullName(&pb.TicketStatementQuery{}):
		// The ticket carries the SQL itself, and the client may send any ticket.
		var c pb.TicketStatementQuery
		if a.UnmarshalTo(&c) == nil {
			if h, ok := wire.DecodeStatementHandle(c.GetStatementHandle()); ok {
				n.scope, n.sql = scopeStatement, h.SQL
			}
		}
	case fullName(&pb.CommandPreparedStatementQuery{}):
		n.scope = scopePrepared
	}
	return n
}

// keyTables are the tables a key-metadata command names; none if it does not decode.
func keyTables(a *anypb.Any) []string {
	m, err := a.UnmarshalNew()
	if err != nil {
		return nil
	}
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
func actionNeed(a *flight.Action) need {
	typ := a.GetType()
	switch {
	case typ == dropDatasetAction:
		name := string(a.GetBody())
		return need{perm: Write, scope: scopeDatasets, datasets: []string{name}, what: "drop_dataset of " + quoteShort(name)}
	case typ == flightsql.CreatePreparedStatementActionType:
		n := need{perm: Read, scope: scopeAll, what: "action " + typ}
		var req pb.ActionCreatePreparedStatementRequest
		if a, ok := wire.FlightSQLAny(a.GetBody()); ok && a.UnmarshalTo(&req) == nil && req.GetQuery() != "" {
			n.scope, n.sql = scopeStatement, req.GetQuery()
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
