// Package console is Quiver's web console: a small HTTP server beside the Flight port
// (`quiver serve --http-addr`) with a JSON/CSV/Arrow/Parquet API under /api/ and the
// page that uses it (assets/, embedded).
//
// It is a thin door, not a second server: datasets are listed from the catalog, SQL
// runs through flightsql.Service.Query (the path of a Flight SQL statement: the same
// engine sandbox, query slots, query timeout and result memory budget), logins and
// grants go through the auth.Guard the Flight port uses, and failures carry the gRPC
// code the Flight port would give them, mapped to an HTTP status in one place
// (errors.go).
//
// It is not a general SQL gateway: its SQL only reads, JSON results are capped by rows
// and bytes, and downloads by the result limits. It holds no state but login sessions
// (session.go), in memory, capped and expiring.
package console
