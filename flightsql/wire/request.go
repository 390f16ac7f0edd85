package wire

import (
	"strings"

	"github.com/apache/arrow-go/v18/arrow/flight"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"google.golang.org/protobuf/proto"
)

// DropDatasetAction is the plain Flight action of the Arrow cookbook that deletes a
// dataset; its body is the dataset name. It is declared here, once: the router runs
// it, authorization needs write on its dataset, the request log names the dataset.
const DropDatasetAction = "drop_dataset"

// RawParquetTicketPrefix starts a DoGet ticket that asks for a dataset's stored
// Parquet file byte for byte (`quiver get -o x.parquet`) rather than as Arrow record
// batches; the dataset name follows it. The NUL bytes keep it apart from both other
// ticket kinds: a dataset name holds no NUL, a Flight SQL ticket starts with 0x0A.
// The stream it answers carries the file's bytes in FlightData.data_body, with no
// data_header; its first message's app_metadata is RawParquetHeader as JSON.
const RawParquetTicketPrefix = "\x00quiver:raw-parquet\x00"

// RawParquetTicket is the raw-Parquet ticket of the named dataset.
func RawParquetTicket(name string) []byte { return []byte(RawParquetTicketPrefix + name) }

// RawParquetHeader is the app_metadata of the first message of a raw-Parquet stream.
// Clients must ignore fields they do not know.
type RawParquetHeader struct {
	// Bytes is the size of the file that follows; a client checks it got them all.
	Bytes int64 `json:"bytes"`
	// Rows is the number of rows in the file.
	Rows int64 `json:"rows"`
}

// Kind is what a request is about, as the router sends it on.
type Kind int

const (
	// KindUnknown is a request no handler here serves: a DoPut whose first message has
	// no descriptor, a descriptor of neither type, a message of another type.
	KindUnknown Kind = iota
	// KindDataset is a plain Flight request on a dataset: a PATH descriptor, a ticket
	// that is a dataset name, the drop_dataset action.
	KindDataset
	// KindFlightSQL is a Flight SQL command: a CMD descriptor (whether or not its bytes
	// decode: the Flight SQL server answers those that do not) or a ticket that is a
	// serialized Any holding a Flight SQL message.
	KindFlightSQL
	// KindAction is any other action: Flight SQL's and Flight's own (sessions,
	// cancellation), or one this server does not have.
	KindAction
)

func (k Kind) String() string {
	switch k {
	case KindDataset:
		return "dataset"
	case KindFlightSQL:
		return "flightsql"
	case KindAction:
		return "action"
	}
	return "unknown"
}

// Request is the one reading of a request's (first) message that the router, the
// authorization guard and the request log share, so that none of them can take a
// request for something else than the others do. Every field is as the client sent
// it: untrusted, unvalidated.
type Request struct {
	Kind Kind
	// Dataset is the dataset a KindDataset request names: the one element of a PATH
	// descriptor ("" if it has another number), a ticket's bytes, drop_dataset's body.
	Dataset string
	// Path holds a PATH descriptor's elements.
	Path []string
	// Command is the Flight SQL message type, e.g. "CommandStatementQuery", of a
	// command, a ticket or an action body that holds one; "" otherwise.
	Command string
	// Message is that Flight SQL message, decoded; nil if it did not decode.
	Message proto.Message
	// SQL is the statement of a CommandStatementQuery, of a statement ticket's handle,
	// or of a CreatePreparedStatement request.
	SQL string
	// Table is the target table of a CommandStatementIngest.
	Table string
	// Action is a DoAction's type.
	Action string
	// RawParquet is true for a raw-Parquet ticket (RawParquetTicketPrefix); Dataset is
	// the name that follows the prefix. It is read as a DoGet of that dataset.
	RawParquet bool
	// Parts is true for a parts ticket (PartsTicketPrefix); Dataset is the name it
	// holds ("" when it does not decode), PartsTicket the whole of it.
	Parts       bool
	PartsTicket PartsTicket
}

// Classify reads a request message: a FlightDescriptor (GetFlightInfo, PollFlightInfo,
// GetSchema), the first FlightData of a DoPut or DoExchange (its descriptor), a
// Ticket (DoGet) or an Action (DoAction). Anything else is KindUnknown.
func Classify(m any) Request {
	switch m := m.(type) {
	case *flight.FlightDescriptor:
		return Descriptor(m)
	case *flight.FlightData:
		return Descriptor(m.GetFlightDescriptor())
	case *flight.Ticket:
		return Ticket(m.GetTicket())
	case *flight.Action:
		return Action(m)
	}
	return Request{}
}

// Descriptor reads a FlightDescriptor; nil is KindUnknown.
func Descriptor(d *flight.FlightDescriptor) Request {
	switch {
	case d == nil:
		return Request{}
	case d.GetType() == flight.DescriptorPATH:
		r := Request{Kind: KindDataset, Path: d.GetPath()}
		if len(r.Path) == 1 {
			r.Dataset = r.Path[0]
		}
		return r
	case d.GetType() == flight.DescriptorCMD:
		r := Request{Kind: KindFlightSQL}
		r.readFlightSQL(d.GetCmd())
		return r
	}
	return Request{}
}

// Ticket reads a DoGet ticket: a Flight SQL ticket or a dataset's name. A dataset name
// can never be taken for a Flight SQL ticket: see FlightSQLAny.
func Ticket(t []byte) Request {
	if name, ok := strings.CutPrefix(string(t), RawParquetTicketPrefix); ok {
		return Request{Kind: KindDataset, Dataset: name, RawParquet: true}
	}
	if p, isParts, _ := DecodePartsTicket(t); isParts {
		return Request{Kind: KindDataset, Dataset: p.Dataset, Parts: true, PartsTicket: p}
	}
	r := Request{Kind: KindFlightSQL}
	if r.readFlightSQL(t) {
		return r
	}
	return Request{Kind: KindDataset, Dataset: string(t)}
}

// Action reads a DoAction request.
func Action(a *flight.Action) Request {
	if a.GetType() == DropDatasetAction {
		return Request{Kind: KindDataset, Action: a.GetType(), Dataset: string(a.GetBody())}
	}
	r := Request{Kind: KindAction, Action: a.GetType()}
	r.readFlightSQL(a.GetBody())
	return r
}

// readFlightSQL fills the Flight SQL fields from b if it is a Flight SQL Any, and
// reports whether it was.
func (r *Request) readFlightSQL(b []byte) bool {
	a, ok := FlightSQLAny(b)
	if !ok {
		return false
	}
	r.Command = CommandName(a)
	msg, err := a.UnmarshalNew()
	if err != nil {
		return true
	}
	r.Message = msg
	switch m := msg.(type) {
	case *pb.CommandStatementQuery:
		r.SQL = m.GetQuery()
	case *pb.ActionCreatePreparedStatementRequest:
		r.SQL = m.GetQuery()
	case *pb.TicketStatementQuery:
		if h, ok := DecodeStatementHandle(m.GetStatementHandle()); ok {
			r.SQL = h.SQL
		}
	case *pb.CommandStatementIngest:
		r.Table = m.GetTable()
	}
	return true
}
