package console

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"google.golang.org/grpc/codes"

	"github.com/quiverdata/quiver/catalog"
)

// Preview paging: /api/datasets/{name}/rows takes limit 1..maxPreviewRows.
const (
	defaultPreviewRows = 100
	maxPreviewRows     = 1000
)

// datasetSummary is one dataset of GET /api/datasets.
type datasetSummary struct {
	Name     string `json:"name"`
	Table    string `json:"table"`
	Rows     int64  `json:"rows"`
	Bytes    int64  `json:"bytes"`
	Columns  int    `json:"columns"`
	Parts    int    `json:"parts"`
	Modified string `json:"modified"`
}

func summarize(info catalog.Info) datasetSummary {
	d := datasetSummary{Name: info.Name, Table: info.Table(), Rows: info.Rows, Bytes: info.Bytes, Parts: len(info.Keys)}
	if info.Schema != nil {
		d.Columns = info.Schema.NumFields()
	}
	if !info.Modified.IsZero() {
		d.Modified = info.Modified.UTC().Format(time.RFC3339)
	}
	return d
}

// listDatasets lists the datasets the caller's grant covers, as ListFlights does.
func (s *Server) listDatasets(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := principal(ctx)
	if p != nil {
		if err := s.guard.AuthorizeList(ctx, p, "console list datasets"); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	infos, err := s.store.List(ctx)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := []datasetSummary{}
	for _, info := range infos {
		if p != nil && !p.Covers(info.Name) {
			continue
		}
		out = append(out, summarize(info))
	}
	writeJSON(w, map[string]any{"datasets": out})
}

// statDataset checks that the caller may read the dataset, then describes it. The
// grant is checked first, so a refusal says the same whether or not it exists.
func (s *Server) statDataset(ctx context.Context, name, what string) (catalog.Info, error) {
	if p := principal(ctx); p != nil {
		if err := s.guard.AuthorizeDataset(ctx, p, what+" of dataset "+strconv.Quote(clipText(name, 128)), name); err != nil {
			return catalog.Info{}, err
		}
	}
	return s.store.Stat(ctx, name)
}

// columnInfo is a result column: its name and DuckDB type name.
type columnInfo struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// schemaColumn is a column of a dataset's schema.
type schemaColumn struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable"`
}

// columnStats are one column's statistics. Nulls, min and max come from the
// Parquet footers (null when a footer does not record them: nested columns, files
// written without statistics); min and max are printed as DuckDB casts them to
// VARCHAR; float min and max leave NaN out, as Parquet statistics do. The distinct
// estimate is HyperLogLog over the first DistinctSampleRows rows only (the whole
// dataset when it is that small); null for nested columns.
type columnStats struct {
	Column             string  `json:"column"`
	Nulls              *int64  `json:"nulls"`
	Min                *string `json:"min"`
	Max                *string `json:"max"`
	DistinctEstimate   *int64  `json:"distinct_estimate"`
	DistinctSampleRows *int64  `json:"distinct_sample_rows"`
}

// datasetDetail is the answer of GET /api/datasets/{name}.
type datasetDetail struct {
	Name     string         `json:"name"`
	Table    string         `json:"table"`
	Rows     int64          `json:"rows"`
	Bytes    int64          `json:"bytes"`
	Parts    int            `json:"parts"`
	Modified string         `json:"modified"`
	Schema   []schemaColumn `json:"schema"`
	Stats    []columnStats  `json:"stats"`
}

// describeDataset answers a dataset's schema (with DuckDB's type names, from the
// engine's view of it) and per-column statistics, from the Parquet footers and a
// bounded sample (columnStats).
func (s *Server) describeDataset(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("name")
	info, err := s.statDataset(ctx, name, "console describe")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sum := summarize(info)
	d := datasetDetail{Name: sum.Name, Table: sum.Table, Rows: sum.Rows, Bytes: sum.Bytes, Parts: sum.Parts, Modified: sum.Modified,
		Schema: []schemaColumn{}, Stats: []columnStats{}}
	schema, err := s.schemaOf(ctx, info)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, f := range schema.Fields() {
		d.Schema = append(d.Schema, schemaColumn{Name: f.Name, Type: typeName(f), Nullable: f.Nullable})
	}
	if d.Stats, err = s.columnStats(ctx, info, schema); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, d)
}

// schemaOf is the dataset's schema as SQL sees it, with DuckDB's type names.
func (s *Server) schemaOf(ctx context.Context, info catalog.Info) (*arrow.Schema, error) {
	res, err := s.run(ctx, "console describe", "SELECT * FROM "+quoteIdent(info.Table())+" LIMIT 0")
	if err != nil {
		return nil, err
	}
	defer res.close()
	if _, err := res.next(); err != nil {
		return nil, err
	}
	// Nullability is the stored schema's: DuckDB reports every column nullable.
	fields := res.schema.Fields()
	if info.Schema != nil {
		for i := range fields {
			if idx := info.Schema.FieldIndices(fields[i].Name); len(idx) == 1 {
				fields[i].Nullable = info.Schema.Field(idx[0]).Nullable
			}
		}
	}
	return arrow.NewSchema(fields, nil), nil
}

// nested reports whether min, max and distinct counts are not computed for a type.
func nested(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.LIST, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST, arrow.LIST_VIEW, arrow.LARGE_LIST_VIEW,
		arrow.STRUCT, arrow.MAP, arrow.SPARSE_UNION, arrow.DENSE_UNION:
		return true
	}
	return false
}

// distinctSampleRows bounds the rows the distinct estimate reads, so describing a
// dataset costs the same at any size.
const distinctSampleRows = 100_000

// columnStats reads nulls, min and max from the parts' Parquet footers and estimates
// distinct values over the first distinctSampleRows rows: its cost does not grow
// with the dataset's rows beyond reading the footers.
func (s *Server) columnStats(ctx context.Context, info catalog.Info, schema *arrow.Schema) ([]columnStats, error) {
	if schema.NumFields() == 0 {
		return []columnStats{}, nil
	}
	out, err := s.readFooterStats(ctx, info, schema)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		// The schema and the rows are still worth showing: the footer statistics
		// are unknown.
		s.log.WarnContext(ctx, "console describe: footer statistics unreadable", "dataset", info.Name, "err", err)
		out = make([]columnStats, schema.NumFields())
		for i, f := range schema.Fields() {
			out[i] = columnStats{Column: f.Name}
		}
	}
	if err := s.sampleDistinct(ctx, info, schema, out); err != nil {
		return nil, err
	}
	return out, nil
}

// readFooterStats opens the dataset's parts (on the local disk or in the bucket:
// only the footers are read) and merges their statistics.
func (s *Server) readFooterStats(ctx context.Context, info catalog.Info, schema *arrow.Schema) ([]columnStats, error) {
	cur, parts, err := s.store.OpenParts(ctx, info.Name)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, p := range parts {
			p.Close()
		}
	}()
	in := make([]footerPart, len(parts))
	for i, p := range parts {
		in[i] = footerPart{name: strconv.Itoa(i + 1), r: p}
		if len(cur.Keys) == len(parts) {
			in[i].name = path.Base(cur.Keys[i])
		}
	}
	return footerStats(ctx, in, schema.Fields())
}

// sampleDistinct fills in the distinct estimates of the flat columns from a bounded
// sample: the first distinctSampleRows rows, through the same path and limits as
// any query.
func (s *Server) sampleDistinct(ctx context.Context, info catalog.Info, schema *arrow.Schema, out []columnStats) error {
	var sel, cols []string
	var which []int
	for i, f := range schema.Fields() {
		if nested(f.Type) {
			continue
		}
		c := quoteIdent(f.Name)
		sel = append(sel, "approx_count_distinct("+c+")")
		cols = append(cols, c)
		which = append(which, i)
	}
	if len(sel) == 0 {
		return nil
	}
	sql := fmt.Sprintf("SELECT count(*), %s FROM (SELECT %s FROM %s LIMIT %d)",
		strings.Join(sel, ", "), strings.Join(cols, ", "), quoteIdent(info.Table()), distinctSampleRows)
	res, err := s.run(ctx, "console statistics", sql)
	if err != nil {
		return err
	}
	defer res.close()
	rec, err := res.next()
	if err != nil {
		return err
	}
	if rec == nil || rec.NumRows() != 1 {
		return fmt.Errorf("statistics of %q: no result row", info.Name)
	}
	sampled := intValue(rec.Column(0))
	for k, i := range which {
		if d := rec.Column(k + 1); d.IsValid(0) {
			n, rows := intValue(d), sampled
			out[i].DistinctEstimate, out[i].DistinctSampleRows = &n, &rows
		}
	}
	return nil
}

func intValue(a arrow.Array) int64 {
	n, _ := strconv.ParseInt(textValue(a, 0), 10, 64)
	return n
}

func strValue(a arrow.Array) *string {
	if a.IsNull(0) {
		return nil
	}
	// A copy: the text of a string column points into the batch's buffer, which
	// goes back to the allocator when the result moves on.
	v := strings.Clone(textValue(a, 0))
	return &v
}

// datasetRows answers a page of a dataset's rows.
func (s *Server) datasetRows(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	offset, err := intParam(r, "offset", 0, 0, 1<<62)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit, err := intParam(r, "limit", defaultPreviewRows, 1, maxPreviewRows)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	info, err := s.statDataset(ctx, r.PathValue("name"), "console preview")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sql := fmt.Sprintf("SELECT * FROM %s LIMIT %d OFFSET %d", quoteIdent(info.Table()), limit, offset)
	res, err := s.run(ctx, "console preview", sql)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer res.close()
	page, err := s.jsonRows(res, int(limit))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, map[string]any{"columns": page.columns, "rows": page.rows, "offset": offset, "limit": limit, "total": info.Rows})
}

// intParam reads an integer query parameter in [min, max], def when absent.
func intParam(r *http.Request, name string, def, min, max int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min || n > max {
		return 0, errorf(codes.InvalidArgument, "%s=%q: want an integer from %d to %d", name, clipText(v, 40), min, max)
	}
	return n, nil
}

// quoteIdent quotes a SQL identifier for DuckDB.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
