package layout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/dynamosync/dynamosync/internal/change"
)

// Catalog holds a destination's committed view of its tables. Tables in it
// are never modified: a batch changes clones and Installs them once it has
// committed.
type Catalog struct {
	mu     sync.Mutex
	tables map[string]*Table // by DynamoDB table name
}

// Load replaces the catalog's tables with tables (as LoadTables returns).
func (c *Catalog) Load(tables map[string]*Table) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tables = tables
}

// Get returns the committed table of DynamoDB table source, or nil.
func (c *Catalog) Get(source string) *Table {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tables[source]
}

// Install makes tables (by DynamoDB table name) the committed ones.
func (c *Catalog) Install(tables map[string]*Table) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tables == nil {
		c.tables = make(map[string]*Table, len(tables))
	}
	for name, t := range tables {
		c.tables[name] = t
	}
}

// Len is the number of tables.
func (c *Catalog) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.tables)
}

// Columns returns the attribute columns of the destination table of the
// DynamoDB table named table, in column order: keys first. The system
// columns are not included.
func (c *Catalog) Columns(ctx context.Context, table string) ([]Column, error) {
	t, err := c.lookup(table)
	if err != nil {
		return nil, err
	}
	return slices.Clone(t.Cols), nil
}

// TableName returns the name of the destination table of the DynamoDB table
// named table.
func (c *Catalog) TableName(ctx context.Context, table string) (string, error) {
	t, err := c.lookup(table)
	if err != nil {
		return "", err
	}
	return t.Name, nil
}

func (c *Catalog) lookup(name string) (*Table, error) {
	if t := c.Get(name); t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("table %q: %w", name, ErrUnknownTable)
}

// Transact runs fn in a transaction on conn and commits it; when fn fails
// the transaction is rolled back and fn's error returned. The transaction
// outlives a canceled ctx (database/sql would roll it back on cancellation
// and let later statements run outside it): fn gives ctx to each statement,
// and a canceled statement fails the batch.
func Transact(ctx context.Context, conn *sql.Conn, log *slog.Logger, fn func(tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tx, err := conn.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			log.Warn("rollback failed", "err", rbErr)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// CheckBatch rejects a batch no destination can apply: nil, or writing rows
// without a SyncedAt.
func CheckBatch(b *change.Batch) error {
	if b == nil {
		return errors.New("apply batch: nil batch")
	}
	if b.SyncedAt.IsZero() && WritesRows(b) {
		return errors.New("apply batch: SyncedAt is not set")
	}
	return nil
}

// ApplyBatch runs the batch in tx the way every SQL destination does: the
// changes grouped by table in order of first appearance, so that evolve
// creates or widens each table once before any of its rows are written;
// then write for each TableChanges in batch order; then the state row
// (left as is when b.State is nil). It returns the tables whose metadata
// changed, to Install once tx has committed.
func ApplyBatch(ctx context.Context, tx *sql.Tx, schema string, b *change.Batch,
	evolve func([]*change.TableChanges) (t *Table, changed bool, err error),
	write func(t *Table, tc *change.TableChanges) error) (map[string]*Table, error) {
	order, groups := Group(b)
	next := make(map[string]*Table)
	current := make(map[string]*Table, len(order))
	for _, name := range order {
		t, changed, err := evolve(groups[name])
		if err != nil {
			return nil, fmt.Errorf("table %q: %w", name, err)
		}
		current[name] = t
		if changed {
			next[name] = t
		}
	}
	for i := range b.Tables {
		tc := &b.Tables[i]
		if err := write(current[tc.Table.Name], tc); err != nil {
			return nil, fmt.Errorf("table %q: %w", tc.Table.Name, err)
		}
	}
	if b.State != nil {
		if err := WriteState(ctx, tx, schema, b.State, b.SyncedAt); err != nil {
			return nil, fmt.Errorf("write state: %w", err)
		}
	}
	return next, nil
}

// CloseDB closes conn, then db (either may be nil), and joins their errors.
func CloseDB(conn *sql.Conn, db *sql.DB) error {
	var errs []error
	if conn != nil {
		if err := conn.Close(); err != nil && !errors.Is(err, sql.ErrConnDone) {
			errs = append(errs, err)
		}
	}
	if db != nil {
		if err := db.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
