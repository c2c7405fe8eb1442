package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/destination/layout"
)

// batchTable names the rows handed to DuckDB inside a write statement.
const batchTable = "dynamosync_batch"

// stagedInfos are the DuckDB types values are handed over in, by name.
var stagedInfos = sync.OnceValues(func() (map[string]duckdb.TypeInfo, error) {
	infos := make(map[string]duckdb.TypeInfo)
	for name, t := range map[string]duckdb.Type{
		"VARCHAR": duckdb.TYPE_VARCHAR,
		"BIGINT":  duckdb.TYPE_BIGINT,
		"BOOLEAN": duckdb.TYPE_BOOLEAN,
		"BLOB":    duckdb.TYPE_BLOB,
	} {
		info, err := duckdb.NewTypeInfo(t)
		if err != nil {
			return nil, fmt.Errorf("type %s: %w", name, err)
		}
		infos[name] = info
	}
	return infos, nil
})

// upsert replaces the rows of items, whole: columns of attributes an item
// lacks become NULL. Unless replace is set, the rows are inserted, and any
// failure, a key already present above all, is a *conflictError: DuckDB
// reports duplicate keys in several ways, and a failure of another cause
// recurs when the batch is applied again replacing rows.
//
// Rows are replaced by deleting those of the batch's keys and inserting the
// new ones, not by INSERT OR REPLACE: DuckDB 2.0 may lose a replaced row's
// string values when it replays its write-ahead log after a crash, if the
// table has had columns added (TestCrashImages).
func (d *Destination) upsert(ctx context.Context, t *layout.Table, items []change.Item, synced string, replace bool) error {
	if len(items) == 0 {
		return nil
	}
	cols := layout.UpsertColumns(t, items)
	r, err := layout.EncodeUpserts(t, cols, items)
	if err != nil {
		return err
	}
	staged := make([]string, len(cols))
	for j, ci := range cols {
		staged[j] = stagedType(t.Cols[ci].Type)
	}

	table := ident(d.schema) + "." + ident(t.Name)
	names := make([]string, 0, len(t.Cols)+2)
	exprs := make([]string, 0, len(t.Cols)+2)
	var match []string // the key conditions of the delete
	j := 0
	for i, c := range t.Cols {
		names = append(names, ident(c.Name))
		if j < len(cols) && cols[j] == i {
			expr, err := fromStaged(batchTable+"."+stagedColumn(j), c.Type)
			if err != nil {
				return err
			}
			exprs = append(exprs, expr)
			if c.Key {
				match = append(match, table+"."+ident(c.Name)+" = "+expr)
			}
			j++
		} else {
			exprs = append(exprs, "NULL")
		}
	}
	names = append(names, ident(syncedColumn), ident(deletedColumn), ident(ttlColumn))
	exprs = append(exprs, synced, "false", "false")
	if replace {
		query := "DELETE FROM " + table + " USING " + batchTable + " WHERE " + strings.Join(match, " AND ")
		if err := d.write(ctx, r, staged, query); err != nil {
			return fmt.Errorf("delete rows to replace: %w", err)
		}
	}
	query := "INSERT INTO " + table + " (" + strings.Join(names, ", ") +
		") SELECT " + strings.Join(exprs, ", ") + " FROM " + batchTable
	err = d.write(ctx, r, staged, query)
	if err != nil && !replace {
		return &conflictError{table: t.Source, err: err}
	}
	return err
}

// delete marks the rows of the keys of dels deleted, setting ttlColumn to
// each delete's TTLExpired, and creates rows holding only the key for keys
// not present: one statement for all of them.
func (d *Destination) delete(ctx context.Context, t *layout.Table, dels []change.Delete, synced string) error {
	if len(dels) == 0 {
		return nil
	}
	r, err := layout.EncodeDeletes(t, dels)
	if err != nil {
		return err
	}

	keys := t.Keys()
	names := make([]string, 0, len(keys)+3)
	exprs := make([]string, 0, len(keys)+3)
	for j, c := range keys {
		expr, err := fromStaged(stagedColumn(j), c.Type)
		if err != nil {
			return err
		}
		names = append(names, ident(c.Name))
		exprs = append(exprs, expr)
	}
	keyList := strings.Join(names, ", ")
	names = append(names, ident(syncedColumn), ident(deletedColumn), ident(ttlColumn))
	exprs = append(exprs, synced, "true", stagedColumn(len(keys)))
	query := "INSERT INTO " + ident(d.schema) + "." + ident(t.Name) + " (" + strings.Join(names, ", ") +
		") SELECT " + strings.Join(exprs, ", ") + " FROM " + batchTable +
		" ON CONFLICT (" + keyList + ") DO UPDATE SET " + ident(deletedColumn) + " = true, " +
		ident(syncedColumn) + " = EXCLUDED." + ident(syncedColumn) + ", " +
		ident(ttlColumn) + " = EXCLUDED." + ident(ttlColumn)
	staged := make([]string, 0, len(keys)+1)
	for _, c := range keys {
		staged = append(staged, stagedType(c.Type))
	}
	return d.write(ctx, r, append(staged, "BOOLEAN"), query)
}

// deleteUnseen marks deleted, not by TTL, every live row of t last written
// before the time literal before.
func (d *Destination) deleteUnseen(ctx context.Context, tx *sql.Tx, t *layout.Table, before, synced string) (int64, error) {
	res, err := tx.ExecContext(ctx, "UPDATE "+ident(d.schema)+"."+ident(t.Name)+" SET "+
		ident(deletedColumn)+" = true, "+ident(syncedColumn)+" = "+synced+", "+ident(ttlColumn)+" = false"+
		" WHERE NOT "+ident(deletedColumn)+" AND "+ident(syncedColumn)+" < "+before)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func stagedColumn(j int) string { return "c" + strconv.Itoa(j) }

// write hands rows to DuckDB through an appender that runs query over them
// (as table batchTable, column j of DuckDB type staged[j], a key of
// stagedInfos) on the connection, inside the open transaction.
func (d *Destination) write(ctx context.Context, r *layout.Rows, staged []string, query string) error {
	infos, err := stagedInfos()
	if err != nil {
		return err
	}
	colTypes := make([]duckdb.TypeInfo, len(staged))
	colNames := make([]string, len(staged))
	for j, typ := range staged {
		colTypes[j] = infos[typ]
		colNames[j] = stagedColumn(j)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// The appender runs on the connection that holds tx, and so inside it.
	return d.conn.Raw(func(dc any) error {
		conn, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		a, err := duckdb.NewQueryAppender(conn, query, batchTable, colTypes, colNames)
		if err != nil {
			return err
		}
		row := make([]driver.Value, r.Width)
		for i := range r.Len() {
			for j, v := range r.Row(i) {
				row[j] = v
			}
			if err := a.AppendRow(row...); err != nil {
				return errors.Join(err, a.Close())
			}
		}
		return a.CloseWithCancel(ctx)
	})
}
