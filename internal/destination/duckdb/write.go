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
	"github.com/dynamosync/dynamosync/internal/value"
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

// rows holds values to hand to DuckDB, one row per distinct key: the first
// nkeys columns hold the key.
type rows struct {
	types  []string       // staged type of each column, a key of stagedInfos
	nkeys  int            // number of key columns
	values []driver.Value // len(types) values per row
	byKey  map[string]int // row index by encoded key
	key    []byte         // scratch for the encoded key
}

func newRows(types []string, nkeys, capacity int) *rows {
	return &rows{types: types, nkeys: nkeys, values: make([]driver.Value, 0, capacity*len(types)),
		byKey: make(map[string]int, capacity)}
}

// put adds a copy of row, replacing the row of the same key if any.
func (r *rows) put(row []driver.Value) {
	key := r.encodeKey(row[:r.nkeys])
	if i, ok := r.byKey[key]; ok {
		copy(r.values[i*len(r.types):], row)
		return
	}
	r.byKey[key] = r.len()
	r.values = append(r.values, row...)
}

// encodeValues encodes the values of item for the columns at indexes cols
// into row: NULL where item lacks the attribute.
func encodeValues(t *layout.Table, cols []int, item change.Item, row []driver.Value) error {
	for j, ci := range cols {
		c := t.Cols[ci]
		av, ok := item[c.Attribute]
		if !ok {
			row[j] = nil
			continue
		}
		v, err := value.Encode(av, c.Type)
		if err != nil {
			return fmt.Errorf("attribute %q: %w", c.Attribute, err)
		}
		row[j] = v
	}
	return nil
}

// encode encodes items into rows of the columns at indexes cols (keys first,
// as in t), the last item of a key replacing earlier ones.
func encode(t *layout.Table, cols []int, items []change.Item) (*rows, error) {
	types := make([]string, len(cols))
	for j, ci := range cols {
		types[j] = stagedType(t.Cols[ci].Type)
	}
	r := newRows(types, len(t.Keys()), len(items))
	row := make([]driver.Value, len(cols))
	for _, item := range items {
		if err := encodeValues(t, cols, item, row); err != nil {
			return nil, err
		}
		r.put(row)
	}
	return r, nil
}

// encodeDeletes encodes deletes into rows of the key columns followed by
// the TTLExpired flag, the last delete of a key replacing earlier ones.
func encodeDeletes(t *layout.Table, dels []change.Delete) (*rows, error) {
	nkeys := len(t.Keys())
	cols := make([]int, nkeys)
	types := make([]string, nkeys+1)
	for i := range cols {
		cols[i] = i
		types[i] = stagedType(t.Cols[i].Type)
	}
	types[nkeys] = "BOOLEAN"
	r := newRows(types, nkeys, len(dels))
	row := make([]driver.Value, nkeys+1)
	for _, del := range dels {
		if err := encodeValues(t, cols, del.Key, row); err != nil {
			return nil, err
		}
		row[nkeys] = del.TTLExpired
		r.put(row)
	}
	return r, nil
}

// encodeKey renders encoded key values as a string that two keys share
// exactly when the database considers them equal: encoded values are
// canonical (numbers as canonical text, strings and bytes verbatim).
func (r *rows) encodeKey(vals []driver.Value) string {
	b := r.key[:0]
	for _, v := range vals {
		switch v := v.(type) {
		case string:
			b = strconv.AppendInt(append(b, 's'), int64(len(v)), 10)
			b = append(append(b, ':'), v...)
		case []byte:
			b = strconv.AppendInt(append(b, 'b'), int64(len(v)), 10)
			b = append(append(b, ':'), v...)
		case int64:
			b = strconv.AppendInt(append(b, 'i'), v, 10)
			b = append(b, ';')
		default:
			b = fmt.Appendf(append(b, 'x'), "%v;", v)
		}
	}
	r.key = b
	return string(b)
}

// len is the number of rows.
func (r *rows) len() int {
	if len(r.types) == 0 {
		return 0
	}
	return len(r.values) / len(r.types)
}

// upsert replaces the rows of items, whole: columns of attributes an item
// lacks become NULL. Unless replace is set, the rows are inserted, and any
// failure, a key already present above all, is a *conflictError: DuckDB
// reports duplicate keys in several ways, and a failure of another cause
// recurs when the batch is applied again replacing rows.
func (d *Destination) upsert(ctx context.Context, t *layout.Table, items []change.Item, synced string, replace bool) error {
	if len(items) == 0 {
		return nil
	}
	present := make(map[string]bool, len(t.Cols))
	for _, item := range items {
		for attr := range item {
			present[attr] = true
		}
	}
	var cols []int
	for i, c := range t.Cols {
		if c.Key || present[c.Attribute] {
			cols = append(cols, i)
		}
	}
	r, err := encode(t, cols, items)
	if err != nil {
		return err
	}

	names := make([]string, 0, len(t.Cols)+2)
	exprs := make([]string, 0, len(t.Cols)+2)
	j := 0
	for i, c := range t.Cols {
		names = append(names, ident(c.Name))
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
	names = append(names, ident(syncedColumn), ident(deletedColumn), ident(ttlColumn))
	exprs = append(exprs, synced, "false", "false")
	verb := "INSERT INTO "
	if replace {
		verb = "INSERT OR REPLACE INTO "
	}
	query := verb + ident(d.schema) + "." + ident(t.Name) + " (" + strings.Join(names, ", ") +
		") SELECT " + strings.Join(exprs, ", ") + " FROM " + batchTable
	err = d.write(ctx, r, query)
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
	r, err := encodeDeletes(t, dels)
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
	return d.write(ctx, r, query)
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
// (as table batchTable) on the connection, inside the open transaction.
func (d *Destination) write(ctx context.Context, r *rows, query string) error {
	infos, err := stagedInfos()
	if err != nil {
		return err
	}
	colTypes := make([]duckdb.TypeInfo, len(r.types))
	colNames := make([]string, len(r.types))
	for j, typ := range r.types {
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
		n := len(r.types)
		for i := range r.len() {
			if err := a.AppendRow(r.values[i*n : (i+1)*n]...); err != nil {
				return errors.Join(err, a.Close())
			}
		}
		return a.CloseWithCancel(ctx)
	})
}
