// Package fileformat converts between files and Arrow record batch streams for the
// quiver CLI: Parquet, CSV, JSON lines, and Arrow IPC in its file (.arrow, .feather)
// and stream (.arrows) forms.
//
// Readers and writers work a batch at a time, so memory stays bounded by a batch
// (CSV and JSON lines also keep the sample they infer types from) whatever the size
// of the file. Parquet and Arrow IPC files are read through io.ReaderAt, so they need
// a real file; the other formats read any io.Reader, stdin included.
//
// It is not a general conversion library: it knows what the CLI needs and nothing of
// Flight or the server.
package fileformat
