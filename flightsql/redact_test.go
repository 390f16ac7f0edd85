package flightsql

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/catalog"
)

// Messages never show the dataset root, whatever error carried it: a domain error, a
// status built elsewhere, a path inside a longer one.
func TestToStatusHidesServerPaths(t *testing.T) {
	root := "/srv/quiver-redact-test/data"
	hiddenPaths.hide(root, "<root>")
	hiddenPaths.hide(root+"/spill", "<temp>")
	for _, tc := range []struct {
		err  error
		code codes.Code
		want string
	}{
		{fmt.Errorf("dataset %q: %w: open %s/payroll: permission denied", "payroll", catalog.ErrUnreadable, root), codes.FailedPrecondition, "open <root>/payroll"},
		{status.Error(codes.InvalidArgument, `IO Error: No files found that match the pattern "`+root+`/x.parquet"`), codes.InvalidArgument, `"<root>/x.parquet"`},
		{fmt.Errorf("%w: could not write %s/spill/duckdb_temp_block", catalog.ErrInvalidData, root), codes.InvalidArgument, "write <temp>/duckdb_temp_block"},
	} {
		st := status.Convert(toStatus(tc.err))
		if st.Code() != tc.code || strings.Contains(st.Message(), root) || !strings.Contains(st.Message(), tc.want) {
			t.Errorf("toStatus(%v) = %v %q, want %v with %q and no root", tc.err, st.Code(), st.Message(), tc.code, tc.want)
		}
	}
}
