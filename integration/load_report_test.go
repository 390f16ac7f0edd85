package integration

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// What BenchmarkLoad measures and how it reports it (load_bench_test.go).

// maxErrorSamples bounds the distinct error messages kept per operation.
const maxErrorSamples = 10

// opStats are one operation's outcomes.
type opStats struct {
	lat       []time.Duration // of the operations that succeeded
	exhausted int             // ResourceExhausted: a limit refused the call
	errors    map[string]int  // every other failure, by kind (a gRPC code, WrongResult, client)
	samples   map[string]int  // "kind: message" → count, at most maxErrorSamples entries
	dropped   int             // failures whose message was not kept
}

// record counts one operation that took took and ended with err.
func (s *opStats) record(took time.Duration, err error) {
	if err == nil {
		s.lat = append(s.lat, took)
		return
	}
	kind := errorKind(err)
	if kind == codes.ResourceExhausted.String() {
		s.exhausted++
	} else {
		if s.errors == nil {
			s.errors = map[string]int{}
		}
		s.errors[kind]++
	}
	s.sample(kind+": "+err.Error(), 1)
}

// sample counts n failures with message msg.
func (s *opStats) sample(msg string, n int) {
	if s.samples == nil {
		s.samples = map[string]int{}
	}
	if _, ok := s.samples[msg]; ok || len(s.samples) < maxErrorSamples {
		s.samples[msg] += n
		return
	}
	s.dropped += n
}

// errorKind is the gRPC code of err, "WrongResult" for an answer that was wrong,
// or "client" for a failure that never reached the server as a status.
func errorKind(err error) string {
	if errors.Is(err, errWrongResult) {
		return "WrongResult"
	}
	if st, ok := status.FromError(err); ok {
		return st.Code().String()
	}
	return "client"
}

func (s *opStats) failures() int {
	n := 0
	for _, c := range s.errors {
		n += c
	}
	return n
}

func (s *opStats) add(o *opStats) {
	s.lat = append(s.lat, o.lat...)
	s.exhausted += o.exhausted
	for k, n := range o.errors {
		if s.errors == nil {
			s.errors = map[string]int{}
		}
		s.errors[k] += n
	}
	for m, n := range o.samples {
		s.sample(m, n)
	}
	s.dropped += o.dropped
}

// percentile of sorted latencies, q in [0, 1].
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func mb(bytes int64) float64 { return float64(bytes) / 1e6 }

// loadMemory is the server process's memory, in bytes, at points of the run.
type loadMemory struct {
	setupRSS       int64 // VmRSS once the datasets were created
	peakSampledRSS int64 // the largest VmRSS seen, sampled every 100 ms during the load
	hwm            int64 // VmHWM at the end of the load: the peak RSS, from the kernel
	endRSS         int64 // VmRSS when the last client finished
	settledRSS     int64 // VmRSS 3 s later, every client idle
}

// loadResult is one load run's figures.
type loadResult struct {
	cfg          loadConfig
	elapsed      time.Duration
	stats        map[string]*opStats
	mem          loadMemory
	serverErrors []string // level=ERROR lines of the server's log
	printed      bool     // the table went to stdout
	// CPU time the server process and this test process (the clients) used during
	// the load: on a shared machine, what tells a slow server from a starved one.
	serverCPU, clientCPU time.Duration
}

// opsPerServerCPU is total operations per second of CPU the server used: on a
// machine shared with other work, steadier than ops/s, which counts the waits for
// a core too.
func (r *loadResult) opsPerServerCPU(total int) float64 {
	if r.serverCPU <= 0 {
		return 0
	}
	return float64(total) / r.serverCPU.Seconds()
}

func (r *loadResult) merge(op string, s *opStats) {
	if r.stats[op] == nil {
		r.stats[op] = &opStats{}
	}
	r.stats[op].add(s)
}

// report logs the table, reports the metrics, and fails b on any error other than
// ResourceExhausted: the goal under load is none.
func (r *loadResult) report(b *testing.B) {
	ops := slices.Sorted(maps.Keys(r.stats))
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "op\tok\terrors\texhausted\tp50 ms\tp99 ms\tmax ms\tops/s\t\n")
	secs := r.elapsed.Seconds()
	var total, totalErr, totalExhausted int
	for _, op := range ops {
		s := r.stats[op]
		slices.Sort(s.lat)
		ok := len(s.lat)
		fails := s.failures()
		total += ok + fails + s.exhausted
		totalErr += fails
		totalExhausted += s.exhausted
		p50, p99, mx := percentile(s.lat, 0.50), percentile(s.lat, 0.99), percentile(s.lat, 1)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t\n", op, ok, fails, s.exhausted, ms(p50), ms(p99), ms(mx), float64(ok+fails+s.exhausted)/secs)
		b.ReportMetric(ms(p50), op+"_p50_ms")
		b.ReportMetric(ms(p99), op+"_p99_ms")
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t\t\t\t%.1f\t\n", total-totalErr-totalExhausted, totalErr, totalExhausted, float64(total)/secs)
	tw.Flush()

	fmt.Fprintf(&sb, "\n%d clients for %v; server memory: after setup %.1f MB RSS, peak %.1f MB (VmHWM), largest sampled %.1f MB, at the end %.1f MB, 3 s later %.1f MB\n",
		r.cfg.clients, r.elapsed.Round(time.Millisecond), mb(r.mem.setupRSS), mb(r.mem.hwm), mb(r.mem.peakSampledRSS), mb(r.mem.endRSS), mb(r.mem.settledRSS))
	fmt.Fprintf(&sb, "CPU: the server %.1f s (%.2f cores), the clients %.1f s (%.2f cores), of %d cores; %.1f ops per server CPU second\n",
		r.serverCPU.Seconds(), r.serverCPU.Seconds()/secs, r.clientCPU.Seconds(), r.clientCPU.Seconds()/secs, runtime.NumCPU(), r.opsPerServerCPU(total))
	for _, op := range ops {
		s := r.stats[op]
		for _, m := range slices.Sorted(maps.Keys(s.samples)) {
			fmt.Fprintf(&sb, "  %s x%d: %s\n", op, s.samples[m], m)
		}
		if s.dropped > 0 {
			fmt.Fprintf(&sb, "  %s: %d more failures, messages not kept\n", op, s.dropped)
		}
	}
	if n := len(r.serverErrors); n > 0 {
		fmt.Fprintf(&sb, "server logged %d ERROR lines; the first:\n", n)
		for _, l := range r.serverErrors[:min(n, 5)] {
			fmt.Fprintf(&sb, "  %s\n", l)
		}
	}
	// The testing package keeps only the first lines of a benchmark's log, so the
	// table goes to stdout, once.
	if !r.printed {
		fmt.Printf("\nBenchmarkLoad: %s\n%s\n", r.cfg, sb.String())
		r.printed = true
	}
	b.Logf("%d ops in %v, %d errors, %d ResourceExhausted, server peak RSS %.1f MB (table on stdout)",
		total, r.elapsed.Round(time.Millisecond), totalErr, totalExhausted, mb(r.mem.hwm))

	b.ReportMetric(0, "ns/op") // one run of a fixed duration: ns/op says nothing
	b.ReportMetric(float64(total)/secs, "ops/s")
	b.ReportMetric(float64(totalErr), "errors")
	b.ReportMetric(float64(totalExhausted), "exhausted")
	b.ReportMetric(mb(r.mem.hwm), "peak_rss_MB")
	b.ReportMetric(mb(r.mem.peakSampledRSS), "sampled_rss_MB")
	b.ReportMetric(mb(r.mem.settledRSS), "settled_rss_MB")
	b.ReportMetric(r.serverCPU.Seconds()/secs, "server_cores")
	b.ReportMetric(r.opsPerServerCPU(total), "ops/server_cpu_s")
	if totalErr > 0 {
		b.Errorf("%d operations failed (other than ResourceExhausted); see the messages above", totalErr)
	}
	for _, m := range r.cfg.mix {
		if s := r.stats[m.op]; m.weight > 0 && (s == nil || len(s.lat)+s.failures()+s.exhausted == 0) {
			b.Errorf("op %s is in the mix but never ran", m.op)
		}
	}
}

// procMemory is a process's resident set now and at its peak, in bytes.
type procMemory struct{ rss, hwm int64 }

// readProcMemory reads VmRSS and VmHWM from /proc/PID/status.
func readProcMemory(pid int) (procMemory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMemory{}, err
	}
	defer f.Close()
	var m procMemory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return m, fmt.Errorf("/proc/%d/status: %s: %w", pid, key, err)
		}
		if key == "VmRSS" {
			m.rss = kb << 10
		} else {
			m.hwm = kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		return m, err
	}
	if m.rss == 0 || m.hwm == 0 {
		return m, fmt.Errorf("/proc/%d/status has no VmRSS or VmHWM", pid)
	}
	return m, nil
}

// clockTicks is the unit of /proc/PID/stat's CPU times (USER_HZ, 100 on Linux).
const clockTicks = 100

// processCPU is the user and system CPU time pid has used, from /proc/PID/stat.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: count
	// fields after its closing one. utime and stime are fields 14 and 15.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the command name, want 13 or more", pid, len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// selfCPU is the user and system CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssSampler polls a process's VmRSS and keeps the largest value.
type rssSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	peak procMemory
}

func startRSSSampler(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-tick.C:
				if m, err := readProcMemory(pid); err == nil {
					s.peak.rss = max(s.peak.rss, m.rss)
					s.peak.hwm = max(s.peak.hwm, m.hwm)
				}
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the largest values seen.
func (s *rssSampler) stop() procMemory {
	close(s.done)
	s.wg.Wait()
	return s.peak
}

// serverErrorLines returns the lines of a server log at level ERROR (text or
// JSON format).
func serverErrorLines(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "level=ERROR") || strings.Contains(l, `"level":"ERROR"`) {
			out = append(out, l)
		}
	}
	return out
}

func TestLoadStatsCountsExhaustedApart(t *testing.T) {
	var s opStats
	s.record(5*time.Millisecond, nil)
	s.record(time.Millisecond, status.Error(codes.ResourceExhausted, "too many streams for principal"))
	s.record(time.Millisecond, fmt.Errorf("doget: %w", status.Error(codes.Internal, "boom")))
	s.record(time.Millisecond, fmt.Errorf("%w: 3 rows, want 4", errWrongResult))
	s.record(time.Millisecond, io.ErrUnexpectedEOF)
	if len(s.lat) != 1 || s.lat[0] != 5*time.Millisecond {
		t.Errorf("latencies %v, want the one success", s.lat)
	}
	if s.exhausted != 1 {
		t.Errorf("exhausted = %d, want 1", s.exhausted)
	}
	if want := map[string]int{"Internal": 1, "WrongResult": 1, "client": 1}; !maps.Equal(s.errors, want) || s.failures() != 3 {
		t.Errorf("errors %v (%d), want %v", s.errors, s.failures(), want)
	}
	if want := "ResourceExhausted: rpc error: code = ResourceExhausted desc = too many streams for principal"; s.samples[want] != 1 {
		t.Errorf("samples %q lack %q", slices.Sorted(maps.Keys(s.samples)), want)
	}

	// Distinct messages are kept up to a bound; the rest are counted.
	var many opStats
	for i := range maxErrorSamples + 5 {
		many.record(0, status.Errorf(codes.Unavailable, "connection %d reset", i))
	}
	many.record(0, status.Errorf(codes.Unavailable, "connection %d reset", 0))
	if len(many.samples) != maxErrorSamples || many.dropped != 5 || many.samples["Unavailable: rpc error: code = Unavailable desc = connection 0 reset"] != 2 {
		t.Errorf("samples %d (want %d), dropped %d (want 5), repeats %v", len(many.samples), maxErrorSamples, many.dropped, many.samples)
	}
	var merged opStats
	merged.add(&s)
	merged.add(&many)
	if merged.failures() != 3+maxErrorSamples+6 || merged.exhausted != 1 || len(merged.lat) != 1 {
		t.Errorf("merged: %d failures, %d exhausted, %d ok", merged.failures(), merged.exhausted, len(merged.lat))
	}
	// Every failure is either a kept message or counted as dropped.
	kept := 0
	for _, n := range merged.samples {
		kept += n
	}
	if len(merged.samples) != maxErrorSamples || kept+merged.dropped != merged.failures()+merged.exhausted {
		t.Errorf("merged: %d messages kept %d times, %d dropped; want %d messages and %d in all",
			len(merged.samples), kept, merged.dropped, maxErrorSamples, merged.failures()+merged.exhausted)
	}
}

func TestLoadMix(t *testing.T) {
	mix, err := parseMix(defaultLoadMix)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, m := range mix {
		total += m.weight
	}
	if len(mix) != len(loadOps) || total != 100 {
		t.Errorf("default mix has %d ops (want every one of %d) weighing %d (want 100)", len(mix), len(loadOps), total)
	}
	for _, bad := range []struct{ mix, mention string }{
		{"put", `"put" is not op=weight`},
		{"put=x", `"put=x" is not op=weight`},
		{"put=-1", `"put=-1" is not op=weight`},
		{"put=1,drop=1", `unknown op "drop"`},
		{"put=0,doget=0", "every weight is 0"},
	} {
		if _, err := parseMix(bad.mix); err == nil || !strings.Contains(err.Error(), bad.mention) {
			t.Errorf("parseMix(%q) = %v, want an error mentioning %s", bad.mix, err, bad.mention)
		}
	}
	only, err := parseMix("put=0,doget=3")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		if op := pick(only, rng); op != "doget" {
			t.Fatalf("pick from put=0,doget=3 gave %q", op)
		}
	}
}

// TestLoadProcReaders checks the /proc readers on this process: memory within
// sense, and CPU time agreeing with getrusage.
func TestLoadProcReaders(t *testing.T) {
	m, err := readProcMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.rss < 1<<20 || m.hwm < m.rss {
		t.Errorf("VmRSS %d, VmHWM %d: want at least 1 MiB and HWM >= RSS", m.rss, m.hwm)
	}
	// Burn 100 ms of CPU (not of wall time: on a busy machine a spin may get little).
	for start, deadline := selfCPU(), time.Now().Add(10*time.Second); selfCPU()-start < 100*time.Millisecond && time.Now().Before(deadline); {
	}
	before := selfCPU()
	proc, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	after := selfCPU()
	// /proc counts in 10 ms ticks; allow a few.
	if proc < before-50*time.Millisecond || proc > after+50*time.Millisecond || proc < 100*time.Millisecond {
		t.Errorf("/proc says %v of CPU, getrusage %v..%v", proc, before, after)
	}
	if _, err := readProcMemory(-1); err == nil {
		t.Error("no error for a process that does not exist")
	}
}
