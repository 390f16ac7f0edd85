// Package integration holds end-to-end tests and benchmarks of Quiver: a real server
// on 127.0.0.1:0 and real clients (the arrow-go Flight client here; pyarrow, ADBC and
// JDBC in python/ and jdbc/). It has no non-test code.
package integration
