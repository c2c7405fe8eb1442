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
// checkpoint. Larger means fewer checkpoints in a bulk load (each costs time
// proportional to the table and its index, not to the changes) but a larger
// checkpoint at the end and a longer replay when the file is opened after a
// crash.
const checkpointThreshold = "1GB"

// DuckDB's memory_limit: the destination starts at startMemoryLimit, so
// that a sync's memory stays flat however large its tables, and doubles the
// limit, up to maxMemoryLimit, whenever a batch fails for want of memory
// (DuckDB keeps a table's primary-key index in memory, some 50 bytes a
// row), applying the batch again. Bulk data beyond the limit is spilled to
// the database's temporary directory.
const (
	startMemoryLimit int64 = 64 << 20
	maxMemoryLimit   int64 = 256 << 30
)

// Destination writes change batches to a DuckDB database file.
type Destination struct {
	path   string
	abs    string // absolute path, the key in open.paths
	schema string
	log    *slog.Logger

	db   *sql.DB
	conn *sql.Conn // the one connection every statement runs on

	layout.Catalog // the tables, as committed

	// memoryLimit is DuckDB's memory_limit, in bytes.
	memoryLimit int64

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

	d := &Destination{path: path, abs: abs, schema: schema, log: log, replace: make(map[string]bool)}
	if err := d.connect(ctx, startMemoryLimit); err != nil {
		return nil, err
	}
	open.paths[abs] = true
	return d, nil
}

// connect opens the database file with DuckDB's memory_limit at
// memoryLimit bytes, creates the metadata tables and loads them.
func (d *Destination) connect(ctx context.Context, memoryLimit int64) error {
	connector, err := duckdb.NewConnector(d.abs, nil)
	if err != nil {
		if strings.Contains(err.Error(), "Could not set lock on file") {
			return fmt.Errorf("destination %s is in use by another process: %w", d.path, err)
		}
		return fmt.Errorf("open destination %s: %w", d.path, err)
	}
	d.db = sql.OpenDB(connector)
	if err := d.init(ctx, memoryLimit); err != nil {
		_ = d.close()
		return fmt.Errorf("open destination %s: %w", d.path, err)
	}
	return nil
}

// init takes the connection, configures DuckDB, creates the metadata
// tables and loads them.
func (d *Destination) init(ctx context.Context, memoryLimit int64) error {
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
	if _, err := d.conn.ExecContext(ctx, fmt.Sprintf("SET GLOBAL memory_limit = '%dMiB'", memoryLimit>>20)); err != nil {
		return fmt.Errorf("configure: memory_limit: %w", err)
	}
	d.memoryLimit = memoryLimit
	tables, err := layout.InitMetadata(ctx, d.conn, d.schema)
	if err != nil {
		return err
	}
	d.Load(tables)
	d.log.Debug("destination open", "path", d.path, "schema", d.schema, "tables", d.Len())
	return nil
}

// raiseMemoryLimit doubles DuckDB's memory_limit after err, an
// out-of-memory failure of a batch, and reports whether it did: not beyond
// maxMemoryLimit. It closes and opens the database again: a batch that
// failed for want of memory can leave DuckDB's in-memory index holding keys
// of the rolled-back rows, while the file and its write-ahead log hold
// only what was committed. When opening fails, that error is returned and
// the destination is closed.
func (d *Destination) raiseMemoryLimit(ctx context.Context, err error) (bool, error) {
	next := d.memoryLimit * 2
	if next > maxMemoryLimit {
		return false, nil
	}
	d.log.Info("DuckDB ran out of memory: opening the database again with a larger memory limit",
		"limit_mib", next>>20, "reason", err.Error())
	if cerr := d.close(); cerr != nil {
		d.log.Warn("closing the database", "err", cerr)
	}
	if cerr := d.connect(ctx, next); cerr != nil {
		open.Lock()
		delete(open.paths, d.abs)
		open.Unlock()
		return false, cerr
	}
	return true, nil
}

// outOfMemory reports whether err is DuckDB failing to allocate memory
// within its memory_limit: an out-of-memory error, or, when it happens in
// an appender or a commit, another error saying so.
func outOfMemory(err error) bool {
	if err == nil {
		return false
	}
	var de *duckdb.Error
	if errors.As(err, &de) && de.Type == duckdb.ErrorTypeOutOfMemory {
		return true
	}
	msg := err.Error()
	for _, m := range []string{"Out of Memory Error", "could not allocate", "failed to allocate", "failed to pin"} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
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
