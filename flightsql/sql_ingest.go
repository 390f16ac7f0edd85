package flightsql

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/apache/arrow-go/v18/arrow/flight"
	fsql "github.com/apache/arrow-go/v18/arrow/flight/flightsql"

	"github.com/quiverdata/quiver/catalog"
)

// Bulk ingest (CommandStatementIngest), what ADBC's adbc.ingest and arrow-go's
// Client.ExecuteIngest send. A table is a dataset, so ingest is a put with the mode
// the table-definition options ask for; the catalog makes it atomic: a failed,
// cancelled or refused ingest leaves the dataset as it was.
//
// ADBC's modes arrive as (if_not_exist, if_exists) pairs:
//
//	create        CREATE, FAIL     → catalog.Create
//	append        FAIL,   APPEND   → catalog.Append
//	replace       CREATE, REPLACE  → catalog.Replace
//	create_append CREATE, APPEND   → catalog.CreateOrAppend

// DoPutCommandStatementIngest stores the uploaded stream as the dataset of cmd's table
// and returns the number of rows stored.
func (s *SQLServer) DoPutCommandStatementIngest(ctx context.Context, cmd fsql.StatementIngest, rdr flight.MessageReader) (int64, error) {
	table := cmd.GetTable()
	if cmd.GetTransactionId() != nil {
		// This server never issues transaction ids, so any id is one it does not know.
		return 0, toStatus(fmt.Errorf("ingest into table %q: %w: transactions are not supported", table, errInvalidRequest))
	}
	if cmd.GetTemporary() {
		return 0, toStatus(fmt.Errorf("ingest into table %q: %w: temporary tables; every ingested table is a stored dataset", table, errNotSupported))
	}
	if err := checkNamespace(cmd.GetCatalog(), cmd.GetSchema()); err != nil {
		return 0, toStatus(fmt.Errorf("ingest into table %q: %w", table, err))
	}
	if opts := cmd.GetOptions(); len(opts) > 0 {
		return 0, toStatus(fmt.Errorf("ingest into table %q: %w: unknown ingest options %q; this server has none", table, errInvalidRequest, slices.Sorted(maps.Keys(opts))))
	}
	name, _, err := s.datasetForTable(ctx, table)
	if err != nil {
		return 0, toStatus(fmt.Errorf("ingest into table %q: %w", table, err))
	}
	mode, err := s.ingestMode(ctx, name, cmd.GetTableDefinitionOptions())
	if err != nil {
		return 0, toStatus(fmt.Errorf("ingest into table %q: %w", table, err))
	}
	in := newIntakeReader(rdr)
	if in.Schema() == nil && in.Err() != nil {
		// The stream failed before its schema: say why, not "no columns".
		return 0, toStatus(fmt.Errorf("ingest into table %q: %w", table, in.Err()))
	}
	rows, err := s.store.Put(ctx, name, mode, in)
	if err != nil {
		return 0, toStatus(fmt.Errorf("ingest into table %q: %w", table, err))
	}
	s.log.Debug("table ingested", "table", table, "dataset", name, "mode", mode.String(), "rows", rows)
	return rows, nil
}

// checkNamespace accepts an empty catalog and schema (the defaults) or the names of
// the one catalog and schema there are. DuckDB's identifiers are case-insensitive.
func checkNamespace(cat, schema string) error {
	if cat != "" && catalog.FoldIdent(cat) != sqlCatalog {
		return fmt.Errorf("%w: catalog %q does not exist; the one catalog is %q", errInvalidRequest, cat, sqlCatalog)
	}
	if schema != "" && catalog.FoldIdent(schema) != sqlSchema {
		return fmt.Errorf("%w: schema %q does not exist; the one schema is %q", errInvalidRequest, schema, sqlSchema)
	}
	return nil
}

// datasetForTable names the dataset that holds the SQL table: an existing dataset
// whose table name it is (a hand-copied file need not end in .parquet), else the
// table name plus ".parquet", which a create would make; exists tells which. Table
// names match as DuckDB matches them, ignoring ASCII case only (catalog.FoldIdent),
// but an exact match wins.
func (s *SQLServer) datasetForTable(ctx context.Context, table string) (name string, exists bool, err error) {
	if table == "" {
		return "", false, fmt.Errorf("%w: the table name is empty", catalog.ErrInvalidName)
	}
	name = table + ".parquet"
	if err := catalog.ValidateName(name); err != nil {
		return "", false, err
	}
	snap, err := s.engine.Snapshot(ctx)
	if err != nil {
		return "", false, err
	}
	if found, ok := snap.DatasetForTable(table); ok {
		return found, true, nil
	}
	return name, false, nil
}

// ingestMode turns the table-definition options into a put mode. The protocol leaves
// no defaults to the server, so unspecified options are refused. The two combinations
// no catalog mode expresses (replace only what exists; never create or change) are
// decided by a look at the dataset now: a concurrent drop between that look and the
// commit turns "replace what exists" into a create, which loses no data.
func (s *SQLServer) ingestMode(ctx context.Context, name string, o *fsql.TableDefinitionOptions) (catalog.PutMode, error) {
	if o == nil {
		return 0, fmt.Errorf("%w: table_definition_options are required", errInvalidRequest)
	}
	create := o.GetIfNotExist() == fsql.TableDefinitionOptionsTableNotExistOptionCreate
	switch o.GetIfNotExist() {
	case fsql.TableDefinitionOptionsTableNotExistOptionCreate, fsql.TableDefinitionOptionsTableNotExistOptionFail:
	default:
		return 0, fmt.Errorf("%w: table_definition_options.if_not_exist %v: want CREATE or FAIL", errInvalidRequest, o.GetIfNotExist())
	}
	switch o.GetIfExists() {
	case fsql.TableDefinitionOptionsTableExistsOptionFail:
		if create {
			return catalog.Create, nil
		}
		if err := s.exists(ctx, name); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("dataset %q: %w (if_exists is FAIL)", name, catalog.ErrAlreadyExists)
	case fsql.TableDefinitionOptionsTableExistsOptionAppend:
		if create {
			return catalog.CreateOrAppend, nil
		}
		return catalog.Append, nil
	case fsql.TableDefinitionOptionsTableExistsOptionReplace:
		if !create {
			if err := s.exists(ctx, name); err != nil {
				return 0, err
			}
		}
		return catalog.Replace, nil
	}
	return 0, fmt.Errorf("%w: table_definition_options.if_exists %v: want FAIL, APPEND or REPLACE", errInvalidRequest, o.GetIfExists())
}

// exists returns nil if the dataset exists, an error wrapping catalog.ErrNotFound if
// it does not.
func (s *SQLServer) exists(ctx context.Context, name string) error {
	if _, err := s.store.Stat(ctx, name); errors.Is(err, catalog.ErrNotFound) {
		return err
	}
	return nil // it exists, perhaps unreadable: the put decides
}
