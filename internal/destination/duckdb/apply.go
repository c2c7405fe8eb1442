package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/value"
)

// Apply writes a batch and its state in one transaction: tables are created,
// widened and given missing system columns as the batch needs; then each
// TableChanges, in batch order, has its upserts, its deletes and its
// DeleteUnseenBefore applied; and the state row is replaced (left as is when
// b.State is nil). If any step fails nothing of the batch is kept. Apply must
// not be called concurrently.
//
// Upserts into a table are first written as plain inserts, much faster than
// replacing rows in a large table; if a key already exists the batch is
// rolled back and applied again replacing rows, as are the table's later
// batches.
func (d *Destination) Apply(ctx context.Context, b *change.Batch) error {
	if b == nil {
		return errors.New("apply batch: nil batch")
	}
	if b.SyncedAt.IsZero() && writesRows(b) {
		return errors.New("apply batch: SyncedAt is not set")
	}
	for {
		err := d.applyOnce(ctx, b)
		var c *conflictError
		if !errors.As(err, &c) || d.replace[c.table] {
			return err
		}
		d.log.Debug("keys already present: replacing rows", "table", c.table, "err", c.err)
		d.replace[c.table] = true
	}
}

// writesRows reports whether b may write rows: it has changes or a
// DeleteUnseenBefore.
func writesRows(b *change.Batch) bool {
	for _, tc := range b.Tables {
		if len(tc.Upserts) > 0 || len(tc.Deletes) > 0 || tc.DeleteUnseenBefore != nil {
			return true
		}
	}
	return false
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
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("apply batch: %w", err)
	}
	// The transaction must outlive a canceled ctx: database/sql would roll it
	// back on cancellation and let later statements run outside it. Each
	// statement gets ctx instead, and a canceled statement fails the batch.
	tx, err := d.conn.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return fmt.Errorf("apply batch: begin: %w", err)
	}
	next, err := d.apply(ctx, tx, b)
	if err != nil {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			d.log.Warn("rollback failed", "err", rbErr)
		}
		return fmt.Errorf("apply batch: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("apply batch: commit: %w", err)
	}
	d.mu.Lock()
	for name, t := range next {
		d.tables[name] = t
	}
	d.mu.Unlock()
	return nil
}

// apply runs the batch in tx and returns the tables whose metadata changed.
func (d *Destination) apply(ctx context.Context, tx *sql.Tx, b *change.Batch) (map[string]*table, error) {
	// Group the changes by table, in order of first appearance, so each table
	// is created or widened once, before any of its rows are written.
	groups := make(map[string][]*change.TableChanges)
	var order []string
	for i := range b.Tables {
		tc := &b.Tables[i]
		if _, ok := groups[tc.Table.Name]; !ok {
			order = append(order, tc.Table.Name)
		}
		groups[tc.Table.Name] = append(groups[tc.Table.Name], tc)
	}

	next := make(map[string]*table)
	current := make(map[string]*table, len(order))
	for _, name := range order {
		t, changed, err := d.evolve(ctx, tx, groups[name])
		if err != nil {
			return nil, fmt.Errorf("table %q: %w", name, err)
		}
		current[name] = t
		if changed {
			next[name] = t
		}
	}

	// Rows are written through appenders on d.conn, which holds tx, and so
	// inside it.
	synced := timestampLiteral(b.SyncedAt)
	for i := range b.Tables {
		tc := &b.Tables[i]
		t := current[tc.Table.Name]
		if err := d.upsert(ctx, t, tc.Upserts, synced, d.replace[t.source]); err != nil {
			return nil, fmt.Errorf("table %q: upsert: %w", t.source, err)
		}
		if err := d.delete(ctx, t, tc.Deletes, synced); err != nil {
			return nil, fmt.Errorf("table %q: delete: %w", t.source, err)
		}
		if tc.DeleteUnseenBefore != nil {
			n, err := d.deleteUnseen(ctx, tx, t, timestampLiteral(*tc.DeleteUnseenBefore), synced)
			if err != nil {
				return nil, fmt.Errorf("table %q: delete rows unseen since %s: %w", t.source, tc.DeleteUnseenBefore.UTC().Format(time.RFC3339Nano), err)
			}
			d.log.Info("deleted rows unseen by the snapshot", "table", t.source, "before", tc.DeleteUnseenBefore.UTC(), "rows", n)
		}
	}

	if b.State != nil {
		if err := d.writeState(ctx, tx, b.State, b.SyncedAt); err != nil {
			return nil, fmt.Errorf("write state: %w", err)
		}
	}
	return next, nil
}

// evolve makes the destination table of a DynamoDB table able to hold every
// value of changes: it creates the table, adds columns and widens column
// types as needed, in tx, and records the new metadata. It returns the
// table's metadata and whether it changed.
func (d *Destination) evolve(ctx context.Context, tx *sql.Tx, changes []*change.TableChanges) (*table, bool, error) {
	src := changes[0].Table
	if len(src.Key) == 0 || len(src.Key) > 2 {
		return nil, false, fmt.Errorf("table has %d key attributes, want 1 or 2", len(src.Key))
	}
	for _, tc := range changes[1:] {
		if !slices.Equal(tc.Table.Key, src.Key) {
			return nil, false, errors.New("batch gives the table two different keys")
		}
	}

	cur := d.tables[src.Name]
	var t *table
	if cur == nil {
		t = &table{source: src.Name, byAttr: make(map[string]int), ttl: true}
		for _, k := range src.Key {
			typ, err := value.KeyType(string(k.Type))
			if err != nil {
				return nil, false, err
			}
			t.add(k.Name, typ, true)
		}
	} else {
		keys := cur.keys()
		same := len(keys) == len(src.Key)
		for i := 0; same && i < len(keys); i++ {
			same = keys[i].attr == src.Key[i].Name
		}
		if !same {
			return nil, false, fmt.Errorf("key %s differs from the destination table's key %s", keyNames(src.Key), colAttrs(keys))
		}
		t = cur.clone()
	}
	// A table written before ttlColumn existed gets it first, so that the
	// statements below see the table as this version creates it.
	upgraded := false
	if !t.ttl {
		if err := d.addTTLColumn(ctx, tx, t); err != nil {
			return nil, false, err
		}
		upgraded = true
	}

	seen, err := batchTypes(src.Key, changes)
	if err != nil {
		return nil, false, err
	}

	// Widen existing columns, then add new attributes sorted by name.
	old := slices.Clone(t.cols)
	var added []string
	for attr, typ := range seen {
		if i, ok := t.byAttr[attr]; ok {
			t.cols[i].typ = value.Join(t.cols[i].typ, typ)
		} else {
			added = append(added, attr)
		}
	}
	slices.Sort(added)
	for _, attr := range added {
		t.add(attr, seen[attr], false)
	}

	if cur == nil {
		if err := d.create(ctx, tx, t); err != nil {
			return nil, false, err
		}
		return t, true, nil
	}

	var widened []int
	rebuild := false
	for i := range old {
		if old[i].typ != t.cols[i].typ {
			widened = append(widened, i)
			rebuild = rebuild || old[i].key
		}
	}
	if len(widened) == 0 && len(added) == 0 {
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

	changed := widened
	for i := len(old); i < len(t.cols); i++ {
		changed = append(changed, i)
	}
	if err := d.saveColumns(ctx, tx, t, changed); err != nil {
		return nil, false, err
	}
	return t, true, nil
}

// batchTypes returns the joined type of every attribute the changes carry,
// after checking that each item has every key attribute with a value of its
// declared type. Deletes contribute their key attributes only.
func batchTypes(key []change.KeyAttribute, changes []*change.TableChanges) (map[string]value.Type, error) {
	seen := make(map[string]value.Type)
	join := func(attr string, av types.AttributeValue) error {
		typ, err := value.Of(av)
		if err != nil {
			return fmt.Errorf("attribute %q: %w", attr, err)
		}
		if prev, ok := seen[attr]; ok {
			typ = value.Join(prev, typ)
		}
		seen[attr] = typ
		return nil
	}
	for _, tc := range changes {
		for _, item := range tc.Upserts {
			if err := checkKey(key, item); err != nil {
				return nil, err
			}
			for attr, av := range item {
				if err := join(attr, av); err != nil {
					return nil, err
				}
			}
		}
		for _, del := range tc.Deletes {
			if err := checkKey(key, del.Key); err != nil {
				return nil, err
			}
			for _, k := range key {
				if err := join(k.Name, del.Key[k.Name]); err != nil {
					return nil, err
				}
			}
		}
	}
	return seen, nil
}

// checkKey reports an item that lacks a key attribute or has one of another
// type than declared.
func checkKey(key []change.KeyAttribute, item change.Item) error {
	for _, k := range key {
		av, ok := item[k.Name]
		if !ok {
			return fmt.Errorf("item without key attribute %q", k.Name)
		}
		var match bool
		switch av.(type) {
		case *types.AttributeValueMemberS:
			match = k.Type == change.KeyString
		case *types.AttributeValueMemberN:
			match = k.Type == change.KeyNumber
		case *types.AttributeValueMemberB:
			match = k.Type == change.KeyBinary
		}
		if !match {
			return fmt.Errorf("key attribute %q: value %T is not of declared type %s", k.Name, av, k.Type)
		}
	}
	return nil
}

// create creates the destination table for t, naming it after its source
// with the first free suffix, and records its metadata.
func (d *Destination) create(ctx context.Context, tx *sql.Tx, t *table) error {
	rows, err := tx.QueryContext(ctx, "SELECT table_name FROM information_schema.tables"+
		" WHERE table_catalog = current_database() AND table_schema = ?", d.schema)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	taken := make(map[string]bool)
	for _, name := range reservedTables {
		taken[fold(name)] = true
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("list tables: %w", err)
		}
		taken[fold(name)] = true
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	t.name = freeName(t.source, taken)

	stmt, err := createSQL(d.schema, t.name, t.cols)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("create table %s: %w", ident(t.name), err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+ident(d.schema)+"."+ident(tablesTable)+
		" (source_table, table_name) VALUES (?, ?)", t.source, t.name); err != nil {
		return fmt.Errorf("record table: %w", err)
	}
	all := make([]int, len(t.cols))
	for i := range all {
		all[i] = i
	}
	if err := d.saveColumns(ctx, tx, t, all); err != nil {
		return err
	}
	d.log.Info("created table", "table", t.source, "name", t.name, "columns", len(t.cols))
	return nil
}

// createSQL is the CREATE TABLE statement of a table named name in schema
// with attribute columns cols and the system columns.
func createSQL(schema, name string, cols []column) (string, error) {
	var b strings.Builder
	b.WriteString("CREATE TABLE " + ident(schema) + "." + ident(name) + " (")
	var keys []string
	for _, c := range cols {
		typ, err := sqlType(c.typ)
		if err != nil {
			return "", fmt.Errorf("column %q: %w", c.attr, err)
		}
		b.WriteString(ident(c.name) + " " + typ)
		if c.key {
			b.WriteString(" NOT NULL")
			keys = append(keys, ident(c.name))
		}
		b.WriteString(", ")
	}
	b.WriteString(ident(syncedColumn) + " TIMESTAMPTZ, " + ident(deletedColumn) + " BOOLEAN, " + ident(ttlColumn) + " BOOLEAN")
	b.WriteString(", PRIMARY KEY (" + strings.Join(keys, ", ") + "))")
	return b.String(), nil
}

// alter widens the columns at indexes widened from their types in old to
// those in t, and adds t's columns beyond old, in place.
func (d *Destination) alter(ctx context.Context, tx *sql.Tx, old []column, t *table, widened []int) error {
	name := ident(d.schema) + "." + ident(t.name)
	for _, i := range widened {
		from, to := old[i].typ, t.cols[i].typ
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
		expr, err := convert(ident(t.cols[i].name), from, to)
		if err != nil {
			return fmt.Errorf("column %q: %w", t.cols[i].attr, err)
		}
		stmt := "ALTER TABLE " + name + " ALTER COLUMN " + ident(t.cols[i].name) + " SET DATA TYPE " + toSQL + " USING " + expr
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("widen column %q from %s to %s: %w", t.cols[i].attr, from, to, err)
		}
		d.log.Info("widened column", "table", t.source, "attribute", t.cols[i].attr, "from", from.String(), "to", to.String())
	}
	for _, c := range t.cols[len(old):] {
		typ, err := sqlType(c.typ)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+name+" ADD COLUMN "+ident(c.name)+" "+typ); err != nil {
			return fmt.Errorf("add column %q: %w", c.attr, err)
		}
		d.log.Debug("added column", "table", t.source, "attribute", c.attr, "name", c.name, "type", c.typ.String())
	}
	return nil
}

// rebuild recreates t's table with t's columns, converting the stored values
// from the types in old: DuckDB cannot change the type of a primary key
// column in place.
func (d *Destination) rebuild(ctx context.Context, tx *sql.Tx, old []column, t *table) error {
	s := ident(d.schema)
	stmt, err := createSQL(d.schema, rebuildTable, t.cols)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("rebuild: create: %w", err)
	}
	names := make([]string, 0, len(old)+len(systemColumns))
	exprs := make([]string, 0, len(old)+len(systemColumns))
	for i, c := range old {
		expr, err := convert(ident(c.name), c.typ, t.cols[i].typ)
		if err != nil {
			return fmt.Errorf("column %q: %w", c.attr, err)
		}
		names = append(names, ident(c.name))
		exprs = append(exprs, expr)
	}
	for _, c := range systemColumns {
		names = append(names, ident(c))
		exprs = append(exprs, ident(c))
	}
	stmts := []string{
		"INSERT INTO " + s + "." + ident(rebuildTable) + " (" + strings.Join(names, ", ") + ") SELECT " +
			strings.Join(exprs, ", ") + " FROM " + s + "." + ident(t.name),
		"DROP TABLE " + s + "." + ident(t.name),
		"ALTER TABLE " + s + "." + ident(rebuildTable) + " RENAME TO " + ident(t.name),
	}
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("rebuild: %w", err)
		}
	}
	for i := range old {
		if old[i].typ != t.cols[i].typ {
			d.log.Info("widened column", "table", t.source, "attribute", t.cols[i].attr,
				"from", old[i].typ.String(), "to", t.cols[i].typ.String(), "rebuilt", true)
		}
	}
	return nil
}

// addTTLColumn makes sure t's table has the system column ttlColumn, which
// tables written before it existed lack: it adds the column, false in every
// row. An attribute column holding that name, compared folded, is first
// renamed with the first free suffix, as a new attribute of that name would
// be. It sets t.ttl.
func (d *Destination) addTTLColumn(ctx context.Context, tx *sql.Tx, t *table) error {
	rows, err := tx.QueryContext(ctx, "SELECT column_name FROM information_schema.columns"+
		" WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?", d.schema, t.name)
	if err != nil {
		return fmt.Errorf("list columns: %w", err)
	}
	taken := make(map[string]bool)
	for _, name := range systemColumns {
		taken[fold(name)] = true
	}
	present := false
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("list columns: %w", err)
		}
		taken[fold(name)] = true
		present = present || fold(name) == fold(ttlColumn)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("list columns: %w", err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list columns: %w", err)
	}

	name := ident(d.schema) + "." + ident(t.name)
	rename := -1
	for i, c := range t.cols {
		if fold(c.name) == fold(ttlColumn) {
			rename = i
		}
	}
	if present && rename < 0 {
		t.ttl = true // the system column is there
		return nil
	}
	if rename >= 0 {
		c := &t.cols[rename]
		to := freeName(c.name, taken)
		if _, err := tx.ExecContext(ctx, "ALTER TABLE "+name+" RENAME COLUMN "+ident(c.name)+" TO "+ident(to)); err != nil {
			return fmt.Errorf("rename column %q from %q to %q: %w", c.attr, c.name, to, err)
		}
		d.log.Info("renamed column to free a system column name", "table", t.source, "attribute", c.attr, "from", c.name, "to", to)
		c.name = to
		if err := d.saveColumns(ctx, tx, t, []int{rename}); err != nil {
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
	d.log.Info("added system column", "table", t.source, "column", ttlColumn)
	t.ttl = true
	return nil
}

// saveColumns records the metadata of t's columns at indexes idx.
func (d *Destination) saveColumns(ctx context.Context, tx *sql.Tx, t *table, idx []int) error {
	stmt := "INSERT OR REPLACE INTO " + ident(d.schema) + "." + ident(columnsTable) +
		" (source_table, attribute, column_name, column_type, is_key, ordinal) VALUES (?, ?, ?, ?, ?, ?)"
	for _, i := range idx {
		c := t.cols[i]
		if _, err := tx.ExecContext(ctx, stmt, t.source, c.attr, c.name, c.typ.String(), c.key, i); err != nil {
			return fmt.Errorf("record column %q: %w", c.attr, err)
		}
	}
	return nil
}

func keyNames(key []change.KeyAttribute) string {
	names := make([]string, len(key))
	for i, k := range key {
		names[i] = k.Name
	}
	return fmt.Sprintf("%q", names)
}

func colAttrs(cols []column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.attr
	}
	return fmt.Sprintf("%q", names)
}
