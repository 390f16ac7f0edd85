// Package observe is what an operator sees of a running Quiver server: one structured
// log line per RPC, Prometheus metrics, and the gRPC health checking service.
//
// An Observer is a pair of gRPC interceptors (ServerOptions). They are chained, so
// authentication, session and other interceptors compose with them; install them
// first so that they are the outermost and also see the calls that inner
// interceptors refuse. They describe each call from the request itself: the dataset
// of a PATH descriptor, a dataset ticket or a drop_dataset action; the Flight SQL
// command type of a command descriptor, ticket or action, with the SQL text (shortened)
// of statement queries and prepared statements. They never log metadata (the
// authorization header, cookies) nor Handshake payloads (passwords).
//
// # Rows and bytes
//
// Every FlightData message a call sends or receives is counted as it passes through
// the interceptor: bytes are the length of its data_body (the Arrow buffers; IPC
// metadata headers and app_metadata are not counted), rows are the length field of
// its IPC message header when that header is a RecordBatch (read from the
// flatbuffer in place, a few bounds-checked loads, no allocation; dictionary batches
// and schemas count no rows). So rows and bytes need no help from the handlers and are
// exact for every Flight and Flight SQL stream, DoExchange included.
//
// Handlers and inner interceptors may add attributes to the call's log line with
// AddAttrs (an authenticated user, say).
//
// This package decides nothing and refuses nothing: it only watches.
package observe
