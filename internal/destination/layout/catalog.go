package layout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
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
