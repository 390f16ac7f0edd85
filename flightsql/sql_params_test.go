package flightsql

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// messageStream replays FlightData messages, then io.EOF.
type messageStream struct{ msgs []*flight.FlightData }

func (s *messageStream) Recv() (*flight.FlightData, error) {
	if len(s.msgs) == 0 {
		return nil, io.EOF
	}
	m := s.msgs[0]
	s.msgs = s.msgs[1:]
	return m, nil
}

// One bind holds at most maxBytes of parameter rows: more is InvalidArgument naming
// the limit and its flag, and nothing is kept. Up to the limit, the rows bind.
func TestCollectParamsByteCap(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	// 4 rows of 1000-byte strings: about 4 KiB a batch.
	rec := seedRecord(t, mem, arrow.BinaryTypes.String, `["`+strings.Repeat("x", 1000)+`", "`+strings.Repeat("y", 1000)+`", "`+strings.Repeat("z", 1000)+`", "`+strings.Repeat("w", 1000)+`"]`)
	defer rec.Release()
	msgs := func() []*flight.FlightData { return seedMessages(t, rec, rec, rec) } // 3 batches, ~12 KiB

	for _, tc := range []struct {
		name     string
		maxBytes int64
		wantRows int64
		wantErr  bool
	}{
		{"under the cap", 64 << 10, 12, false},
		{"over the cap", 6 << 10, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdr, err := flight.NewRecordReader(&messageStream{msgs: msgs()}, ipc.WithAllocator(mem))
			if err != nil {
				t.Fatal(err)
			}
			defer rdr.Release()
			got, err := collectParams(context.Background(), mem, rdr, nil, tc.maxBytes)
			if tc.wantErr {
				if got != nil {
					got.Release()
				}
				st := status.Convert(toStatus(err))
				if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "--max-bind-bytes") || !strings.Contains(st.Message(), "6144 bytes") {
					t.Fatalf("over the cap: %v, want InvalidArgument naming 6144 bytes and --max-bind-bytes", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer got.Release()
			if got.NumRows() != tc.wantRows {
				t.Errorf("rows = %d, want %d", got.NumRows(), tc.wantRows)
			}
		})
	}
}
