package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/quiverdata/quiver/flightsql"
)

// limitOptions are the flags that bound what clients hold at once
// (flightsql.Limits), and how long an idle prepared statement lives.
type limitOptions struct {
	streams, streamsPerClient int
	queries, queriesPerClient int
	preparedPerClient         int
	boundBytes                int64
	boundBytesPerClient       int64
	preparedIdle              time.Duration
	queueWait                 time.Duration
}

// addLimitFlags defines the limit flags. Each message a client gets at a limit names
// its flag (flightsql.FlagMax...), so the names are those constants without "--".
func addLimitFlags(f *pflag.FlagSet, o *limitOptions) {
	d := flightsql.DefaultLimits
	f.IntVar(&o.streams, flagName(flightsql.FlagMaxStreams), d.Streams,
		"concurrent DoGet/DoPut/DoExchange streams, all clients together (0: no limit)")
	f.IntVar(&o.streamsPerClient, flagName(flightsql.FlagMaxStreamsPerClient), d.StreamsPerClient,
		"concurrent streams of one client: a principal, or without authentication one IP address (0: no limit)")
	f.IntVar(&o.queries, flagName(flightsql.FlagMaxQueries), d.Queries,
		"SQL requests planning or running in DuckDB at once, all clients together (0: no limit)")
	f.IntVar(&o.queriesPerClient, flagName(flightsql.FlagMaxQueriesPerClient), d.QueriesPerClient,
		"SQL requests planning or running at once for one client (0: no limit)")
	f.IntVar(&o.preparedPerClient, flagName(flightsql.FlagMaxPreparedPerClient), d.PreparedPerClient,
		"prepared statements one client holds open (0: no limit)")
	f.Int64Var(&o.boundBytes, flagName(flightsql.FlagMaxBoundBytes), d.BoundBytes,
		"bytes of parameters bound to prepared statements, all clients together (0: no limit)")
	f.Int64Var(&o.boundBytesPerClient, flagName(flightsql.FlagMaxBoundBytesPerClient), d.BoundBytesPerClient,
		"bytes of parameters bound to prepared statements of one client (0: no limit)")
	f.DurationVar(&o.queueWait, flagName(flightsql.FlagMaxQueueWait), d.QueueWait,
		"how long a stream or SQL request that finds the server at --max-streams or --max-queries waits for a slot before it is refused (0: refuse at once)")
	f.DurationVar(&o.preparedIdle, "prepared-idle-timeout", 15*time.Minute,
		"close prepared statements (and free their bound parameters) unused this long")
}

func flagName(flag string) string { return flag[len("--"):] }

// limits is the flightsql.Limits of the flags: 0 on the command line means no limit,
// which flightsql.Limits spells as a negative number.
func (o limitOptions) limits() flightsql.Limits {
	return flightsql.Limits{
		Streams:             noLimit(o.streams),
		StreamsPerClient:    noLimit(o.streamsPerClient),
		Queries:             noLimit(o.queries),
		QueriesPerClient:    noLimit(o.queriesPerClient),
		PreparedPerClient:   noLimit(o.preparedPerClient),
		BoundBytes:          noLimit(o.boundBytes),
		BoundBytesPerClient: noLimit(o.boundBytesPerClient),
		QueueWait:           time.Duration(noLimit(int64(o.queueWait))), // 0: refuse at once
	}
}

// noLimit spells a flag's 0 ("no limit") as flightsql.Limits does: negative.
func noLimit[T int | int64](v T) T {
	if v <= 0 {
		return -1
	}
	return v
}
