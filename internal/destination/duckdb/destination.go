package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/dynamosync/dynamosync/internal/destination/layout"
)

// checkpointThreshold is the size of the write-ahead log that triggers a
// checkpoint. Larger means faster bulk loads but a longer replay when the
// file is opened after a crash.
const checkpointThreshold = "1GB"

// Destination writes change batches to a DuckDB database file.
type Destination struct {
	path   string
	abs    string // absolute path, the key in open.paths
	schema string
	log    *slog.Logger

	db   *sql.DB
	conn *sql.Conn // the one connection every statement runs on

	layout.Catalog // the tables, as committed

	// replace holds the DynamoDB tables whose upserts replace rows rather
	// than insert them, having met keys already present.
	replace map[string]bool
}

// open holds the absolute paths of the files open in this process.
var open = struct {
	sync.Mutex
	paths map[string]bool
}{paths: make(map[string]bool)}

// Open opens (creating if needed) the DuckDB database file at path and the
// schema in it, and loads the destination's metadata. The file is held
// exclusively until Close.
func Open(ctx context.Context, path, schema string, log *slog.Logger) (*Destination, error) {
	if schema == "" {
		return nil, errors.New("open destination: empty schema name")
	}
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open destination %q: the path must be a file name without '?'", path)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open destination %s: %w", path, err)
	}

	open.Lock()
	defer open.Unlock()
	if open.paths[abs] {
		return nil, fmt.Errorf("destination %s is in use by another destination of this process", path)
	}

	connector, err := duckdb.NewConnector(abs, nil)
	if err != nil {
		if strings.Contains(err.Error(), "Could not set lock on file") {
			return nil, fmt.Errorf("destination %s is in use by another process: %w", path, err)
		}
		return nil, fmt.Errorf("open destination %s: %w", path, err)
	}
	d := &Destination{path: path, abs: abs, schema: schema, log: log, db: sql.OpenDB(connector),
		replace: make(map[string]bool)}
	if err := d.init(ctx); err != nil {
		_ = d.close()
		return nil, fmt.Errorf("open destination %s: %w", path, err)
	}
	open.paths[abs] = true
	return d, nil
}

// init takes the connection, creates the metadata tables and loads them.
func (d *Destination) init(ctx context.Context) error {
	var err error
	if d.conn, err = d.db.Conn(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	// Checkpoints (folding the write-ahead log into the file) cost time
	// proportional to the table and its index, not to the changes: with
	// DuckDB's default threshold of 16MB they come every few batches and
	// dominate a snapshot of a large table.
	if _, err := d.conn.ExecContext(ctx, "SET GLOBAL checkpoint_threshold = '"+checkpointThreshold+"'"); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	tables, err := layout.InitMetadata(ctx, d.conn, d.schema)
	if err != nil {
		return err
	}
	d.Load(tables)
	d.log.Debug("destination open", "path", d.path, "schema", d.schema, "tables", d.Len())
	return nil
}

// Close releases the database file. Closing again does nothing.
func (d *Destination) Close() error {
	if d.db == nil {
		return nil
	}
	err := d.close()
	open.Lock()
	delete(open.paths, d.abs)
	open.Unlock()
	if err != nil {
		return fmt.Errorf("close destination %s: %w", d.path, err)
	}
	return nil
}

// close closes the connection and the sql.DB, which closes the connector
// and with it the database.
func (d *Destination) close() error {
	err := layout.CloseDB(d.conn, d.db)
	d.conn, d.db = nil, nil
	return err
}

// LoadState returns the state saved last, or nil when none is saved.
func (d *Destination) LoadState(ctx context.Context) ([]byte, error) {
	return layout.LoadState(ctx, d.conn, d.schema)
}

// SaveState saves state without changing any table: it replaces the saved
// state, and removes it when state is nil.
func (d *Destination) SaveState(ctx context.Context, state []byte) error {
	if err := layout.WriteState(ctx, d.conn, d.schema, state, time.Now()); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}
