package flightsql

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/quiverdata/quiver/catalog"
)

// Options of a plain Flight DoPut (a PATH descriptor), as gRPC headers, which
// every Flight client can send (pyarrow: FlightCallOptions(headers=...)):
//
//	quiver-partition-by: year,month   write hive-style partitions by these columns
//	quiver-put-mode: append           create | replace (the default) | append | create_or_append
//
// Without them a DoPut replaces the dataset with one plain Parquet file, as the
// Arrow cookbook's server does.
const (
	headerPartitionBy = "quiver-partition-by"
	headerPutMode     = "quiver-put-mode"
	// maxPartitionByHeader bounds the header's bytes: 8 keys of at most 64 bytes.
	maxPartitionByHeader = catalog.MaxPartitionDepth * 65
)

// putOptions are a DoPut's options.
type putOptions struct {
	mode        catalog.PutMode
	partitionBy []string
}

// putModes names the put modes a client may ask for.
var putModes = map[string]catalog.PutMode{
	"create":           catalog.Create,
	"replace":          catalog.Replace,
	"append":           catalog.Append,
	"create_or_append": catalog.CreateOrAppend,
}

// putOptionsOf reads the options from the call's headers.
func putOptionsOf(ctx context.Context) (putOptions, error) {
	opts := putOptions{mode: catalog.Replace}
	md, _ := metadata.FromIncomingContext(ctx)
	if modes := md.Get(headerPutMode); len(modes) > 0 {
		if len(modes) > 1 {
			return opts, fmt.Errorf("%w: header %s given %d times", errInvalidRequest, headerPutMode, len(modes))
		}
		m, ok := putModes[strings.ToLower(strings.TrimSpace(modes[0]))]
		if !ok {
			return opts, fmt.Errorf("%w: header %s: %q is not create, replace, append or create_or_append", errInvalidRequest, headerPutMode, clip(modes[0]))
		}
		opts.mode = m
	}
	vals := md.Get(headerPartitionBy)
	if len(vals) == 0 {
		return opts, nil
	}
	joined := strings.Join(vals, ",")
	if len(joined) > maxPartitionByHeader {
		return opts, fmt.Errorf("%w: header %s is %d bytes, at most %d", errInvalidRequest, headerPartitionBy, len(joined), maxPartitionByHeader)
	}
	for _, k := range strings.Split(joined, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			return opts, fmt.Errorf("%w: header %s %q: want column names separated by commas", errInvalidRequest, headerPartitionBy, clip(joined))
		}
		opts.partitionBy = append(opts.partitionBy, k)
	}
	return opts, nil
}

// clip shortens a client's string for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
