package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/quiverdata/quiver/catalog"
	"github.com/quiverdata/quiver/catalog/storage/s3"
)

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1024", 1024, true},
		{"10B", 10, true},
		{"500MB", 500e6, true},
		{"500mb", 500e6, true},
		{"1.5GB", 1.5e9, true},
		{"10GiB", 10 << 30, true},
		{" 2 TiB ", 2 << 40, true},
		{"64KiB", 64 << 10, true},
		{"", 0, false},
		{"GB", 0, false},
		{"-1GB", 0, false},
		{"10XB", 0, false},
		{"1e30TB", 0, false},
		{"NaN", 0, false},
		{"nanGiB", 0, false},
		{"Inf", 0, false},
	}
	for _, c := range cases {
		got, err := parseSize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

// TestOpenStoreRefuses: object-storage flags without an s3:// root, a bad cache size
// and a bad root are refused before anything is served, naming the flag.
func TestOpenStoreRefuses(t *testing.T) {
	opts := catalog.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()
	cases := []struct {
		name, root string
		o          storageOptions
		want       string
		is         error
	}{
		{"endpoint on a local root", t.TempDir(), storageOptions{s3Endpoint: "http://127.0.0.1:1"}, "need --root s3://", nil},
		{"cache dir on a local root", t.TempDir(), storageOptions{cacheDir: t.TempDir()}, "need --root s3://", nil},
		{"bad cache size", "s3://abc/x", storageOptions{cacheSize: "lots"}, "--cache-size", nil},
		{"zero cache size", "s3://abc/x", storageOptions{cacheSize: "0"}, "--cache-size", nil},
		{"bad landing budget", t.TempDir(), storageOptions{landingBudget: "lots"}, "--landing-budget", nil},
		{"retired grace on a local root", t.TempDir(), storageOptions{retiredGrace: time.Minute}, "need --root s3://", nil},
		{"negative retired grace", "s3://abc/x", storageOptions{cacheSize: "1GB", cacheDir: t.TempDir(), retiredGrace: -time.Second}, "--retired-grace", nil},
		{"bad bucket", "s3://A_B/x", storageOptions{cacheSize: "1GB", cacheDir: t.TempDir()}, "--root s3://A_B/x", s3.ErrInvalidConfig},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := openStore(ctx, c.root, c.o, opts)
			if err == nil || !strings.Contains(err.Error(), c.want) || (c.is != nil && !errors.Is(err, c.is)) {
				t.Fatalf("openStore = %v; want an error mentioning %q", err, c.want)
			}
		})
	}
}
