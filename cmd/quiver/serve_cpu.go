package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"

	"github.com/spf13/pflag"

	"github.com/quiverdata/quiver/catalog/lowprio"
)

// How the server shares the CPU between bulk work (decoding and encoding Parquet,
// DuckDB running statements) and short requests (metadata calls, planning, small
// queries): catalog/lowprio. Under 32 clients on 2 cores, every short request used
// to wait its turn behind the bulk work: GetTables p99 250–380 ms.

// procsPerCore is how many Ps (GOMAXPROCS) the server runs per core when bulk work
// is set apart: with more Ps than bulk slots, a short request always finds a P, and
// the kernel, not Go's 10 ms time slices, decides who runs. BenchmarkLoad, 32
// clients on 2 cores, GOMAXPROCS 2 -> 8 alone: the Go scheduler's wait p99 fell
// from 42–58 ms to 6–12 ms a wake-up.
const procsPerCore = 4

// startProcs is GOMAXPROCS as the process started: Go's default is the cores the
// process may use (apply may run more than once in tests).
var startProcs = runtime.GOMAXPROCS(0)

// cpuOptions are the flags of CPU sharing.
type cpuOptions struct {
	// bulkNice is the niceness of bulk work's threads; 0: not set apart.
	bulkNice int
}

func addCPUFlags(f *pflag.FlagSet, o *cpuOptions) {
	f.IntVar(&o.bulkNice, "bulk-nice", 10, "niceness (1-19, Linux) of the threads doing bulk work: decoding and encoding Parquet and DuckDB running statements, which also run at most one per core at a time, so that metadata calls and planning are answered first when the CPU is busy (0: bulk work is not set apart)")
}

// apply configures lowprio and GOMAXPROCS; it runs before anything starts work.
func (o cpuOptions) apply(log *slog.Logger) error {
	if o.bulkNice < 0 || o.bulkNice > 19 {
		return usageErrorf("--bulk-nice %d: want 0 (off) to 19", o.bulkNice)
	}
	if o.bulkNice == 0 {
		return lowprio.Configure(0, 0)
	}
	// One bulk slot per core, and more Ps than slots, so that some are always free
	// for short requests.
	cores, procs := startProcs, 0
	if os.Getenv("GOMAXPROCS") == "" {
		procs = procsPerCore * cores
		runtime.GOMAXPROCS(procs)
	} else { // the operator chose the Ps; keep half of them for short requests
		procs = runtime.GOMAXPROCS(0)
		cores = max(1, min(runtime.NumCPU(), procs/2))
	}
	nice := o.bulkNice
	if err := lowprio.Configure(nice, cores); err != nil {
		log.Warn("bulk work runs at the normal priority", "err", err)
		nice = 0
		if err := lowprio.Configure(0, cores); err != nil {
			return fmt.Errorf("--bulk-nice: %w", err)
		}
	}
	log.Info("bulk work set apart", "bulk_nice", nice, "bulk_slots", cores, "gomaxprocs", procs)
	return nil
}
