package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/destination/layout"
	"github.com/dynamosync/dynamosync/internal/value"
)

// Apply writes a batch and its state in one transaction: tables are created,
// widened and given missing system columns as the batch needs; then each
// TableChanges, in batch order, has its upserts, its deletes and its
// DeleteUnseenBefore applied; and the state row is replaced (left as is when
// b.State is nil). If any step fails nothing of the batch is kept. Apply must
// not be called concurrently.
//
// A batch that fails for want of memory is applied again with DuckDB's
// memory limit doubled (see startMemoryLimit and raiseMemoryLimit).
//
// Upserts into a table are first written as plain inserts, much faster than
// replacing rows in a large table; if a key already exists the batch is
// rolled back and applied again replacing rows, as are the table's later
// batches.
func (d *Destination) Apply(ctx context.Context, b *change.Batch) error {
	if err := layout.CheckBatch(b); err != nil {
		return err
	}
	for {
		err := d.applyOnce(ctx, b)
		if outOfMemory(err) {
			raised, rerr := d.raiseMemoryLimit(ctx, err)
			if rerr != nil {
				return errors.Join(err, rerr)
			}
			if raised {
				continue
			}
			return err
		}
		var c *conflictError
		if !errors.As(err, &c) || d.replace[c.table] {
			return err
		}
		d.log.Debug("keys already present: replacing rows", "table", c.table, "err", c.err)
		d.replace[c.table] = true
	}
}

// conflictError reports that plain inserts into a table met existing keys.
type conflictError struct {
	table string // DynamoDB table name
	err   error
}

func (e *conflictError) Error() string { return e.err.Error() }
func (e *conflictError) Unwrap() error { return e.err }

// applyOnce applies the batch in one transaction.
func (d *Destination) applyOnce(ctx context.Context, b *change.Batch) error {
	var next map[string]*layout.Table
	err := layout.Transact(ctx, d.conn, d.log, func(tx *sql.Tx) error {
		var err error
		next, err = d.apply(ctx, tx, b)
		return err
	})
	if err != nil {
		return fmt.Errorf("apply batch: %w", err)
	}
	d.Install(next)
	return nil
}

// apply runs the batch in tx and returns the tables whose metadata changed.
// Rows are written through appenders on d.conn, which holds tx, and so
// inside it.
func (d *Destination) apply(ctx context.Context, tx *sql.Tx, b *change.Batch) (map[string]*layout.Table, error) {
	synced := timestampLiteral(b.SyncedAt)
	evolve := func(changes []*change.TableChanges) (*layout.Table, bool, error) { return d.evolve(ctx, tx, changes) }
	return layout.ApplyBatch(ctx, tx, d.schema, b, evolve, func(t *layout.Table, tc *change.TableChanges) error {
		if err := d.upsert(ctx, t, tc.Upserts, synced, d.replace[t.Source]); err != nil {
			return fmt.Errorf("upsert: %w", err)
		}
		if err := d.delete(ctx, t, tc.Deletes, synced); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		if tc.DeleteUnseenBefore != nil {
			n, err := d.deleteUnseen(ctx, tx, t, timestampLiteral(*tc.DeleteUnseenBefore), synced)
			if err != nil {
				return fmt.Errorf("delete rows unseen since %s: %w", tc.DeleteUnseenBefore.UTC().Format(time.RFC3339Nano), err)
			}
			d.log.Info("deleted rows unseen by the snapshot", "table", t.Source, "before", tc.DeleteUnseenBefore.UTC(), "rows", n)
		}
		return nil
	})
}

// evolve makes the destination table of a DynamoDB table able to hold every
// value of changes: it creates the table, adds columns and widens column
// types as needed, in tx, and records the new metadata. It returns the
// table's metadata and whether it changed.
func (d *Destination) evolve(ctx context.Context, tx *sql.Tx, changes []*change.TableChanges) (*layout.Table, bool, error) {
	cur := d.Get(changes[0].Table.Name)
	t, err := layout.Prepare(cur, changes[0].Table, identifiers)
	if err != nil {
		return nil, false, err
	}
	// A table written before the TTL column existed gets it first, so that
	// the statements below see the table as this version creates it.
	upgraded := false
	if !t.TTL {
		if err := d.addTTLColumn(ctx, tx, t); err != nil {
			return nil, false, err
		}
		upgraded = true
	}
	old, widened, err := t.Absorb(changes, identifiers)
	if err != nil {
		return nil, false, err
	}

	if cur == nil {
		if err := d.create(ctx, tx, t); err != nil {
			return nil, false, err
		}
		return t, true, nil
	}

	rebuild := false
	for _, i := range widened {
		rebuild = rebuild || old[i].Key
	}
	if len(widened) == 0 && len(t.Cols) == len(old) {
		if upgraded {
			return t, true, nil
		}
		return cur, false, nil
	}
	if rebuild {
		if err := d.rebuild(ctx, tx, old, t); err != nil {
			return nil, false, err
		}
	} else if err := d.alter(ctx, tx, old, t, widened); err != nil {
		return nil, false, err
	}

	if err := layout.SaveAbsorbed(ctx, tx, d.schema, t, old, widened); err != nil {
		return nil, false, err
	}
	return t, true, nil
}

// create creates the destination table for t, naming it after its source
// with the first free suffix, and records its metadata.
func (d *Destination) create(ctx context.Context, tx *sql.Tx, t *layout.Table) error {
	names, err := layout.QueryNames(ctx, tx, "SELECT table_name FROM information_schema.tables"+
		" WHERE table_catalog = current_database() AND table_schema = ?", d.schema)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	taken := identifiers.Taken(append(names, reservedTables...)...)
	t.Name = identifiers.Free(t.Source, taken)

	stmt, err := createSQL(d.schema, t.Name, t.Cols)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("create table %s: %w", ident(t.Name), err)
	}
	if err := layout.RecordTable(ctx, tx, d.schema, t); err != nil {
		return err
	}
	d.log.Info("created table", "table", t.Source, "name", t.Name, "columns", len(t.Cols))
	return nil
}

// createSQL is the CREATE TABLE statement of a table named name in schema
// with attribute columns cols and the system columns.
func createSQL(schema, name string, cols []layout.Column) (string, error) {
	var b strings.Builder
	b.WriteString("CREATE TABLE " + ident(schema) + "." + ident(name) + " (")
	var keys []string
	for _, c := range cols {
		typ, err := sqlType(c.Type)
		if err != nil {
			return "", fmt.Errorf("column %q: %w", c.Attribute, err)
		}
		b.WriteString(ident(c.Name) + " " + typ)
		if c.Key {
			b.WriteString(" NOT NULL")
			keys = append(keys, ident(c.Name))
		}
		b.WriteString(", ")
	}
	b.WriteString(ident(syncedColumn) + " TIMESTAMPTZ, " + ident(deletedColumn) + " BOOLEAN, " + ident(ttlColumn) + " BOOLEAN")
	b.WriteString(", PRIMARY KEY (" + strings.Join(keys, ", ") + "))")
	return b.String(), nil
}

// alter widens the columns at indexes widened from their types in old to
// those in t, and adds t's columns beyond old, in place.
func (d *Destination) alter(ctx context.Context, tx *sql.Tx, old []layout.Column, t *layout.Table, widened []int) error {
	name := ident(d.schema) + "." + ident(t.Name)
	for _, i := range widened {
		from, to := old[i].Type, t.Cols[i].Type
		fromSQL, err := sqlType(from)
		if err != nil {
			return err
		}
		toSQL, err := sqlType(to)
		if err != nil {
			return err
		}
		if fromSQL == toSQL && from.Kind == value.Null {
			continue // a Null column is already VARCHAR, holding only NULLs
		}
		expr, err := convert(ident(t.Cols[i].Name), from, to)
		if err != nil {
			return fmt.Errorf("column %q: %w", t.Cols[i].Attribute, err)
		}
		stmt := "ALTER TABLE " + name + " ALTER COLUMN " + ident(t.Cols[i].Name) + " SET DATA TYPE " + toSQL + " USING " + expr
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("widen column %q from %s to %s: %w", t.Cols[i].Attribute, from, to, err)
		}
		d.log.Info("widened column", "table", t.Source, "attribute", t.Cols[i].Attribute, "from", from.String(), "to", to.String())
	}
	for _, c := range t.Cols[len(old):] {
		typ, err := sqlType(c.Type)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+name+" ADD COLUMN "+ident(c.Name)+" "+typ); err != nil {
			return fmt.Errorf("add column %q: %w", c.Attribute, err)
		}
		d.log.Debug("added column", "table", t.Source, "attribute", c.Attribute, "name", c.Name, "type", c.Type.String())
	}
	return nil
}

// rebuild recreates t's table with t's columns, converting the stored values
// from the types in old: DuckDB cannot change the type of a primary key
// column in place.
func (d *Destination) rebuild(ctx context.Context, tx *sql.Tx, old []layout.Column, t *layout.Table) error {
	s := ident(d.schema)
	stmt, err := createSQL(d.schema, rebuildTable, t.Cols)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("rebuild: create: %w", err)
	}
	names := make([]string, 0, len(old)+len(systemColumns))
	exprs := make([]string, 0, len(old)+len(systemColumns))
	for i, c := range old {
		expr, err := convert(ident(c.Name), c.Type, t.Cols[i].Type)
		if err != nil {
			return fmt.Errorf("column %q: %w", c.Attribute, err)
		}
		names = append(names, ident(c.Name))
		exprs = append(exprs, expr)
	}
	for _, c := range systemColumns {
		names = append(names, ident(c))
		exprs = append(exprs, ident(c))
	}
	stmts := []string{
		"INSERT INTO " + s + "." + ident(rebuildTable) + " (" + strings.Join(names, ", ") + ") SELECT " +
			strings.Join(exprs, ", ") + " FROM " + s + "." + ident(t.Name),
		"DROP TABLE " + s + "." + ident(t.Name),
		"ALTER TABLE " + s + "." + ident(rebuildTable) + " RENAME TO " + ident(t.Name),
	}
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("rebuild: %w", err)
		}
	}
	for i := range old {
		if old[i].Type != t.Cols[i].Type {
			d.log.Info("widened column", "table", t.Source, "attribute", t.Cols[i].Attribute,
				"from", old[i].Type.String(), "to", t.Cols[i].Type.String(), "rebuilt", true)
		}
	}
	return nil
}

// addTTLColumn makes sure t's table has the system column ttlColumn, which
// tables written before it existed lack: it adds the column, false in every
// row. An attribute column holding that name, compared folded, is first
// renamed with the first free suffix, as a new attribute of that name would
// be. It sets t.TTL.
func (d *Destination) addTTLColumn(ctx context.Context, tx *sql.Tx, t *layout.Table) error {
	names, err := layout.QueryNames(ctx, tx, "SELECT column_name FROM information_schema.columns"+
		" WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?", d.schema, t.Name)
	if err != nil {
		return fmt.Errorf("list columns: %w", err)
	}
	taken := identifiers.Taken(append(names, systemColumns...)...)
	present := slices.ContainsFunc(names, func(n string) bool { return fold(n) == fold(ttlColumn) })

	name := ident(d.schema) + "." + ident(t.Name)
	rename := -1
	for i, c := range t.Cols {
		if fold(c.Name) == fold(ttlColumn) {
			rename = i
		}
	}
	if present && rename < 0 {
		t.TTL = true // the system column is there
		return nil
	}
	if rename >= 0 {
		c := &t.Cols[rename]
		to := identifiers.Free(c.Name, taken)
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+name+" RENAME COLUMN "+ident(c.Name)+" TO "+ident(to)); err != nil {
			return fmt.Errorf("rename column %q from %q to %q: %w", c.Attribute, c.Name, to, err)
		}
		d.log.Info("renamed column to free a system column name", "table", t.Source, "attribute", c.Attribute, "from", c.Name, "to", to)
		c.Name = to
		if err := layout.SaveColumns(ctx, tx, d.schema, t, []int{rename}); err != nil {
			return err
		}
	}
	// The default fills the rows already present; dropping it leaves the
	// column as a new table has it.
	for _, stmt := range []string{
		"ALTER TABLE " + name + " ADD COLUMN " + ident(ttlColumn) + " BOOLEAN DEFAULT false",
		"ALTER TABLE " + name + " ALTER COLUMN " + ident(ttlColumn) + " DROP DEFAULT",
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("add system column %s: %w", ttlColumn, err)
		}
	}
	d.log.Info("added system column", "table", t.Source, "column", ttlColumn)
	t.TTL = true
	return nil
}
