//go:build duckdb_arrow

package duckread

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	bindings "github.com/duckdb/duckdb-go-bindings"
)

// DB is an in-memory DuckDB that may read only the files it was opened for.
// It is not safe for concurrent use: one command reads through it at a time.
type DB struct {
	db   bindings.Database
	conn bindings.Connection
	temp string // DuckDB's spill directory, removed by Close
}

// Open starts a locked-down in-memory DuckDB that may read exactly files (absolute
// paths). memoryLimit is DuckDB's memory_limit ("" = DuckDB's default).
func Open(files []string, memoryLimit string) (*DB, error) {
	temp, err := os.MkdirTemp("", "quiver-put-*")
	if err != nil {
		return nil, fmt.Errorf("duckdb: spill directory: %w", err)
	}
	d := &DB{temp: temp}
	if err := d.open(files, memoryLimit); err != nil {
		os.RemoveAll(temp)
		return nil, err
	}
	return d, nil
}

func (d *DB) open(files []string, memoryLimit string) error {
	var conf bindings.Config
	if bindings.CreateConfig(&conf) == bindings.StateError {
		return errors.New("duckdb: cannot create a config")
	}
	defer bindings.DestroyConfig(&conf)
	settings := [][2]string{
		{"autoinstall_known_extensions", "false"},
		{"autoload_known_extensions", "false"},
		{"allow_community_extensions", "false"},
		{"allow_unsigned_extensions", "false"},
		{"allow_persistent_secrets", "false"},
		{"temp_directory", d.temp},
	}
	if memoryLimit != "" {
		settings = append(settings, [2]string{"memory_limit", memoryLimit})
	}
	for _, s := range settings {
		if bindings.SetConfig(conf, s[0], s[1]) == bindings.StateError {
			return fmt.Errorf("duckdb: setting %s=%q refused", s[0], s[1])
		}
	}
	var msg string
	if bindings.OpenExt("", &d.db, conf, &msg) == bindings.StateError {
		return fmt.Errorf("duckdb: open: %s", msg)
	}
	if bindings.Connect(d.db, &d.conn) == bindings.StateError {
		bindings.Close(&d.db)
		return errors.New("duckdb: connect")
	}
	quoted := make([]string, len(files))
	for i, f := range files {
		if !filepath.IsAbs(f) {
			d.Close()
			return fmt.Errorf("duckdb: %q is not an absolute path", f)
		}
		quoted[i] = quote(f)
	}
	// The order is DuckDB's: allowed_paths only while external access is on, and
	// lock_configuration last, since it freezes enable_external_access too.
	lockdown := []string{
		// Timestamps with a time zone leave DuckDB labelled with the session's zone;
		// UTC keeps what is stored independent of where the CLI ran. (An ICU
		// setting: the config above does not know it yet.)
		"SET TimeZone = 'UTC'",
		// DuckDB tracks a query's progress (Reader.Progress, the CLI's bar) only with
		// its progress bar on; with printing off it prints nothing.
		"SET enable_progress_bar = true",
		"SET enable_progress_bar_print = false",
		"SET allowed_paths = [" + strings.Join(quoted, ", ") + "]",
		"SET enable_external_access = false",
		"SET lock_configuration = true",
	}
	for _, q := range lockdown {
		if err := d.exec(q); err != nil {
			d.Close()
			return fmt.Errorf("duckdb: lock down: %w", err)
		}
	}
	return nil
}

// Close closes the database and removes its spill directory.
func (d *DB) Close() error {
	bindings.Disconnect(&d.conn)
	bindings.Close(&d.db)
	return os.RemoveAll(d.temp)
}

// exec runs one statement and discards its result.
func (d *DB) exec(q string) error {
	var res bindings.Result
	defer bindings.DestroyResult(&res)
	if bindings.Query(d.conn, q, &res) == bindings.StateError {
		return errors.New(bindings.ResultError(&res))
	}
	return nil
}
