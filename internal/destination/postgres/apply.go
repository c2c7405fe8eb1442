package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/destination/layout"
	"github.com/dynamosync/dynamosync/internal/value"
)

// Apply writes a batch and its state in one transaction: tables are created
// and widened as the batch needs; then each TableChanges, in batch order,
// has its upserts, its deletes and its DeleteUnseenBefore applied; and the
// state row is replaced (left as is when b.State is nil). If any step fails
// nothing of the batch is kept. Apply must not be called concurrently.
func (d *Destination) Apply(ctx context.Context, b *change.Batch) error {
	if err := layout.CheckBatch(b); err != nil {
		return err
	}
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
func (d *Destination) apply(ctx context.Context, tx *sql.Tx, b *change.Batch) (map[string]*layout.Table, error) {
	synced := b.SyncedAt.UTC().Truncate(time.Microsecond)
	evolve := func(changes []*change.TableChanges) (*layout.Table, bool, error) { return d.evolve(ctx, tx, changes) }
	return layout.ApplyBatch(ctx, tx, d.schema, b, evolve, func(t *layout.Table, tc *change.TableChanges) error {
		if err := d.upsert(ctx, tx, t, tc.Upserts, synced); err != nil {
			return fmt.Errorf("upsert: %w", err)
		}
		if err := d.delete(ctx, tx, t, tc.Deletes, synced); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		if tc.DeleteUnseenBefore != nil {
			before := tc.DeleteUnseenBefore.UTC().Truncate(time.Microsecond)
			n, err := d.deleteUnseen(ctx, tx, t, before, synced)
			if err != nil {
				return fmt.Errorf("delete rows unseen since %s: %w", before.Format(time.RFC3339Nano), err)
			}
			d.log.Info("deleted rows unseen by the snapshot", "table", t.Source, "before", before, "rows", n)
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
	if len(widened) == 0 && len(t.Cols) == len(old) {
		return cur, false, nil
	}
	if err := d.alter(ctx, tx, old, t, widened); err != nil {
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
	// Tables share their names with the schema's other relations and with
	// the composite type of each table.
	names, err := layout.QueryNames(ctx, tx, "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"+
		" WHERE n.nspname = $1 UNION SELECT y.typname FROM pg_type y JOIN pg_namespace n ON n.oid = y.typnamespace"+
		" WHERE n.nspname = $1 AND y.typcategory <> 'A'", d.schema)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	taken := identifiers.Taken(append(names, reservedTables...)...)
	t.Name = identifiers.Free(t.Source, taken)

	var b strings.Builder
	b.WriteString("CREATE TABLE " + ident(d.schema) + "." + ident(t.Name) + " (")
	var keys []string
	for _, c := range t.Cols {
		typ, err := sqlType(c.Type)
		if err != nil {
			return fmt.Errorf("column %q: %w", c.Attribute, err)
		}
		b.WriteString(ident(c.Name) + " " + typ)
		if c.Key {
			b.WriteString(" NOT NULL")
			keys = append(keys, c.Name)
		}
		b.WriteString(", ")
	}
	b.WriteString(ident(layout.SyncedColumn) + " timestamptz, " + ident(layout.DeletedColumn) + " boolean, " +
		ident(layout.TTLColumn) + " boolean, PRIMARY KEY (" + columnList(keys) + "))")
	if _, err := tx.ExecContext(ctx, b.String()); err != nil {
		return fmt.Errorf("create table %s: %w", ident(t.Name), err)
	}
	if err := layout.RecordTable(ctx, tx, d.schema, t); err != nil {
		return err
	}
	d.log.Info("created table", "table", t.Source, "name", t.Name, "columns", len(t.Cols))
	return nil
}

// alter widens the columns at indexes widened from their types in old to
// those in t, and adds t's columns beyond old, in one ALTER TABLE: the table
// is rewritten at most once.
func (d *Destination) alter(ctx context.Context, tx *sql.Tx, old []layout.Column, t *layout.Table, widened []int) error {
	var actions []string
	for _, i := range widened {
		from, to := old[i].Type, t.Cols[i].Type
		target, err := sqlType(to)
		if err != nil {
			return err
		}
		expr, err := convert(ident(t.Cols[i].Name), from, to)
		if err != nil {
			return fmt.Errorf("column %q: %w", t.Cols[i].Attribute, err)
		}
		actions = append(actions, "ALTER COLUMN "+ident(t.Cols[i].Name)+" TYPE "+target+" USING "+expr)
	}
	for _, c := range t.Cols[len(old):] {
		typ, err := sqlType(c.Type)
		if err != nil {
			return err
		}
		actions = append(actions, "ADD COLUMN "+ident(c.Name)+" "+typ)
	}
	stmt := "ALTER TABLE " + ident(d.schema) + "." + ident(t.Name) + " " + strings.Join(actions, ", ")
	if _, err := tx.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("alter table: %w", err)
	}
	for _, i := range widened {
		d.log.Info("widened column", "table", t.Source, "attribute", t.Cols[i].Attribute, "from", old[i].Type.String(), "to", t.Cols[i].Type.String())
	}
	for _, c := range t.Cols[len(old):] {
		d.log.Debug("added column", "table", t.Source, "attribute", c.Attribute, "name", c.Name, "type", c.Type.String())
	}
	return nil
}

// upsert replaces the rows of items, whole: columns of attributes an item
// lacks become NULL, and the flags false.
func (d *Destination) upsert(ctx context.Context, tx *sql.Tx, t *layout.Table, items []change.Item, synced time.Time) error {
	if len(items) == 0 {
		return nil
	}
	cols := layout.UpsertColumns(t, items)
	r, err := layout.EncodeUpserts(t, cols, items)
	if err != nil {
		return err
	}
	staged := make([]string, len(cols))
	types := make([]value.Type, len(cols))
	for j, ci := range cols {
		staged[j] = stagedType(t.Cols[ci].Type)
		types[j] = t.Cols[ci].Type
	}
	d.replaceNUL(t, r, types)

	var names, exprs, keys, sets []string
	j := 0
	for i, c := range t.Cols {
		names = append(names, c.Name)
		if c.Key {
			keys = append(keys, c.Name)
		} else {
			sets = append(sets, ident(c.Name)+" = EXCLUDED."+ident(c.Name))
		}
		if j < len(cols) && cols[j] == i {
			expr, err := fromStaged(stagedColumn(j), c.Type)
			if err != nil {
				return err
			}
			exprs = append(exprs, expr)
			j++
		} else {
			exprs = append(exprs, "NULL")
		}
	}
	names = append(names, layout.SystemColumns...)
	exprs = append(exprs, "$1::timestamptz", "false", "false")
	for _, c := range layout.SystemColumns {
		sets = append(sets, ident(c)+" = EXCLUDED."+ident(c))
	}
	query := "INSERT INTO " + ident(d.schema) + "." + ident(t.Name) + " (" + columnList(names) + ") SELECT " +
		strings.Join(exprs, ", ") + " FROM pg_temp." + ident(stageTable) +
		" ON CONFLICT (" + columnList(keys) + ") DO UPDATE SET " + strings.Join(sets, ", ")
	return d.write(ctx, tx, r, staged, query, synced)
}

// delete marks the rows of the keys of dels deleted, setting the TTL column
// to each delete's TTLExpired, and creates rows holding only the key for
// keys not present.
func (d *Destination) delete(ctx context.Context, tx *sql.Tx, t *layout.Table, dels []change.Delete, synced time.Time) error {
	if len(dels) == 0 {
		return nil
	}
	r, err := layout.EncodeDeletes(t, dels)
	if err != nil {
		return err
	}
	keys := t.Keys()
	var names, exprs, staged []string
	for j, c := range keys {
		expr, err := fromStaged(stagedColumn(j), c.Type)
		if err != nil {
			return err
		}
		names = append(names, c.Name)
		exprs = append(exprs, expr)
		staged = append(staged, stagedType(c.Type))
	}
	keyList := columnList(names)
	types := make([]value.Type, len(keys))
	for j, c := range keys {
		types[j] = c.Type
	}
	d.replaceNUL(t, r, types)
	staged = append(staged, "boolean")
	names = append(names, layout.SystemColumns...)
	exprs = append(exprs, "$1::timestamptz", "true", stagedColumn(len(keys)))
	query := "INSERT INTO " + ident(d.schema) + "." + ident(t.Name) + " (" + columnList(names) + ") SELECT " +
		strings.Join(exprs, ", ") + " FROM pg_temp." + ident(stageTable) +
		" ON CONFLICT (" + keyList + ") DO UPDATE SET " + ident(layout.DeletedColumn) + " = true, " +
		ident(layout.SyncedColumn) + " = EXCLUDED." + ident(layout.SyncedColumn) + ", " +
		ident(layout.TTLColumn) + " = EXCLUDED." + ident(layout.TTLColumn)
	return d.write(ctx, tx, r, staged, query, synced)
}

// replaceNUL replaces U+0000, which PostgreSQL cannot store in text, in
// the values of rows (see nulReplacement), warning once per table.
func (d *Destination) replaceNUL(t *layout.Table, r *layout.Rows, types []value.Type) {
	if n := replaceRowsNUL(r, types); n > 0 && !d.warnedNUL[t.Source] {
		d.warnedNUL[t.Source] = true
		d.log.Warn("PostgreSQL text cannot hold the character U+0000: written as U+FFFD", "table", t.Source, "values", n)
	}
}

// deleteUnseen marks deleted, not by TTL, every live row of t last written
// before before.
func (d *Destination) deleteUnseen(ctx context.Context, tx *sql.Tx, t *layout.Table, before, synced time.Time) (int64, error) {
	res, err := tx.ExecContext(ctx, "UPDATE "+ident(d.schema)+"."+ident(t.Name)+" SET "+
		ident(layout.DeletedColumn)+" = true, "+ident(layout.SyncedColumn)+" = $1, "+ident(layout.TTLColumn)+" = false"+
		" WHERE NOT "+ident(layout.DeletedColumn)+" AND "+ident(layout.SyncedColumn)+" < $2", synced, before)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// write copies rows into a temporary stage table (column j of type
// staged[j]) with COPY, runs query (which reads the stage table; $1 is
// synced) and drops the stage table, all in tx.
func (d *Destination) write(ctx context.Context, tx *sql.Tx, r *layout.Rows, staged []string, query string, synced time.Time) error {
	cols := make([]string, len(staged))
	defs := make([]string, len(staged))
	for j, typ := range staged {
		cols[j] = stagedColumn(j)
		defs[j] = cols[j] + " " + typ
	}
	if _, err := tx.ExecContext(ctx, "CREATE TEMPORARY TABLE "+ident(stageTable)+" ("+strings.Join(defs, ", ")+") ON COMMIT DROP"); err != nil {
		return fmt.Errorf("create stage table: %w", err)
	}
	// COPY runs on the connection that holds tx, and so inside it.
	err := d.conn.Raw(func(dc any) error {
		conn, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		n, err := conn.Conn().CopyFrom(ctx, pgx.Identifier{stageTable}, cols,
			pgx.CopyFromSlice(r.Len(), func(i int) ([]any, error) { return r.Row(i), nil }))
		if err == nil && n != int64(r.Len()) {
			err = fmt.Errorf("copied %d rows of %d", n, r.Len())
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if _, err := tx.ExecContext(ctx, query, synced); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "DROP TABLE pg_temp."+ident(stageTable)); err != nil {
		return fmt.Errorf("drop stage table: %w", err)
	}
	return nil
}
