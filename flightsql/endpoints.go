package flightsql

import (
	"github.com/apache/arrow-go/v18/arrow/flight"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/flightsql/wire"
)

// Nodes describes the servers that share this one's dataset root, for spreading a
// dataset's endpoints across them. The zero value is a server on its own.
type Nodes struct {
	// Self is the location clients should dial for this server, a URI such as
	// "grpc+tcp://10.0.0.5:8815". Without it the endpoints name only the peers.
	Self string
	// Peers are the other servers' locations, in the same form. With none, every
	// dataset has one endpoint without a location, as on a single server.
	Peers []string
}

// maxEndpoints bounds the endpoints of one dataset: a dataset with more parts hands
// out groups of consecutive parts, so a FlightInfo stays small however many parts
// (appends) a dataset has.
const maxEndpoints = 64

// endpoints splits one version of a dataset for a parallel fetch. Without peers, or
// for a single part, it is today's one endpoint: the dataset name as ticket, no
// location ("this server"), which every cookbook client reads. Otherwise there is one
// endpoint per part (per group of consecutive parts past maxEndpoints), in read
// order, each with a parts ticket pinned to info.Version, so that the union of the
// endpoints is exactly that version. Endpoint i lists node i mod n first (this
// server is node 0, then the peers) and the other nodes after it, in ring order, as
// fallbacks: any node serves any part, since they share the root.
func (n Nodes) endpoints(info catalog.Info) []*flight.FlightEndpoint {
	parts := len(info.Keys)
	if len(n.Peers) == 0 || parts < 2 {
		return []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: []byte(info.Name)}}}
	}
	nodes := make([]string, 0, 1+len(n.Peers))
	for _, uri := range append([]string{n.Self}, n.Peers...) {
		if uri != "" { // a location with no URI would send clients nowhere
			nodes = append(nodes, uri)
		}
	}
	if len(nodes) == 0 {
		return []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: []byte(info.Name)}}}
	}
	groups := min(parts, maxEndpoints)
	eps := make([]*flight.FlightEndpoint, 0, groups)
	first := 0
	for g := 0; g < groups; g++ {
		// Spread the remainder over the first groups: sizes differ by at most one.
		count := parts / groups
		if g < parts%groups {
			count++
		}
		t := wire.PartsTicket{Dataset: info.Name, Version: info.Version, First: first, Count: count}
		locs := make([]*flight.Location, 0, len(nodes))
		for i := range nodes {
			locs = append(locs, &flight.Location{Uri: nodes[(g+i)%len(nodes)]})
		}
		eps = append(eps, &flight.FlightEndpoint{Ticket: &flight.Ticket{Ticket: t.Encode()}, Location: locs})
		first += count
	}
	return eps
}
