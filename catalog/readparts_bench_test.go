package catalog

import (
	"context"
	"testing"
	"time"

	"github.com/quiverdata/quiver/catalog/storage/s3"
	"github.com/quiverdata/quiver/catalog/storage/s3/s3test"
)

// BenchmarkPartsEndpointOnS3 serves one endpoint (one part) of a 16-part dataset
// after another, as a parallel client's fetch of every endpoint does, from a bucket
// on versitygw on loopback: requests/op counts what each endpoint asks of the
// bucket before its rows stream (HTTP requests: a Stat of a dataset directory is a
// HEAD and a LIST on S3, counted here as one), ms/op the whole endpoint.
//
//	go test -tags duckdb_arrow -run '^$' -bench PartsEndpointOnS3 -benchtime 200x ./catalog/
func BenchmarkPartsEndpointOnS3(b *testing.B) {
	ctx := context.Background()
	srv := s3test.Start(b)
	bkt, err := s3.Open(ctx, s3.Config{URL: "s3://" + srv.NewBucket(b) + "/warehouse", Endpoint: srv.Endpoint,
		Region: s3test.Region, PathStyle: true, AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey})
	if err != nil {
		b.Fatal(err)
	}
	cb := &countingBucket{Bucket: bkt}
	s, err := OpenBucket(ctx, cb, Options{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	const parts = 16
	put(b, s, "d", Create, 0, 1000)
	for i := int64(1); i < parts; i++ {
		put(b, s, "d", Append, i*1000, 1000)
	}
	info, err := s.Stat(ctx, "d")
	if err != nil {
		b.Fatal(err)
	}
	cb.reset()
	start := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := s.OpenVersionParts(ctx, "d", info.Version, i%parts, 1)
		if err != nil {
			b.Fatal(err)
		}
		if got := drain(b, r); len(got) != 1000 {
			b.Fatalf("endpoint %d: %d rows", i%parts, len(got))
		}
		r.Release()
	}
	b.StopTimer()
	b.ReportMetric(float64(cb.requests())/float64(b.N), "requests/op")
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/op")
}
