package integration

import (
	"context"
	"fmt"
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

// BenchmarkConsoleDescribe times GET /api/datasets/{name} (schema, footer statistics,
// distinct estimate over a bounded sample) at 1M and 10M rows, beside the full scan
// that describe used to run for the same statistics (sent over Flight SQL to the
// same server in the same run). Describe's time should not grow with the rows; the
// scan's does.
//
//	go test -tags duckdb_arrow -run '^$' -bench ConsoleDescribe -benchtime 5x ./integration/
func BenchmarkConsoleDescribe(b *testing.B) {
	for _, rows := range []int{1_000_000, 10_000_000} {
		b.Run(fmt.Sprintf("%dM", rows/1_000_000), func(b *testing.B) {
			root := b.TempDir()
			if err := writeWideParquet(filepath.Join(root, "wide.parquet"), rows); err != nil {
				b.Fatal(err)
			}
			srv := startServerWith(b, root, memory.DefaultAllocator)
			c, err := console.New(console.Config{Service: srv.Service, Store: srv.Store})
			if err != nil {
				b.Fatal(err)
			}
			web := httptest.NewServer(c)
			b.Cleanup(web.Close)

			b.Run("describe", func(b *testing.B) {
				cpu0 := ownCPU()
				for i := 0; i < b.N; i++ {
					resp, err := http.Get(web.URL + "/api/datasets/wide.parquet")
					if err != nil {
						b.Fatal(err)
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), `"max":"row-`) {
						b.Fatalf("%d %v %.300s", resp.StatusCode, err, body)
					}
				}
				reportCPU(b, cpu0)
			})
			b.Run("scan", func(b *testing.B) {
				cl, err := fsql.NewClient(srv.Addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					b.Fatal(err)
				}
				defer cl.Close()
				var sel []string
				for _, col := range []string{"a", "b", "c", "s"} {
					sel = append(sel, "count(*) - count("+col+")", "min("+col+")::VARCHAR", "max("+col+")::VARCHAR", "approx_count_distinct("+col+")")
				}
				q := "SELECT " + strings.Join(sel, ", ") + " FROM wide"
				cpu0 := ownCPU()
				for i := 0; i < b.N; i++ {
					recs, err := fetchSQL(context.Background(), cl, q)
					if err != nil {
						b.Fatal(err)
					}
					for _, r := range recs {
						r.Release()
					}
				}
				reportCPU(b, cpu0)
			})
		})
	}
}
