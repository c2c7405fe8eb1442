package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/dynamosync/dynamosync/internal/destination/layout"
)

// Column describes one attribute column of a destination table.
type Column = layout.Column

// ErrUnknownTable reports a DynamoDB table the destination has no table for.
var ErrUnknownTable = layout.ErrUnknownTable

// Destination writes change batches to a schema of a PostgreSQL database.
type Destination struct {
	where  string // host, port and database, for messages: never the password
	schema string
	log    *slog.Logger

	db     *sql.DB
	conn   *sql.Conn // the one connection every statement runs on
	locked bool      // conn holds the schema's advisory lock

	layout.Catalog // the tables, as committed

	warnedNUL map[string]bool // tables whose U+0000 replacement was logged
}

// Open connects to the PostgreSQL database that url names (a postgres://
// URL or key=value connection string, as libpq takes), creates the schema
// and the metadata tables when missing, and loads the metadata. The schema
// is held exclusively, through a session advisory lock, until Close.
func Open(ctx context.Context, url, schema string, log *slog.Logger) (*Destination, error) {
	if schema == "" {
		return nil, errors.New("open destination: empty schema name")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// The parser's message may quote the URL, password included.
		return nil, errors.New("open destination: invalid PostgreSQL connection URL")
	}
	// Tables change shape as columns are added and widened, and the stage
	// table is created anew for every write: statements are described each
	// time rather than cached.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeDescribeExec
	d := &Destination{
		where:  "postgres://" + cfg.Host + ":" + strconv.Itoa(int(cfg.Port)) + "/" + cfg.Database,
		schema: schema,
		log:    log,
		db:     stdlib.OpenDB(*cfg),

		warnedNUL: make(map[string]bool),
	}
	if err := d.init(ctx); err != nil {
		_ = d.close()
		return nil, fmt.Errorf("open destination %s: %w", d.where, err)
	}
	return d, nil
}

// init takes the connection and the schema's lock, creates the metadata
// tables and loads them.
func (d *Destination) init(ctx context.Context) error {
	var err error
	if d.conn, err = d.db.Conn(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	var locked bool
	if err := d.conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
		lockName(d.schema)).Scan(&locked); err != nil {
		return fmt.Errorf("lock schema: %w", err)
	}
	if !locked {
		return fmt.Errorf("schema %q is in use by another process", d.schema)
	}
	d.locked = true
	tables, err := layout.InitMetadata(ctx, d.conn, d.schema)
	if err != nil {
		return err
	}
	for _, t := range tables {
		t.TTL = true // every table this destination creates has the column
	}
	d.Load(tables)
	d.log.Debug("destination open", "database", d.where, "schema", d.schema, "tables", d.Len())
	return nil
}

// Close releases the schema and the connection. Closing again does nothing.
func (d *Destination) Close() error {
	if d.db == nil {
		return nil
	}
	if err := d.close(); err != nil {
		return fmt.Errorf("close destination %s: %w", d.where, err)
	}
	return nil
}

func (d *Destination) close() error {
	var errs []error
	// The server releases a session's locks when the session ends, which
	// can be a moment after the client has gone: unlock first, so that the
	// schema is free when Close returns.
	if d.conn != nil && d.locked {
		if _, err := d.conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock(hashtextextended($1, 0))", lockName(d.schema)); err != nil {
			errs = append(errs, fmt.Errorf("unlock schema: %w", err))
		}
		d.locked = false
	}
	errs = append(errs, layout.CloseDB(d.conn, d.db))
	d.conn, d.db = nil, nil
	return errors.Join(errs...)
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

// lockName is the advisory lock key's text for a schema.
func lockName(schema string) string { return "dynamosync:" + schema }
