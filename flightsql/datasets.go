package flightsql

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/quiverdata/quiver/catalog"
)

// The plain Flight dataset endpoints of the Arrow cookbook recipe.

// datasetName decodes a PATH descriptor: exactly one element, the dataset name.
func datasetName(desc *flight.FlightDescriptor) (string, error) {
	path := desc.GetPath()
	if len(path) != 1 {
		return "", toStatus(fmt.Errorf("%w: a PATH descriptor names one dataset, got %d path elements %q", errInvalidRequest, len(path), path))
	}
	if err := catalog.ValidateName(path[0]); err != nil {
		return "", toStatus(err)
	}
	return path[0], nil
}

// flightInfo describes one dataset version. On a server without peers its one
// endpoint has no location: "fetch from this server", so clients never get an
// unreachable 0.0.0.0 address, and its ticket is the dataset name's bytes, as the
// cookbook's server issues it. With peers a multi-part dataset is split across
// endpoints and nodes (Nodes.endpoints). app_metadata is datasetMetadata as JSON:
// what FlightInfo has no field for.
func (s *Server) flightInfo(info catalog.Info) *flight.FlightInfo {
	meta, _ := json.Marshal(datasetMetadata{Modified: info.Modified.UTC().Format(time.RFC3339)}) // cannot fail: strings only
	return &flight.FlightInfo{
		Schema:           flight.SerializeSchema(info.Schema, s.mem),
		FlightDescriptor: &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{info.Name}},
		Endpoint:         s.nodes.endpoints(info),
		TotalRecords:     info.Rows,
		TotalBytes:       info.Bytes,
		AppMetadata:      meta,
	}
}

// datasetMetadata is the app_metadata of a dataset's FlightInfo. Clients must ignore
// fields they do not know, so fields may be added, never renamed.
type datasetMetadata struct {
	// Modified is when the dataset last changed, RFC 3339 in UTC.
	Modified string `json:"modified"`
}

func (s *Server) listDatasets(ctx context.Context, _ *flight.Criteria, stream flight.FlightService_ListFlightsServer) error {
	infos, err := s.datasets(ctx)
	if err != nil {
		return toStatus(err)
	}
	for _, info := range infos {
		if err := stream.Send(s.flightInfo(info)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) datasetInfo(ctx context.Context, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	name, err := datasetName(desc)
	if err != nil {
		return nil, err
	}
	info, err := s.store.Stat(ctx, name)
	if err != nil {
		return nil, toStatus(err)
	}
	return s.flightInfo(info), nil
}

func (s *Server) datasetSchema(ctx context.Context, desc *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	name, err := datasetName(desc)
	if err != nil {
		return nil, err
	}
	info, err := s.store.Stat(ctx, name)
	if err != nil {
		return nil, toStatus(err)
	}
	return &flight.SchemaResult{Schema: flight.SerializeSchema(info.Schema, s.mem)}, nil
}

// getDataset streams the version of a dataset current when the call starts (a
// dataset-name ticket), or the parts of one version a parts ticket names.
//
// Decoding Parquet and sending IPC each keep a core busy, so they run side by side:
// a goroutine decodes (readAhead) while this one writes to gRPC. Besides the batch
// being written, at most sendAhead+1 decoded batches wait (in the channel, and the
// one the decoder holds until there is room), each holding its share of the result
// memory budget until it is written.
func (s *Server) getDataset(t *flight.Ticket, stream flight.FlightService_DoGetServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	name, kind, open, err := s.ticketKindReader(t.GetTicket())
	if err != nil {
		return toStatus(err)
	}
	rdr, err := open(ctx)
	if err != nil {
		return toStatus(err)
	}
	defer rdr.Release()
	if s.encodedSends.Load() {
		// The version is the one just opened: an entry of it is never stale.
		key := dogetKey(kind, rdr.Info())
		if e := s.dogets.get(key); e != nil {
			return s.sendKept(ctx, name, e, stream)
		}
		return s.sendDecoded(ctx, cancel, name, rdr, nil, stream, s.dogets.startFill(key, name))
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(rdr.Schema()), ipc.WithAllocator(s.mem))
	defer w.Close()

	batches, wait := s.decodeAhead(ctx, name, rdr)
	var sendErr error
	for b := range batches {
		if sendErr == nil {
			if err := w.Write(b.rec); err != nil {
				sendErr = fmt.Errorf("send: %w", err)
				cancel() // stop the decoding; the batches still queued are dropped below
			}
		}
		b.release()
	}
	rows, limitErr, readErr := wait() // the reader is ours again: rdr.Release may run
	if err := cmp.Or(sendErr, limitErr); err != nil {
		return toStatus(fmt.Errorf("dataset %q: %w", name, err))
	}
	if readErr != nil {
		return toStatus(readErr) // the reader's errors name the dataset
	}
	s.log.Debug("dataset sent", "dataset", name, "rows", rows)
	return nil
}

// putDataset stores the stream under the descriptor's name, replacing any previous
// version, like the cookbook's server, unless the call's headers ask otherwise
// (put_options.go: another mode, hive-style partitions). Nothing changes unless the
// whole stream arrives.
func (s *Server) putDataset(desc *flight.FlightDescriptor, stream *intakeStream) error {
	ctx := stream.Context()
	name, err := datasetName(desc)
	if err != nil {
		return err
	}
	opts, err := putOptionsOf(ctx)
	if err != nil {
		return toStatus(fmt.Errorf("put dataset %q: %w", name, err))
	}
	rdr, err := openIntake(stream, s.mem)
	if err != nil {
		return toStatus(fmt.Errorf("put dataset %q: %w", name, err))
	}
	defer rdr.Release()
	var rows int64
	if len(opts.partitionBy) > 0 {
		rows, err = s.store.PutPartitioned(ctx, name, opts.mode, opts.partitionBy, rdr)
	} else {
		rows, err = s.store.Put(ctx, name, opts.mode, rdr)
	}
	if err != nil {
		return toStatus(err)
	}
	s.log.Debug("dataset stored", "dataset", name, "rows", rows)
	return nil
}

// dropDataset is the drop_dataset action: the body is the dataset name. Like the
// cookbook's, it returns no results.
func (s *Server) dropDataset(ctx context.Context, a *flight.Action) error {
	name := string(a.GetBody())
	if err := catalog.ValidateName(name); err != nil {
		return toStatus(fmt.Errorf("drop_dataset: %w", err))
	}
	return toStatus(s.store.Drop(ctx, name))
}
