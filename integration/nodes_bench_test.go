package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"

	s3 "github.com/quiverdata/quiver/catalog/storage/s3"
	"github.com/quiverdata/quiver/catalog/storage/s3/s3test"
)

// BenchmarkTwoNodes fetches the 10Mx4 dataset of BenchmarkDoGet, stored on S3
// (versitygw on loopback) as a manifest and 8 Parquet parts of about 1.25M rows
// (snappy, 128Ki-row groups), from fresh servers for each sub-benchmark:
//
//		go test -tags duckdb_arrow -run '^$' -bench TwoNodes -benchtime 3x ./integration/
//
//	  - one-node/serial: one server without peers; DoGet of the dataset's one endpoint.
//	  - one-node/parallel: the same server with a peer that is never dialled; its 8
//	    endpoints fetched at once, all from it.
//	  - two-nodes/parallel: two servers, each the other's peer; the 8 endpoints fetched
//	    at once, each from its first location (4 from each server).
//
// server-peak-MB is each server's VmHWM at the end of the sub-benchmark (a-, b-).
// The client decodes every batch in the same process, so on a machine with few
// cores the client and both servers share them.
func BenchmarkTwoNodes(b *testing.B) {
	if testing.Short() {
		b.Skip("10M rows")
	}
	ctx := context.Background()
	d := wide()
	defer d.release()
	s3srv := s3test.Start(b)
	bucket := s3srv.NewBucket(b)
	bkt, err := s3.Open(ctx, s3.Config{URL: "s3://" + bucket + "/warehouse", Endpoint: s3srv.Endpoint,
		Region: s3test.Region, PathStyle: true, AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey})
	if err != nil {
		b.Fatal(err)
	}
	const parts = 8
	per := (len(d.recs) + parts - 1) / parts
	var names []string
	for p := 0; p < parts; p++ {
		part := &benchData{schema: d.schema, recs: d.recs[p*per : min(len(d.recs), (p+1)*per)]}
		name := fmt.Sprintf("part-%03d.parquet", p)
		file := filepath.Join(b.TempDir(), name)
		writeBenchParquet(b, file, part)
		uploadFile(b, bkt, "bench.parquet/"+name, file)
		names = append(names, name)
	}
	manifest, _ := json.Marshal(map[string][]string{"parts": names})
	if _, err := bkt.WriteIf(ctx, "bench.parquet/_quiver_manifest.json", manifest, ""); err != nil {
		b.Fatal(err)
	}
	desc := &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"bench.parquet"}}

	reportPeaks := func(b *testing.B, procs []*quiverProcess) {
		for i, p := range procs {
			if m, err := readProcMemory(p.cmd.Process.Pid); err == nil {
				b.ReportMetric(float64(m.hwm)/1e6, fmt.Sprintf("%c-server-peak-MB", 'a'+i))
			}
		}
	}
	report := func(b *testing.B) {
		b.SetBytes(d.bytes)
		b.ReportMetric(float64(d.rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	}
	// fetchAll reads every endpoint at once, endpoint i from at(i), and returns the rows.
	fetchAll := func(b *testing.B, info *flight.FlightInfo, at func(*flight.FlightEndpoint) flight.Client) int64 {
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			total int64
		)
		for _, ep := range info.Endpoint {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rows := countRows(b, at(ep), ep.Ticket)
				mu.Lock()
				total += rows
				mu.Unlock()
			}()
		}
		wg.Wait()
		return total
	}

	b.Run("one-node/serial", func(b *testing.B) {
		procs := startS3Nodes(b, s3srv, bucket, 1)
		c := dial(b, procs[0].addr)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			info, err := c.GetFlightInfo(ctx, desc)
			if err != nil || len(info.Endpoint) != 1 {
				b.Fatalf("GetFlightInfo: %v endpoints, %v", len(info.GetEndpoint()), err)
			}
			if rows := countRows(b, c, info.Endpoint[0].Ticket); rows != d.rows {
				b.Fatalf("read %d rows, want %d", rows, d.rows)
			}
		}
		b.StopTimer()
		report(b)
		reportPeaks(b, procs)
	})
	b.Run("one-node/parallel", func(b *testing.B) {
		procs := startS3Nodes(b, s3srv, bucket, 2)
		procs[1].terminate(b, 30*time.Second) // a peer in the list, never dialled
		c := dial(b, procs[0].addr)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			info, err := c.GetFlightInfo(ctx, desc)
			if err != nil || len(info.Endpoint) != parts {
				b.Fatalf("GetFlightInfo: %v endpoints, %v", len(info.GetEndpoint()), err)
			}
			if rows := fetchAll(b, info, func(*flight.FlightEndpoint) flight.Client { return c }); rows != d.rows {
				b.Fatalf("read %d rows, want %d", rows, d.rows)
			}
		}
		b.StopTimer()
		report(b)
		reportPeaks(b, procs[:1])
	})
	b.Run("two-nodes/parallel", func(b *testing.B) {
		procs := startS3Nodes(b, s3srv, bucket, 2)
		ec := &endpointClients{t: b}
		c := ec.at("grpc://" + procs[0].addr)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			info, err := c.GetFlightInfo(ctx, desc)
			if err != nil || len(info.Endpoint) != parts {
				b.Fatalf("GetFlightInfo: %v endpoints, %v", len(info.GetEndpoint()), err)
			}
			at := func(ep *flight.FlightEndpoint) flight.Client { return ec.at(ep.Location[0].Uri) }
			if rows := fetchAll(b, info, at); rows != d.rows {
				b.Fatalf("read %d rows, want %d", rows, d.rows)
			}
		}
		b.StopTimer()
		report(b)
		reportPeaks(b, procs)
	})
}

// countRows reads one ticket from c and returns its rows.
func countRows(b *testing.B, c flight.Client, t *flight.Ticket) int64 {
	stream, err := c.DoGet(context.Background(), t)
	if err != nil {
		b.Error(err)
		return -1
	}
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		b.Error(err)
		return -1
	}
	defer rdr.Release()
	var rows int64
	for rdr.Next() {
		rows += rdr.RecordBatch().NumRows()
	}
	if err := rdr.Err(); err != nil {
		b.Error(err)
		return -1
	}
	return rows
}

// BenchmarkFreshness is the price of every request seeing the bucket as it is now:
// GetFlightInfo of a small dataset re-reads its layout (a Stat of the dataset, its
// manifest, a Stat per part; the Parquet footers come from a cache keyed by the
// parts' versions), on a local root and on S3 (versitygw on loopback), for one part
// and for eight.
//
//	go test -tags duckdb_arrow -run '^$' -bench Freshness -benchtime 200x ./integration/
func BenchmarkFreshness(b *testing.B) {
	if testing.Short() {
		b.Skip("starts versitygw")
	}
	ctx := context.Background()
	s3srv := s3test.Start(b)
	bucket := s3srv.NewBucket(b)
	s3Node := startS3Nodes(b, s3srv, bucket, 1)[0]
	localNode := startQuiver(b, b.TempDir(), "--root", b.TempDir(), "--addr", "127.0.0.1:0")
	for _, p := range []*quiverProcess{s3Node, localNode} {
		c := dial(b, p.addr)
		cl := nodeSQLClient(b, p.addr)
		rec := int64Record(memory.DefaultAllocator, "id", 0, 1000)
		putRecords(b, c, "one.parquet", rec.Schema(), rec)
		putRecords(b, c, "eight.parquet", rec.Schema(), rec)
		for i := 1; i < 8; i++ {
			rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
			if err != nil {
				b.Fatal(err)
			}
			_, err = cl.ExecuteIngest(ctx, rdr, &fsql.ExecuteIngestOpts{Table: "eight",
				TableDefinitionOptions: &fsql.TableDefinitionOptions{IfNotExist: fsql.TableDefinitionOptionsTableNotExistOptionFail,
					IfExists: fsql.TableDefinitionOptionsTableExistsOptionAppend}})
			rdr.Release()
			if err != nil {
				b.Fatal(err)
			}
		}
		rec.Release()
	}
	for _, root := range []struct {
		name string
		p    *quiverProcess
	}{{"local", localNode}, {"s3", s3Node}} {
		c := dial(b, root.p.addr)
		for _, ds := range []string{"one.parquet", "eight.parquet"} {
			b.Run(root.name+"/"+ds, func(b *testing.B) {
				desc := &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{ds}}
				for i := 0; i < b.N; i++ {
					if _, err := c.GetFlightInfo(ctx, desc); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
