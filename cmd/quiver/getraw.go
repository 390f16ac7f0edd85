package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/flightsql/wire"
)

// `quiver get NAME -o x.parquet` copies the stored Parquet file byte for byte when
// the server can hand it out (a raw-Parquet ticket, wire.RawParquetTicket); otherwise
// it re-encodes the batches, as for every other format, and says why.

// errNoRawCopy is a server that cannot hand out the stored file: a dataset of several
// parts, a server without raw-Parquet tickets, a grant that allows only batches.
type errNoRawCopy struct{ why string }

func (e *errNoRawCopy) Error() string { return e.why }

// getRawParquet copies the stored file of the dataset name to out, calling onBytes
// for each chunk, and returns the rows and bytes of the file. An *errNoRawCopy means
// nothing was written and the caller should re-encode instead.
func getRawParquet(ctx context.Context, fc flight.Client, name string, out io.Writer, onBytes func(int64)) (rows, size int64, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := fc.DoGet(ctx, &flight.Ticket{Ticket: wire.RawParquetTicket(name)})
	if err != nil {
		return 0, 0, noRawCopy(err)
	}
	first, err := stream.Recv()
	if err != nil {
		return 0, 0, noRawCopy(err)
	}
	var header wire.RawParquetHeader
	if len(first.GetDataHeader()) > 0 || json.Unmarshal(first.GetAppMetadata(), &header) != nil || header.Bytes <= 0 {
		// An older server read the ticket as something else and answered with batches.
		return 0, 0, &errNoRawCopy{why: "the server does not hand out stored Parquet files"}
	}
	var got int64
	for {
		fd, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, got, err
		}
		body := fd.GetDataBody()
		if got+int64(len(body)) > header.Bytes {
			return 0, got, fmt.Errorf("the server sent more than the %d bytes of the file it announced", header.Bytes)
		}
		if _, err := out.Write(body); err != nil {
			return 0, got, fmt.Errorf("write: %w", err)
		}
		got += int64(len(body))
		onBytes(int64(len(body)))
	}
	if got != header.Bytes {
		return 0, got, fmt.Errorf("the stream ended after %d of the file's %d bytes", got, header.Bytes)
	}
	return header.Rows, got, nil
}

// noRawCopy turns the refusals that mean "re-encode instead" into *errNoRawCopy and
// keeps every other error (no such dataset, no connection) as it is.
func noRawCopy(err error) error {
	switch status.Code(err) {
	case codes.FailedPrecondition, codes.PermissionDenied, codes.Unimplemented:
		return &errNoRawCopy{why: status.Convert(err).Message()}
	case codes.InvalidArgument:
		// A server without raw-Parquet tickets takes the ticket for a bad dataset name.
		return &errNoRawCopy{why: "the server does not hand out stored Parquet files"}
	}
	return err
}
