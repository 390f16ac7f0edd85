package flightsql

import (
	"context"
	"fmt"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql/wire"
)

// datasetFromTicket decodes a plain Flight ticket: the dataset name's bytes, as the
// Arrow cookbook's server issues them.
func datasetFromTicket(b []byte) (string, error) {
	name := string(b)
	if err := catalog.ValidateName(name); err != nil {
		return "", fmt.Errorf("%w: ticket is neither a dataset name nor a Flight SQL ticket: %w", errInvalidRequest, err)
	}
	return name, nil
}

// ticketReader decodes a dataset ticket, a dataset's name or a parts ticket, and
// returns the dataset it names and how to open what it asks for.
func (s *Server) ticketReader(b []byte) (string, func(context.Context) (*catalog.Reader, error), error) {
	name, _, open, err := s.ticketKindReader(b)
	return name, open, err
}

// ticketKindReader is ticketReader that also names what the ticket asks for: "all"
// (a dataset's name) or the part range of a parts ticket (partsKind). A ticket's
// kind and the version opened decide the bytes a DoGet sends (dogettier.go).
func (s *Server) ticketKindReader(b []byte) (string, string, func(context.Context) (*catalog.Reader, error), error) {
	p, isParts, ok := wire.DecodePartsTicket(b)
	if !isParts {
		name, err := datasetFromTicket(b)
		if err != nil {
			return "", "", nil, err
		}
		return name, "all", func(ctx context.Context) (*catalog.Reader, error) { return s.store.Open(ctx, name) }, nil
	}
	name, open, err := s.partsReader(p, ok)
	return name, partsKind(p.First, p.Count), open, err
}

// partsReader checks a decoded parts ticket and returns how to open its parts.
func (s *Server) partsReader(p wire.PartsTicket, ok bool) (string, func(context.Context) (*catalog.Reader, error), error) {
	if !ok {
		return "", nil, fmt.Errorf("%w: parts ticket does not decode: want %q and then JSON with dataset, version, first and count", errInvalidRequest, wire.PartsTicketPrefix)
	}
	if err := catalog.ValidateName(p.Dataset); err != nil {
		return "", nil, fmt.Errorf("%w: parts ticket: %w", errInvalidRequest, err)
	}
	if p.Version == "" || p.First < 0 || p.Count < 1 {
		return "", nil, fmt.Errorf("%w: parts ticket of dataset %q: version %q, first part %d, %d parts: want a version, first >= 0 and count >= 1", errInvalidRequest, p.Dataset, p.Version, p.First, p.Count)
	}
	return p.Dataset, func(ctx context.Context) (*catalog.Reader, error) {
		return s.store.OpenVersionParts(ctx, p.Dataset, p.Version, p.First, p.Count)
	}, nil
}
