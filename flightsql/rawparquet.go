package flightsql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow/flight"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql/wire"
)

// Handing out a dataset's stored Parquet file as it is: `quiver get -o x.parquet`
// copies the bytes rather than decoding and re-encoding them (which changes the
// encoding and the size). The ticket is wire.RawParquetTicket; authorization reads it
// as a DoGet of the dataset, so the grants that let a client read the batches let it
// read the file, and no others.

// rawChunkBytes is the size of one message of a raw-Parquet stream: the memory the
// stream holds at a time, far under gRPC's message limit.
const rawChunkBytes = 1 << 20

// errNotOneFile is a raw-Parquet request for a dataset stored as several parts: its
// bytes are not one Parquet file. The client re-encodes instead.
var errNotOneFile = errors.New("not stored as one Parquet file")

// rawParquetFromTicket decodes a raw-Parquet ticket: the prefix, then a valid name.
func rawParquetFromTicket(b []byte) (string, error) {
	req := wire.Ticket(b)
	if !req.RawParquet {
		return "", fmt.Errorf("%w: not a raw-Parquet ticket", errInvalidRequest)
	}
	if err := catalog.ValidateName(req.Dataset); err != nil {
		return "", fmt.Errorf("%w: raw-Parquet ticket: %w", errInvalidRequest, err)
	}
	return req.Dataset, nil
}

// getRawParquet streams the stored file of a one-part dataset in chunks of
// rawChunkBytes. The version current when the call starts is sent whole, whatever
// replaces or drops it meanwhile: its file is open.
func (s *Server) getRawParquet(t *flight.Ticket, stream flight.FlightService_DoGetServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	name, err := rawParquetFromTicket(t.GetTicket())
	if err != nil {
		return toStatus(err)
	}
	info, parts, err := s.store.OpenParts(ctx, name)
	if err != nil {
		return toStatus(err)
	}
	defer func() {
		for _, p := range parts {
			p.Close()
		}
	}()
	if len(parts) != 1 {
		return toStatus(fmt.Errorf("dataset %q has %d Parquet parts (appends add parts): %w; fetch it with its dataset ticket", name, len(parts), errNotOneFile))
	}
	part := parts[0]
	// On object storage, through the part cache where it has room.
	src, done, err := s.store.WholePart(ctx, info.Keys[0], part)
	if err != nil {
		return toStatus(fmt.Errorf("dataset %q: %w", name, err))
	}
	defer done()
	header, _ := json.Marshal(wire.RawParquetHeader{Bytes: part.Size, Rows: info.Rows}) // cannot fail: numbers only
	if err := stream.Send(&flight.FlightData{AppMetadata: header}); err != nil {
		return fmt.Errorf("dataset %q: send: %w", name, err)
	}
	buf := make([]byte, rawChunkBytes)
	var sent int64
	for {
		if err := ctx.Err(); err != nil {
			return toStatus(err)
		}
		n, err := io.ReadFull(src, buf)
		if n > 0 {
			if serr := stream.Send(&flight.FlightData{DataBody: buf[:n]}); serr != nil {
				return fmt.Errorf("dataset %q: send: %w", name, serr)
			}
			sent += int64(n)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return toStatus(fmt.Errorf("dataset %q: read its file: %w", name, err))
		}
	}
	if sent != part.Size {
		return toStatus(fmt.Errorf("dataset %q: read %d bytes of its %d-byte file: %w", name, sent, part.Size, catalog.ErrUnreadable))
	}
	s.log.Debug("dataset file sent", "dataset", name, "bytes", sent)
	return nil
}
