package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The datasets and the operations of BenchmarkLoad (load_bench_test.go).

// Sizes of the datasets made at the start; orders has loadConfig.ordersRows rows.
const (
	loadCustomers    = 10_000
	loadRegions      = 8
	loadEventParts   = 16    // events.parquet is made by one create and 15 appends
	loadEventRows    = 5_000 // rows per part
	loadPutRows      = 10_000
	loadAppendRows   = 1_000
	loadAppendsReset = 16 // an append_NN dataset is replaced once it has this many parts
)

var (
	loadRegionNames = []string{"north", "south", "east", "west", "centre", "islands", "coast", "mountains"}
	loadEventKinds  = []string{"click", "view", "buy", "share", "error"}
	loadEpoch       = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	utcMicros       = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

	ordersSchema = arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "customer", Type: arrow.PrimitiveTypes.Int64},
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
		{Name: "region", Type: arrow.BinaryTypes.String},
		{Name: "sku", Type: arrow.BinaryTypes.String},
		{Name: "ts", Type: utcMicros},
	}, nil)
	customersSchema = arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "country", Type: arrow.BinaryTypes.String},
		{Name: "since", Type: arrow.FixedWidthTypes.Date32},
	}, nil)
	regionsSchema = arrow.NewSchema([]arrow.Field{
		{Name: "region", Type: arrow.BinaryTypes.String},
		{Name: "manager", Type: arrow.BinaryTypes.String},
	}, nil)
	loadEventsSchema = arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "kind", Type: arrow.BinaryTypes.String},
		{Name: "value", Type: arrow.PrimitiveTypes.Float64},
		{Name: "at", Type: utcMicros},
	}, nil)
)

// errWrongResult marks an operation that succeeded with the wrong answer.
var errWrongResult = errors.New("wrong result")

// loadData holds the batches the clients send, built once and shared read-only
// (Arrow arrays are safe to read concurrently; their reference counts are atomic).
type loadData struct {
	ordersRows int
	orders     []arrow.RecordBatch
	customers  arrow.RecordBatch
	regions    arrow.RecordBatch
	events     arrow.RecordBatch // one part
	put        arrow.RecordBatch // loadPutRows rows of orders
	append     arrow.RecordBatch // loadAppendRows rows of events
}

// fixedDatasets are the datasets no client changes, with their row counts.
func (d *loadData) fixedDatasets() []struct {
	name string
	rows int64
} {
	return []struct {
		name string
		rows int64
	}{
		{"orders.parquet", int64(d.ordersRows)},
		{"customers.parquet", loadCustomers},
		{"regions.parquet", loadRegions},
		{"events.parquet", loadEventParts * loadEventRows},
	}
}

func newLoadData(ordersRows int) *loadData {
	d := &loadData{ordersRows: ordersRows}
	mem := memory.DefaultAllocator
	ob := array.NewRecordBuilder(mem, ordersSchema)
	defer ob.Release()
	for start := 0; start < ordersRows; start += 64 << 10 {
		for i := start; i < min(start+64<<10, ordersRows); i++ {
			ob.Field(0).(*array.Int64Builder).Append(int64(i))
			ob.Field(1).(*array.Int64Builder).Append(int64(i % loadCustomers))
			ob.Field(2).(*array.Float64Builder).Append(float64(i*7919%100_000) / 100)
			ob.Field(3).(*array.StringBuilder).Append(loadRegionNames[i%loadRegions])
			ob.Field(4).(*array.StringBuilder).Append(fmt.Sprintf("SKU-%011d", uint64(i)*2654435761%100_000_000_000))
			ob.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(loadEpoch.Add(time.Duration(i) * time.Second).UnixMicro()))
		}
		d.orders = append(d.orders, ob.NewRecordBatch())
	}
	d.put = d.orders[0].NewSlice(0, min(loadPutRows, d.orders[0].NumRows()))

	cb := array.NewRecordBuilder(mem, customersSchema)
	defer cb.Release()
	for i := range loadCustomers {
		cb.Field(0).(*array.Int64Builder).Append(int64(i))
		cb.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("customer %05d", i))
		cb.Field(2).(*array.StringBuilder).Append([]string{"DE", "FR", "IT", "ES", "NL", "PL"}[i%6])
		cb.Field(3).(*array.Date32Builder).Append(arrow.Date32FromTime(loadEpoch.AddDate(0, 0, -i%3650)))
	}
	d.customers = cb.NewRecordBatch()

	rb := array.NewRecordBuilder(mem, regionsSchema)
	defer rb.Release()
	for i, r := range loadRegionNames {
		rb.Field(0).(*array.StringBuilder).Append(r)
		rb.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("manager %d", i/2))
	}
	d.regions = rb.NewRecordBatch()

	eb := array.NewRecordBuilder(mem, loadEventsSchema)
	defer eb.Release()
	for i := range loadEventRows {
		eb.Field(0).(*array.Int64Builder).Append(int64(i))
		eb.Field(1).(*array.StringBuilder).Append(loadEventKinds[i%len(loadEventKinds)])
		eb.Field(2).(*array.Float64Builder).Append(float64(i%1000) / 10)
		eb.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(loadEpoch.Add(time.Duration(i) * time.Millisecond).UnixMicro()))
	}
	d.events = eb.NewRecordBatch()
	d.append = d.events.NewSlice(0, loadAppendRows)
	return d
}

func (d *loadData) release() {
	for _, r := range d.orders {
		r.Release()
	}
	for _, r := range []arrow.RecordBatch{d.customers, d.regions, d.events, d.put, d.append} {
		r.Release()
	}
}

// create stores the fixed datasets through c: three with DoPut, events.parquet
// with one bulk-ingest create and appends, so it has several Parquet parts.
func (d *loadData) create(ctx context.Context, c *loadClient) error {
	fc := c.conn.sql.Client
	if err := tryPut(ctx, fc, "orders.parquet", ordersSchema, d.orders...); err != nil {
		return fmt.Errorf("put orders: %w", err)
	}
	if err := tryPut(ctx, fc, "customers.parquet", customersSchema, d.customers); err != nil {
		return fmt.Errorf("put customers: %w", err)
	}
	if err := tryPut(ctx, fc, "regions.parquet", regionsSchema, d.regions); err != nil {
		return fmt.Errorf("put regions: %w", err)
	}
	for i := range loadEventParts {
		if err := c.ingest(ctx, "events", d.events, i == 0); err != nil {
			return fmt.Errorf("ingest events part %d: %w", i, err)
		}
	}
	return nil
}

// ingest sends rec to table by bulk ingest: appending (creating the table if
// missing), or replacing it.
func (c *loadClient) ingest(ctx context.Context, table string, rec arrow.RecordBatch, replace bool) error {
	rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
	if err != nil {
		return err
	}
	defer rdr.Release()
	ifExists := fsql.TableDefinitionOptionsTableExistsOptionAppend
	if replace {
		ifExists = fsql.TableDefinitionOptionsTableExistsOptionReplace
	}
	n, err := c.conn.sql.ExecuteIngest(ctx, rdr, &fsql.ExecuteIngestOpts{
		Table: table,
		TableDefinitionOptions: &fsql.TableDefinitionOptions{
			IfNotExist: fsql.TableDefinitionOptionsTableNotExistOptionCreate,
			IfExists:   ifExists,
		},
	})
	if err != nil {
		return err
	}
	if n != rec.NumRows() {
		return fmt.Errorf("%w: ingest into %s reported %d rows, want %d", errWrongResult, table, n, rec.NumRows())
	}
	return nil
}

// opPut replaces the client's own dataset with DoPut.
func opPut(ctx context.Context, c *loadClient) (string, error) {
	if err := tryPut(ctx, c.conn.sql.Client, c.scratchName(), ordersSchema, c.data.put); err != nil {
		return "put", err
	}
	c.putDone = true
	return "put", nil
}

func (c *loadClient) scratchName() string { return fmt.Sprintf("scratch_%02d.parquet", c.id) }

// opAppend appends a part to the client's own dataset by bulk ingest; every
// loadAppendsReset parts it replaces the dataset instead, so that the part count
// (and with it the cost of reading the dataset) stays bounded however long the
// run.
func opAppend(ctx context.Context, c *loadClient) (string, error) {
	table := fmt.Sprintf("append_%02d", c.id)
	if c.appendParts >= loadAppendsReset {
		if err := c.ingest(ctx, table, c.data.append, true); err != nil {
			return "ingest_replace", err
		}
		c.appendParts = 1
		return "ingest_replace", nil
	}
	if err := c.ingest(ctx, table, c.data.append, false); err != nil {
		return "append", err
	}
	c.appendParts++
	return "append", nil
}

// opDoGet reads a whole dataset with the cookbook's ticket (its name) and checks
// the row count.
func opDoGet(ctx context.Context, c *loadClient) (string, error) {
	fixed := c.data.fixedDatasets()
	n := len(fixed)
	if c.putDone {
		n++
	}
	name, want := c.scratchName(), int64(c.data.put.NumRows())
	if i := c.rng.IntN(n); i < len(fixed) {
		name, want = fixed[i].name, fixed[i].rows
	}
	stream, err := c.conn.sql.Client.DoGet(ctx, &flight.Ticket{Ticket: []byte(name)})
	if err != nil {
		return "doget", err
	}
	rdr, err := flight.NewRecordReader(stream, ipc.WithAllocator(c.mem))
	if err != nil {
		return "doget", err
	}
	rows, err := drainRows(rdr)
	if err != nil {
		return "doget", err
	}
	if rows != want {
		return "doget", fmt.Errorf("%w: DoGet %s: %d rows, want %d", errWrongResult, name, rows, want)
	}
	return "doget", nil
}

// drainRows reads rdr to its end, releases it, and returns its row count.
func drainRows(rdr *flight.Reader) (int64, error) {
	defer rdr.Release()
	var rows int64
	for rdr.Next() {
		rows += rdr.RecordBatch().NumRows()
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return rows, err
	}
	return rows, nil
}

// drainInfo fetches every endpoint of a FlightInfo, as a Flight SQL client does
// with a query's result, and returns the row count.
func (c *loadClient) drainInfo(ctx context.Context, info *flight.FlightInfo) (int64, error) {
	var rows int64
	for _, ep := range info.GetEndpoint() {
		rdr, err := c.conn.sql.DoGet(ctx, ep.GetTicket())
		if err != nil {
			return rows, err
		}
		n, err := drainRows(rdr)
		rows += n
		if err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// opSQL runs one of a handful of statements: aggregates, joins, a range scan.
// Where the answer's size is known, it is checked.
func opSQL(ctx context.Context, c *loadClient) (string, error) {
	var query string
	want := int64(-1)
	switch c.rng.IntN(5) {
	case 0:
		query, want = "SELECT region, count(*) AS n, sum(amount) AS total FROM orders GROUP BY region ORDER BY region", loadRegions
	case 1:
		query = "SELECT o.id, o.amount, c.name FROM orders o JOIN customers c ON o.customer = c.id WHERE o.amount > 990 ORDER BY o.amount DESC, o.id LIMIT 100"
	case 2:
		query, want = "SELECT kind, count(*) AS n, avg(value) AS mean FROM events GROUP BY kind ORDER BY kind", int64(len(loadEventKinds))
	case 3:
		from := c.rng.IntN(c.data.ordersRows - 999)
		query, want = fmt.Sprintf("SELECT * FROM orders WHERE id >= %d AND id < %d", from, from+1000), 1000
	default:
		query, want = "SELECT r.manager, sum(o.amount) AS total FROM orders o JOIN regions r USING (region) GROUP BY r.manager", loadRegions/2
	}
	info, err := c.conn.sql.Execute(ctx, query)
	if err != nil {
		return "sql", err
	}
	rows, err := c.drainInfo(ctx, info)
	if err != nil {
		return "sql", err
	}
	if want >= 0 && rows != want {
		return "sql", fmt.Errorf("%w: %s: %d rows, want %d", errWrongResult, query, rows, want)
	}
	return "sql", nil
}

// opPrepared prepares a statement with parameters, binds them, runs it and closes
// the handle, as a JDBC PreparedStatement or ADBC's Bind does.
func opPrepared(ctx context.Context, c *loadClient) (string, error) {
	const (
		byCustomer = "SELECT id, amount, sku FROM orders WHERE customer = ?"
		byRegion   = "SELECT count(*) AS n, sum(amount) AS total FROM orders WHERE region = ? AND amount > ?"
	)
	var (
		query  string
		params arrow.RecordBatch
		want   int64
	)
	if c.rng.IntN(2) == 0 {
		customer := c.rng.IntN(loadCustomers)
		query, want = byCustomer, int64(c.data.ordersRows/loadCustomers)
		if customer < c.data.ordersRows%loadCustomers {
			want++
		}
		params = int64Record(c.mem, "customer", int64(customer), 1)
	} else {
		query, want = byRegion, 1
		b := array.NewRecordBuilder(c.mem, arrow.NewSchema([]arrow.Field{
			{Name: "region", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		}, nil))
		b.Field(0).(*array.StringBuilder).Append(loadRegionNames[c.rng.IntN(loadRegions)])
		b.Field(1).(*array.Float64Builder).Append(float64(c.rng.IntN(1000)))
		params = b.NewRecordBatch()
		b.Release()
	}
	defer params.Release()

	prep, err := c.conn.sql.Prepare(ctx, query)
	if err != nil {
		return "prepared", err
	}
	rows, err := func() (int64, error) {
		prep.SetParameters(params) // retained until Close
		info, err := prep.Execute(ctx)
		if err != nil {
			return 0, err
		}
		return c.drainInfo(ctx, info)
	}()
	// Close even when the query failed or ctx expired: the handle is the server's
	// memory until it is closed.
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if cerr := prep.Close(closeCtx); err == nil && cerr != nil {
		err = fmt.Errorf("close prepared statement: %w", cerr)
	}
	if err != nil {
		return "prepared", err
	}
	if rows != want {
		return "prepared", fmt.Errorf("%w: %s: %d rows, want %d", errWrongResult, query, rows, want)
	}
	return "prepared", nil
}

// opListFlights lists every dataset, as the cookbook's client does.
func opListFlights(ctx context.Context, c *loadClient) (string, error) {
	stream, err := c.conn.sql.Client.ListFlights(ctx, &flight.Criteria{})
	if err != nil {
		return "listflights", err
	}
	n := 0
	for {
		_, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "listflights", err
		}
		n++
	}
	if fixed := len(c.data.fixedDatasets()); n < fixed {
		return "listflights", fmt.Errorf("%w: ListFlights: %d datasets, want at least %d", errWrongResult, n, fixed)
	}
	return "listflights", nil
}

// opFlightInfo describes one of the fixed datasets and checks its row count.
func opFlightInfo(ctx context.Context, c *loadClient) (string, error) {
	fixed := c.data.fixedDatasets()
	ds := fixed[c.rng.IntN(len(fixed))]
	info, err := c.conn.sql.Client.GetFlightInfo(ctx, pathDescriptor(ds.name))
	if err != nil {
		return "flightinfo", err
	}
	if info.GetTotalRecords() != ds.rows {
		return "flightinfo", fmt.Errorf("%w: GetFlightInfo %s: %d records, want %d", errWrongResult, ds.name, info.GetTotalRecords(), ds.rows)
	}
	return "flightinfo", nil
}

// opGetTables lists the tables with their schemas, as a BI tool does on connect.
func opGetTables(ctx context.Context, c *loadClient) (string, error) {
	info, err := c.conn.sql.GetTables(ctx, &fsql.GetTablesOpts{IncludeSchema: true})
	if err != nil {
		return "tables", err
	}
	rows, err := c.drainInfo(ctx, info)
	if err != nil {
		return "tables", err
	}
	if fixed := int64(len(c.data.fixedDatasets())); rows < fixed {
		return "tables", fmt.Errorf("%w: GetTables: %d tables, want at least %d", errWrongResult, rows, fixed)
	}
	return "tables", nil
}

// opGetSqlInfo reads every SqlInfo the server has, as drivers do on connect.
func opGetSqlInfo(ctx context.Context, c *loadClient) (string, error) {
	info, err := c.conn.sql.GetSqlInfo(ctx, nil)
	if err != nil {
		return "sqlinfo", err
	}
	rows, err := c.drainInfo(ctx, info)
	if err != nil {
		return "sqlinfo", err
	}
	if rows == 0 {
		return "sqlinfo", fmt.Errorf("%w: GetSqlInfo returned no rows", errWrongResult)
	}
	return "sqlinfo", nil
}
