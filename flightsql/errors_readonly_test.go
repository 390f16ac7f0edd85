package flightsql

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/catalog"
)

// TestReadOnlyIsFailedPrecondition: a change the storage cannot make in place (a
// single-object dataset on object storage) tells the client to change the state first.
func TestReadOnlyIsFailedPrecondition(t *testing.T) {
	err := fmt.Errorf("append dataset %q: %w: it is a single file on s3://b/p", "hand.parquet", catalog.ErrReadOnly)
	st := status.Convert(toStatus(err))
	if st.Code() != codes.FailedPrecondition || !strings.Contains(st.Message(), `"hand.parquet"`) {
		t.Fatalf("toStatus = %v %q, want FailedPrecondition naming the dataset", st.Code(), st.Message())
	}
}
