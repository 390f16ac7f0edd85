package observe

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/codes"

	"github.com/quiverdata/quiver/catalog"
)

// Metrics are the Prometheus metrics of the RPCs. Label values are bounded: methods
// are the server's, codes gRPC's, and no dataset name or SQL text is a label.
type Metrics struct {
	requests      *prometheus.CounterVec   // method, code
	duration      *prometheus.HistogramVec // method, code
	activeStreams *prometheus.GaugeVec     // method
	bytes         *prometheus.CounterVec   // method, direction
	rows          *prometheus.CounterVec   // method, direction
	queries       *prometheus.HistogramVec // kind, code
}

// rpcBuckets span a metadata call (well under a millisecond) to a long upload.
var rpcBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

// queryBuckets span a point lookup to the default query timeout (5 minutes).
var queryBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// NewMetrics creates the RPC metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quiver_rpc_requests_total",
			Help: "RPCs handled, by method and gRPC status code.",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "quiver_rpc_duration_seconds",
			Help:    "RPC latency, from the call's start to its status (whole streams for streaming calls), by method and code.",
			Buckets: rpcBuckets,
		}, []string{"method", "code"}),
		activeStreams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "quiver_rpc_active_streams",
			Help: "Streaming RPCs in progress (DoGet, DoPut, DoExchange, DoAction, ListFlights, ...), by method.",
		}, []string{"method"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quiver_flight_data_bytes_total",
			Help: "Arrow body bytes (FlightData data_body) received (direction=in) and sent (out), by method.",
		}, []string{"method", "direction"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quiver_flight_data_rows_total",
			Help: "Record batch rows received (direction=in) and sent (out), by method.",
		}, []string{"method", "direction"}),
		queries: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "quiver_query_duration_seconds",
			Help:    "Flight SQL query runs (DoGet of a statement or prepared statement ticket), from the call's start to the last batch sent, by kind (statement, prepared) and code.",
			Buckets: queryBuckets,
		}, []string{"kind", "code"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.activeStreams, m.bytes, m.rows, m.queries} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// flowCounters are one streaming call's row and byte counters, resolved once.
type flowCounters struct {
	rowsIn, bytesIn, rowsOut, bytesOut prometheus.Counter
}

func (f *flowCounters) add(in bool, rows, bytes int64) {
	if f == nil {
		return
	}
	if in {
		f.rowsIn.Add(float64(rows))
		f.bytesIn.Add(float64(bytes))
	} else {
		f.rowsOut.Add(float64(rows))
		f.bytesOut.Add(float64(bytes))
	}
}

// begin counts a call in; the counters it returns are updated while it runs, so
// rates show long transfers while they happen.
func (m *Metrics) begin(method string, streaming bool) *flowCounters {
	if !streaming {
		return nil
	}
	m.activeStreams.WithLabelValues(method).Inc()
	return &flowCounters{
		rowsIn:   m.rows.WithLabelValues(method, "in"),
		bytesIn:  m.bytes.WithLabelValues(method, "in"),
		rowsOut:  m.rows.WithLabelValues(method, "out"),
		bytesOut: m.bytes.WithLabelValues(method, "out"),
	}
}

func (m *Metrics) end(c *call, q queryKind, code codes.Code, d time.Duration) {
	if c.streaming {
		m.activeStreams.WithLabelValues(c.method).Dec()
	}
	m.requests.WithLabelValues(c.method, code.String()).Inc()
	m.duration.WithLabelValues(c.method, code.String()).Observe(d.Seconds())
	if q != "" && c.method == "DoGet" {
		m.queries.WithLabelValues(string(q), code.String()).Observe(d.Seconds())
	}
}

// Lister lists the datasets; *catalog.Store is one.
type Lister interface {
	List(ctx context.Context) ([]catalog.Info, error)
}

// CatalogCollector reports the catalog's size at every scrape: datasets, rows and
// bytes on disk. Listing is cheap: the catalog caches what it read of each dataset's
// files until they change.
type CatalogCollector struct {
	store                 Lister
	log                   *slog.Logger
	datasets, bytes, rows *prometheus.Desc
}

// catalogScrapeTimeout bounds one listing during a scrape.
const catalogScrapeTimeout = 10 * time.Second

// NewCatalogCollector returns a collector of store's size; log (nil: slog.Default())
// receives listing errors.
func NewCatalogCollector(store Lister, log *slog.Logger) *CatalogCollector {
	if log == nil {
		log = slog.Default()
	}
	return &CatalogCollector{
		store:    store,
		log:      log,
		datasets: prometheus.NewDesc("quiver_catalog_datasets", "Datasets in the catalog.", nil, nil),
		bytes:    prometheus.NewDesc("quiver_catalog_bytes", "Size on disk of all datasets' Parquet files.", nil, nil),
		rows:     prometheus.NewDesc("quiver_catalog_rows", "Rows in all datasets.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *CatalogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.datasets
	ch <- c.bytes
	ch <- c.rows
}

// Collect implements prometheus.Collector: it lists the catalog.
func (c *CatalogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), catalogScrapeTimeout)
	defer cancel()
	infos, err := c.store.List(ctx)
	if err != nil {
		c.log.Warn("metrics: list the catalog", "err", err)
		ch <- prometheus.NewInvalidMetric(c.datasets, err)
		return
	}
	var bytes, rows int64
	for _, info := range infos {
		bytes += info.Bytes
		rows += info.Rows
	}
	ch <- prometheus.MustNewConstMetric(c.datasets, prometheus.GaugeValue, float64(len(infos)))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(bytes))
	ch <- prometheus.MustNewConstMetric(c.rows, prometheus.GaugeValue, float64(rows))
}

// HTTPHandler serves /metrics from g and /healthz: 200 "ok" while h is serving, 503
// otherwise (before the server is up and from the start of shutdown). h may be nil:
// /healthz then always answers 200.
func HTTPHandler(g prometheus.Gatherer, h *Health) http.Handler {
	mux := http.NewServeMux()
	// ContinueOnError: a failing collector (the catalog's, on a disk error) must not
	// hide the other metrics.
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if h != nil && !h.Serving() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not serving\n"))
			return
		}
		w.Write([]byte("ok\n"))
	})
	return mux
}
