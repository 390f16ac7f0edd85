// Package auth decides who may do what on a Quiver server: it reads the auth file
// (users with bcrypt password hashes, static bearer tokens stored as hashes, their
// permissions and dataset patterns), exchanges HTTP Basic credentials sent in the Flight
// Handshake for expiring bearer tokens, and checks every gRPC call in one pair of
// interceptors (Guard.UnaryInterceptor, Guard.StreamInterceptor).
//
// The interceptors classify each request before any handler sees it: the method, and
// for streams the first message (the ticket of DoGet, the descriptor of DoPut, the type
// of DoAction), decoded with arrow-go's Flight and Flight SQL protobufs. Handlers in
// package flightsql therefore never authorize anything themselves; they may read the
// caller from the context with FromContext.
//
// It is not a user database: the auth file is the whole truth. A FileWatcher re-reads
// it (the server does on SIGHUP and when it changes) and the Authenticator swaps the
// whole set of users and tokens at once; since issued tokens carry only the user's
// name and grants are looked up at each call, what the new file no longer allows
// stops working on the next call. Password logins are limited (limiter.go): a few
// bcrypt checks at a time, and a failure budget per user name and client address.
// It does not terminate TLS either; that is a grpc.ServerOption set up beside it.
package auth
