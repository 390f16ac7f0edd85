package integration

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/quiverdata/quiver/flightsql/console"
)

// consoleBenchRows is the size of the console benchmarks' dataset.
const consoleBenchRows = 1_000_000

// BenchmarkConsoleQuery downloads one query's whole result through the web console's
// HTTP API in each format, beside the same query over Flight SQL (arrow-go client,
// loopback) from the same server in the same run: the ratio says what HTTP and the
// format's encoding cost. The JSON case reads the first 10000 rows (its cap).
// cpu-ms/op (client and server, one process) is steadier than wall time on a busy
// machine.
//
//	go test -tags duckdb_arrow -run '^$' -bench ConsoleQuery -benchtime 3x ./integration/
func BenchmarkConsoleQuery(b *testing.B) {
	root := b.TempDir()
	if err := writeWideParquet(filepath.Join(root, "wide.parquet"), consoleBenchRows); err != nil {
		b.Fatal(err)
	}
	srv := startServerWith(b, root, memory.DefaultAllocator)
	c, err := console.New(console.Config{Service: srv.Service, Store: srv.Store, MaxDownloadBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	web := httptest.NewServer(c)
	b.Cleanup(web.Close)
	const q = "SELECT * FROM wide"

	b.Run("flightsql", func(b *testing.B) {
		cl, err := fsql.NewClient(srv.Addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		ctx := context.Background()
		cpu0 := ownCPU()
		for i := 0; i < b.N; i++ {
			recs, err := fetchSQL(ctx, cl, q)
			if err != nil {
				b.Fatal(err)
			}
			var rows int64
			for _, r := range recs {
				rows += r.NumRows()
				r.Release()
			}
			if rows != consoleBenchRows {
				b.Fatalf("%d rows", rows)
			}
		}
		b.ReportMetric(float64(consoleBenchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		reportCPU(b, cpu0)
	})
	for _, f := range []struct{ name, format, body string }{
		{"arrow", "arrow", `{"sql":"` + q + `"}`},
		{"parquet", "parquet", `{"sql":"` + q + `"}`},
		{"csv", "csv", `{"sql":"` + q + `"}`},
		{"json-10k", "json", `{"sql":"` + q + `","limit":10000}`},
	} {
		b.Run("console-"+f.name, func(b *testing.B) {
			var size int64
			cpu0 := ownCPU()
			for i := 0; i < b.N; i++ {
				resp, err := http.Post(web.URL+"/api/query?format="+f.format, "application/json", strings.NewReader(f.body))
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("%d %v", resp.StatusCode, err)
				}
				size = n
			}
			rows := consoleBenchRows
			if f.format == "json" {
				rows = 10000
			}
			b.SetBytes(size)
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			// Client and server share the process: this is the CPU of both.
			reportCPU(b, cpu0)
		})
	}
	// Describe: the schema, footer statistics and a bounded distinct sample
	// (BenchmarkConsoleDescribe compares 1M and 10M rows).
	b.Run("console-describe", func(b *testing.B) {
		cpu0 := ownCPU()
		for i := 0; i < b.N; i++ {
			resp, err := http.Get(web.URL + "/api/datasets/wide.parquet")
			if err != nil {
				b.Fatal(err)
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("%d %v", resp.StatusCode, err)
			}
		}
		b.ReportMetric(float64(consoleBenchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		reportCPU(b, cpu0)
	})
}
