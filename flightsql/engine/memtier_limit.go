//go:build duckdb_arrow

package engine

import (
	"log/slog"
	"strconv"
	"strings"

	"github.com/quiverdata/quiver/flightsql/memtier"
)

// memoryLimit is DuckDB's memory_limit for a configured limit and memory tier. The
// tier's tables live in DuckDB's buffer pool and count against memory_limit, so a
// configured limit is raised by the tier's budget: queries keep the memory they had
// without the tier. Without a configured limit DuckDB's default (80% of RAM) holds
// the tier too. A limit DuckDB would parse but this does not is kept as given, and
// logged.
func memoryLimit(configured string, tier *memtier.Tier, log *slog.Logger) string {
	if configured == "" || !tier.Enabled() {
		return configured
	}
	n, ok := parseDuckSize(configured)
	if !ok {
		log.Warn("memory tier: cannot raise the memory limit by the tier's budget; the tier counts inside it",
			"memory_limit", configured, "memory_tier", tier.Max())
		return configured
	}
	return strconv.FormatInt((n+tier.Max()+1023)/1024, 10) + "KiB"
}

// parseDuckSize parses a size as DuckDB writes them: a number and a unit, KB = 1000
// bytes and KiB = 1024, a bare number in bytes.
func parseDuckSize(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, err := strconv.ParseFloat(s[:i], 64)
	if err != nil || num < 0 {
		return 0, false
	}
	units := map[string]float64{
		"": 1, "b": 1, "byte": 1, "bytes": 1,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
		"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12,
	}
	mult, ok := units[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok {
		return 0, false
	}
	v := num * mult
	if v > 1<<62 {
		return 0, false
	}
	return int64(v), true
}
