package main

import (
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/quiverdata/quiver/flightsql"
)

// The limit flags default to flightsql.DefaultLimits, 0 turns a limit off, and the
// flags (and so their QUIVER_ variables) reach flightsql.Limits.
func TestLimitFlags(t *testing.T) {
	parse := func(env map[string]string, args ...string) limitOptions {
		t.Helper()
		var o limitOptions
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		addLimitFlags(fs, &o)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := applyConfig(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
			t.Fatal(err)
		}
		return o
	}
	if got := parse(nil).limits(); got != flightsql.DefaultLimits {
		t.Errorf("defaults: %+v, want %+v", got, flightsql.DefaultLimits)
	}
	o := parse(map[string]string{"QUIVER_MAX_QUERIES_PER_CLIENT": "3"},
		"--max-streams", "0", "--max-bound-bytes-per-client", "1024", "--prepared-idle-timeout", "1m", "--max-queue-wait", "0")
	want := flightsql.DefaultLimits
	want.Streams, want.QueriesPerClient, want.BoundBytesPerClient, want.QueueWait = -1, 3, 1024, -1
	if got := o.limits(); got != want {
		t.Errorf("limits: %+v, want %+v", got, want)
	}
	if o.preparedIdle != time.Minute {
		t.Errorf("--prepared-idle-timeout: %s", o.preparedIdle)
	}
}
