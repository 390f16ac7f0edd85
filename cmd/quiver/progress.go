package main

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows a transfer on stderr: a bar in bytes or rows with rate and ETA when
// the total is known, a counter when it is not. A nil *progress shows nothing, so
// callers need not ask whether it is on.
type progress struct {
	bar   *progressbar.ProgressBar
	unit  string // what the bar counts: "bytes" or "rows"
	rows  atomic.Int64
	bytes atomic.Int64
}

// newProgress returns a progress for what ("put sales.parquet"), counting unit
// ("bytes" or "rows") up to total (-1: unknown); nil when o says no bar.
func newProgress(o *clientOptions, what, unit string, total int64) *progress {
	switch o.progress {
	case "never":
		return nil
	case "auto":
		if !isTerminal(os.Stderr) {
			return nil
		}
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionUseIECUnits(true),
	}
	if unit == "bytes" {
		opts = append(opts, progressbar.OptionShowBytes(true))
	} else {
		opts = append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit))
	}
	return &progress{bar: progressbar.NewOptions64(total, opts...), unit: unit}
}

// add counts rows and bytes done; the other one shows in the description.
func (p *progress) add(what string, rows, bytes int64) {
	if p == nil {
		return
	}
	r, b := p.rows.Add(rows), p.bytes.Add(bytes)
	if p.unit == "bytes" {
		p.bar.Describe(fmt.Sprintf("%s (%d rows)", what, r))
		p.bar.Add64(bytes)
	} else {
		p.bar.Describe(fmt.Sprintf("%s (%s)", what, humanBytes(b)))
		p.bar.Add64(rows)
	}
}

// doneBytes is the bytes counted so far.
func (p *progress) doneBytes() int64 {
	if p == nil {
		return 0
	}
	return p.bytes.Load()
}

// finish completes the bar, or clears it after a failure.
func (p *progress) finish(err error) {
	if p == nil {
		return
	}
	if err != nil {
		p.bar.Exit()
		fmt.Fprintln(os.Stderr)
		return
	}
	p.bar.Finish()
	fmt.Fprintln(os.Stderr)
}

// countingReader counts the bytes read through it, by Read or ReadAt, for the bar.
type countingReader struct {
	r     io.Reader
	on    func(n int64)
	ra    io.ReaderAt
	seekr io.Seeker
}

func newCountingReader(r io.Reader, on func(int64)) *countingReader {
	c := &countingReader{r: r, on: on}
	c.ra, _ = r.(io.ReaderAt)
	c.seekr, _ = r.(io.Seeker)
	return c
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.on(int64(n))
	return n, err
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	if c.ra == nil {
		return 0, fmt.Errorf("ReadAt on a stream")
	}
	n, err := c.ra.ReadAt(p, off)
	c.on(int64(n))
	return n, err
}

func (c *countingReader) Seek(off int64, whence int) (int64, error) {
	if c.seekr == nil {
		return 0, fmt.Errorf("Seek on a stream")
	}
	return c.seekr.Seek(off, whence)
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// humanBytes is n in IEC units, "1.5 MiB".
func humanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f, unit := float64(n), 0
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	for f /= 1024; f >= 1024 && unit < len(units)-1; unit++ {
		f /= 1024
	}
	return fmt.Sprintf("%.1f %s", f, units[unit])
}
