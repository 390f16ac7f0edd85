package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/quiverdata/quiver/flightsql"
)

// nodeOptions are the flags for several servers on one dataset root.
type nodeOptions struct {
	advertise string
	peers     []string
}

func addNodeFlags(f *pflag.FlagSet, o *nodeOptions) {
	f.StringVar(&o.advertise, "advertise-addr", "", "HOST:PORT clients should dial for this server, handed out in dataset endpoints when --peers is set (default: --addr, which must then name a host and a port)")
	f.StringSliceVar(&o.peers, "peers", nil, "the other servers on the same --root, as their --advertise-addr HOST:PORT, comma-separated: a multi-part dataset's FlightInfo then spreads one endpoint per part over this server and its peers (default: none, one endpoint without a location)")
}

// nodes turns the flags into flightsql.Nodes; scheme is the location scheme of this
// server ("grpc://" or "grpc+tls://"), which its peers must share.
func (o nodeOptions) nodes(listen, scheme string) (flightsql.Nodes, error) {
	if len(o.peers) == 0 {
		if o.advertise != "" {
			if err := checkNodeAddr(o.advertise); err != nil {
				return flightsql.Nodes{}, fmt.Errorf("--advertise-addr: %w", err)
			}
		}
		return flightsql.Nodes{}, nil
	}
	self := o.advertise
	if self == "" {
		if err := checkNodeAddr(listen); err != nil {
			return flightsql.Nodes{}, fmt.Errorf("--peers needs --advertise-addr, the address peers and clients dial for this server: --addr %q is no such address: %w", listen, err)
		}
		self = listen
	} else if err := checkNodeAddr(self); err != nil {
		return flightsql.Nodes{}, fmt.Errorf("--advertise-addr: %w", err)
	}
	n := flightsql.Nodes{Self: scheme + self}
	seen := map[string]bool{self: true}
	for _, p := range o.peers {
		p = strings.TrimSpace(p)
		if err := checkNodeAddr(p); err != nil {
			return flightsql.Nodes{}, fmt.Errorf("--peers: %w", err)
		}
		if seen[p] {
			continue // itself, or named twice: one location each
		}
		seen[p] = true
		n.Peers = append(n.Peers, scheme+p)
	}
	return n, nil
}

// checkNodeAddr accepts a HOST:PORT clients can dial: a host (no unspecified
// address such as 0.0.0.0) and a port other than 0.
func checkNodeAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: want HOST:PORT: %w", addr, err)
	}
	if host == "" {
		return fmt.Errorf("%q: no host", addr)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("%q: %s is no address a client can dial", addr, host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port %q: want 1 to 65535", addr, port)
	}
	return nil
}
