package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// listTables runs GetTables (with schemas when asked) as ctx's principal and returns
// the table names and, with schemas, each table's column names joined by ",".
func listTables(ctx context.Context, cl *fsql.Client, schemas bool) ([]string, map[string]string, error) {
	info, err := cl.GetTables(ctx, &fsql.GetTablesOpts{IncludeSchema: schemas})
	if err != nil {
		return nil, nil, err
	}
	recs, err := readEndpoint(ctx, cl, info)
	if err != nil {
		return nil, nil, err
	}
	defer releaseAll(recs)
	var names []string
	cols := map[string]string{}
	for _, r := range recs {
		tables := columnStrings(r.Column(2))
		names = append(names, tables...)
		if !schemas {
			continue
		}
		bin := r.Column(4).(*array.Binary)
		for i, table := range tables {
			s, err := flight.DeserializeSchema(bin.Value(i), memory.DefaultAllocator)
			if err != nil {
				return nil, nil, fmt.Errorf("schema of %s: %w", table, err)
			}
			var fields []string
			for _, f := range s.Fields() {
				fields = append(fields, f.Name)
			}
			cols[table] = strings.Join(fields, ",")
		}
	}
	return names, cols, nil
}

// TestMetadataFollowsPutsAndGrants: GetTables, with and without schemas, and
// ListFlights answer from the engine's snapshot of the store. A put through Flight is
// in the very next answer, a drop gone from it, and a restricted grant sees only the
// datasets it covers, also while other clients put and drop concurrently.
func TestMetadataFollowsPutsAndGrants(t *testing.T) {
	srv, ctxs := grantServer(t)
	c := srv.client(t)
	cl := srv.sqlClient(t)
	admin, sales, writer := ctxs["admin"], ctxs["sales"], ctxs["parquet"]

	fresh := events(t, 1, 2, 3)
	if err := tryPut(writer, c, "fresh.parquet", fresh.Schema(), fresh); err != nil {
		t.Fatal(err)
	}
	names, cols, err := listTables(admin, cl, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"fresh", "payroll", "sales"}; !slices.Equal(names, want) {
		t.Fatalf("admin's GetTables right after the put = %q, want %q", names, want)
	}
	if cols["fresh"] != "id,name" {
		t.Errorf("columns of fresh = %q, want id,name", cols["fresh"])
	}
	for _, schemas := range []bool{false, true} {
		names, _, err := listTables(sales, cl, schemas)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names, []string{"sales"}) {
			t.Errorf("restricted GetTables (schemas %v) = %q, want [sales]", schemas, names)
		}
	}
	if got := listFlightNames(t, sales, c); !slices.Equal(got, []string{"sales.parquet"}) {
		t.Errorf("restricted ListFlights = %q, want [sales.parquet]", got)
	}
	if err := drainAction(writer, c, &flight.Action{Type: "drop_dataset", Body: []byte("fresh.parquet")}); err != nil {
		t.Fatal(err)
	}
	if names, _, err := listTables(admin, cl, false); err != nil || slices.Contains(names, "fresh") {
		t.Fatalf("GetTables right after the drop = %q, %v", names, err)
	}

	// Churn: a writer puts and drops while both principals list.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			name := fmt.Sprintf("churn%d.parquet", i%3)
			rec := events(t, int64(i))
			if err := tryPut(writer, c, name, rec.Schema(), rec); err != nil {
				errs <- fmt.Errorf("put %s: %w", name, err)
				return
			}
			if i%2 == 1 {
				if err := drainAction(writer, c, &flight.Action{Type: "drop_dataset", Body: []byte(name)}); err != nil {
					errs <- fmt.Errorf("drop %s: %w", name, err)
					return
				}
			}
		}
	}()
	for _, who := range []string{"admin", "sales"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				names, cols, err := listTables(ctxs[who], cl, i%2 == 0)
				if err != nil {
					errs <- fmt.Errorf("%s GetTables: %w", who, err)
					return
				}
				switch {
				case who == "sales" && !slices.Equal(names, []string{"sales"}):
					errs <- fmt.Errorf("restricted GetTables during churn = %q", names)
					return
				case who == "admin" && !slices.Contains(names, "payroll"):
					errs <- fmt.Errorf("admin GetTables during churn = %q, without payroll", names)
					return
				}
				for table, c := range cols {
					if c != "id,name" {
						errs <- fmt.Errorf("%s GetTables during churn: %s has columns %q", who, table, c)
						return
					}
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// listFlightNames lists the dataset names ListFlights sends ctx's principal.
func listFlightNames(t testing.TB, ctx context.Context, c flight.Client) []string {
	t.Helper()
	stream, err := c.ListFlights(ctx, &flight.Criteria{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for {
		info, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatalf("ListFlights: %v", err)
		}
		names = append(names, info.GetFlightDescriptor().GetPath()...)
	}
}
