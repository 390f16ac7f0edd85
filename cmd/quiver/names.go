package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quiverdata/quiver/catalog"
)

// Wherever the CLI takes a dataset it also takes the dataset's SQL table name, as
// `quiver sql` users know it: `quiver info sales` finds dataset "Sales.parquet". The
// dataset called exactly that comes first; otherwise the server's list is searched for
// the table name, compared as DuckDB compares identifiers (catalog.TableName and
// catalog.FoldIdent, the rules the server names tables by).

// ambiguousError is a table name that more than one dataset answers to (only
// possible with files copied into the root by hand: the server refuses to make a
// second dataset with a table name that is taken).
type ambiguousError struct {
	name     string
	datasets []string
}

func (e *ambiguousError) Error() string {
	return fmt.Sprintf("%q is the SQL table name of several datasets: %s; name the one you mean", e.name, strings.Join(quoteAll(e.datasets), ", "))
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

// lookup finds the dataset name means: the dataset called name, or else the one whose
// SQL table name name is. When it finds it by its table name it says so on notes
// (nil: silently). found is false when no dataset answers to name.
func (s *session) lookup(ctx context.Context, name string, notes io.Writer) (d dataset, found bool, err error) {
	info, err := s.fc.GetFlightInfo(ctx, pathDescriptor(name))
	switch status.Code(err) {
	case codes.OK:
		d, err := datasetFromInfo(info)
		return d, err == nil, err
	case codes.NotFound:
	default:
		return dataset{}, false, err
	}
	all, err := s.list(ctx)
	if err != nil {
		return dataset{}, false, err
	}
	// A quoted identifier, as SQL writes one ("Sales-2024"), is the same name.
	if ident := strings.TrimPrefix(strings.TrimSuffix(name, `"`), `"`); len(ident) == len(name)-2 {
		ident = strings.ReplaceAll(ident, `""`, `"`)
		if ident != "" {
			return s.lookup(ctx, ident, notes)
		}
	}
	want := catalog.FoldIdent(catalog.TableName(name))
	var matches []dataset
	for _, d := range all {
		if catalog.FoldIdent(catalog.TableName(d.Name)) == want {
			matches = append(matches, d)
		}
	}
	switch len(matches) {
	case 0:
		return dataset{}, false, nil
	case 1:
	default:
		names := make([]string, len(matches))
		for i, m := range matches {
			names[i] = m.Name
		}
		return dataset{}, false, &ambiguousError{name: name, datasets: names}
	}
	if notes != nil {
		fmt.Fprintf(notes, "%q is the SQL table of dataset %q\n", name, matches[0].Name)
	}
	// Describe it by its own name: the list's entry may be lighter than GetFlightInfo's.
	info, err = s.fc.GetFlightInfo(ctx, pathDescriptor(matches[0].Name))
	if status.Code(err) == codes.NotFound {
		return dataset{}, false, nil // dropped meanwhile
	}
	if err != nil {
		return dataset{}, false, err
	}
	d, err = datasetFromInfo(info)
	return d, err == nil, err
}
