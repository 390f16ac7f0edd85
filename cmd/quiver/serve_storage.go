package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/catalog/partcache"
	"github.com/quiverdata/quiver/catalog/storage/s3"
)

// storageOptions are the flags for a dataset root on S3-compatible object storage.
// Credentials come from the standard AWS variables and files, never from flags (which
// other users of the machine can read in the process list).
type storageOptions struct {
	s3Endpoint  string
	s3Region    string
	s3PathStyle bool
	cacheDir    string
	cacheSize   string
	// landingBudget bounds the uploads a local root holds landed, not yet Parquet.
	landingBudget string
	// retiredGrace: how long replaced or dropped parts stay for other nodes' readers.
	retiredGrace time.Duration
}

func addStorageFlags(f *pflag.FlagSet, o *storageOptions) {
	f.StringVar(&o.s3Endpoint, "s3-endpoint", "", "with --root s3://BUCKET/PREFIX: the S3 server's URL, e.g. http://127.0.0.1:7070 (default: AWS, or $AWS_ENDPOINT_URL_S3 / $AWS_ENDPOINT_URL); credentials come from $AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY or the AWS config files")
	f.StringVar(&o.s3Region, "s3-region", "", "with --root s3://...: the bucket's region (default: $AWS_REGION or the AWS config, else us-east-1)")
	f.BoolVar(&o.s3PathStyle, "s3-path-style", false, "with --root s3://...: address the bucket in the URL path (http://host/bucket/key), as most S3-compatible servers other than AWS want")
	f.StringVar(&o.cacheDir, "cache-dir", "", "with --root s3://...: local directory of the part cache SQL and plain DoGet read parts through; one server per directory (default: <user cache dir>/quiver/parts)")
	f.StringVar(&o.landingBudget, "landing-budget", "0", "with a local --root: DoPut and ingest acknowledge once the upload is durable on disk as Arrow IPC and encode Parquet in the background, while at most this much waits for encoding, e.g. 1GiB (beyond it an upload encodes Parquet before it is acknowledged); 0: off, every upload is Parquet before it is acknowledged")
	f.DurationVar(&o.retiredGrace, "retired-grace", catalog.DefaultRetiredGrace, "with --root s3://...: how long the parts a replace or drop takes out stay in the bucket for reads still under way on other nodes before any node deletes them; a plain DoGet or parts ticket streaming a replaced version for longer than this may fail")
	f.StringVar(&o.cacheSize, "cache-size", "10GiB", "with --root s3://...: disk budget of the part cache, e.g. 500MB, 20GiB; parts in use by a query are never evicted, so it can be exceeded while they are held (a plain DoGet that finds no room reads with ranged GETs instead)")
}

// openStore opens the dataset root: a local directory, or with an s3:// root the
// bucket and the part cache the engine reads its parts through (nil for a local root).
func openStore(ctx context.Context, root string, o storageOptions, opts catalog.Options) (*catalog.Store, *partcache.Cache, error) {
	if !strings.HasPrefix(root, "s3://") {
		if o.s3Endpoint != "" || o.s3Region != "" || o.s3PathStyle || o.cacheDir != "" || (o.retiredGrace != 0 && o.retiredGrace != catalog.DefaultRetiredGrace) {
			return nil, nil, fmt.Errorf("--s3-endpoint, --s3-region, --s3-path-style, --cache-dir and --retired-grace need --root s3://BUCKET/PREFIX (got --root %q)", root)
		}
		// Off unless asked for: a landed upload is acknowledged sooner, but it is
		// queryable later than one encoded at once, and files read straight from
		// the root show it only once converted.
		budget, err := parseSize(o.landingBudget)
		if o.landingBudget == "" {
			budget, err = 0, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("--landing-budget: %w", err)
		}
		opts.LandingBudget = budget
		if budget == 0 {
			opts.LandingBudget = -1 // never land
		}
		store, err := catalog.Open(root, opts)
		return store, nil, err
	}
	size, err := parseSize(o.cacheSize)
	if err != nil || size <= 0 {
		return nil, nil, fmt.Errorf("--cache-size %q: want a positive size such as 500MB or 20GiB", o.cacheSize)
	}
	if o.retiredGrace < 0 {
		return nil, nil, fmt.Errorf("--retired-grace %s: want a positive duration such as 1h", o.retiredGrace)
	}
	dir := o.cacheDir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		dir = filepath.Join(base, "quiver", "parts")
	}
	bucket, err := s3.Open(ctx, s3.Config{URL: root, Endpoint: o.s3Endpoint, Region: o.s3Region, PathStyle: o.s3PathStyle})
	if err != nil {
		return nil, nil, fmt.Errorf("--root %s: %w", root, err)
	}
	cache, err := partcache.Open(dir, partcache.Options{MaxBytes: size, Logger: opts.Logger})
	if err != nil {
		return nil, nil, fmt.Errorf("--cache-dir %s: %w", dir, err)
	}
	opts.PartCache = cache             // plain DoGet reads parts through it too
	opts.RetiredGrace = o.retiredGrace // 0: catalog.DefaultRetiredGrace
	store, err := catalog.OpenBucket(ctx, bucket, opts)
	if err != nil {
		cache.Close()
		return nil, nil, err
	}
	opts.Logger.Info("dataset root on object storage", "root", bucket.String(), "cache_dir", cache.Dir(), "cache_size", size)
	return store, cache, nil
}

// parseSize reads a byte count: a number, optionally followed by KB, MB, GB, TB (powers
// of 1000) or KiB, MiB, GiB, TiB (powers of 1024); B or nothing means bytes.
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	// Longest suffixes first: "KIB" before "B".
	units := []struct {
		suffix string
		mult   float64
	}{
		{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	mult := 1.0
	for _, u := range units {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || !(n >= 0) || n*mult >= 1<<62 { // !(n >= 0): NaN too
		return 0, fmt.Errorf("size %q: want a number with an optional unit (KB, MB, GB, TB, KiB, MiB, GiB, TiB)", s)
	}
	return int64(n * mult), nil
}

// closeCache closes the part cache, if there is one, after the service has stopped.
func closeCache(cache *partcache.Cache, log *slog.Logger) {
	if cache == nil {
		return
	}
	if err := cache.Close(); err != nil {
		log.Warn("close the part cache", "err", err)
	}
}
