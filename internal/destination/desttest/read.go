package desttest

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/destination/layout"
	"github.com/dynamosync/dynamosync/internal/value"
)

// Row is one destination row: the attribute columns' canonical text ("NULL"
// for NULL) in Columns order, and the two flags.
type Row struct {
	Values     []string
	Deleted    bool
	TTLExpired bool
	Synced     time.Time
}

// ReadTable reads the metadata and every row of the destination table of
// DynamoDB table source, rows sorted by key text. It reads with plain SQL
// that DuckDB and PostgreSQL both run. A source without metadata is an error
// wrapping layout.ErrUnknownTable.
func ReadTable(ctx context.Context, q layout.Queryer, schema, source string) (name string, cols []layout.Column, rows []Row, err error) {
	s := layout.Ident(schema)
	name, err = readTableName(ctx, q, s, source)
	if err != nil {
		return "", nil, nil, err
	}
	if cols, err = readColumns(ctx, q, s, source); err != nil {
		return "", nil, nil, err
	}

	exprs := make([]string, 0, len(cols)+3)
	for _, c := range cols {
		switch c.Type.Kind {
		case value.Decimal, value.Number, value.JSON:
			exprs = append(exprs, "CAST("+layout.Ident(c.Name)+" AS VARCHAR)")
		default:
			exprs = append(exprs, layout.Ident(c.Name))
		}
	}
	exprs = append(exprs, layout.Ident(layout.DeletedColumn), layout.Ident(layout.TTLColumn), layout.Ident(layout.SyncedColumn))
	query := "SELECT " + strings.Join(exprs, ", ") + " FROM " + s + "." + layout.Ident(name)
	res, err := q.QueryContext(ctx, query)
	if err != nil {
		return "", nil, nil, fmt.Errorf("read table %q (%q): %w", source, name, err)
	}
	defer res.Close()
	for res.Next() {
		vals := make([]any, len(cols))
		var deleted, ttl sql.NullBool
		var synced sql.NullTime
		ptrs := make([]any, 0, len(cols)+3)
		for i := range vals {
			ptrs = append(ptrs, &vals[i])
		}
		ptrs = append(ptrs, &deleted, &ttl, &synced)
		if err := res.Scan(ptrs...); err != nil {
			return "", nil, nil, fmt.Errorf("read table %q (%q): %w", source, name, err)
		}
		row := Row{Values: make([]string, len(cols)), Deleted: deleted.Bool, TTLExpired: ttl.Bool, Synced: synced.Time}
		for i, c := range cols {
			if row.Values[i], err = Canonical(c.Type, vals[i]); err != nil {
				return "", nil, nil, fmt.Errorf("read table %q (%q) column %q: %w", source, name, c.Name, err)
			}
		}
		if !deleted.Valid || !ttl.Valid || !synced.Valid {
			return "", nil, nil, fmt.Errorf("read table %q (%q): row %v has a NULL system column (%s %v, %s %v, %s %v)",
				source, name, row.Values, layout.DeletedColumn, deleted.Valid, layout.TTLColumn, ttl.Valid, layout.SyncedColumn, synced.Valid)
		}
		rows = append(rows, row)
	}
	if err := res.Err(); err != nil {
		return "", nil, nil, fmt.Errorf("read table %q (%q): %w", source, name, err)
	}
	sortRows(cols, rows)
	return name, cols, rows, nil
}

// readTableName reads the destination table name of source from the
// metadata of the quoted schema s.
func readTableName(ctx context.Context, q layout.Queryer, s, source string) (string, error) {
	rows, err := q.QueryContext(ctx, "SELECT table_name FROM "+s+"."+layout.Ident(layout.TablesTable)+" WHERE source_table = $1", source)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", layout.TablesTable, err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return "", fmt.Errorf("read %s: %w", layout.TablesTable, err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("read %s: %w", layout.TablesTable, err)
	}
	switch len(names) {
	case 0:
		return "", fmt.Errorf("table %q: %w", source, layout.ErrUnknownTable)
	case 1:
		return names[0], nil
	default:
		return "", fmt.Errorf("read %s: table %q recorded %d times", layout.TablesTable, source, len(names))
	}
}

// readColumns reads the attribute columns of source, by ordinal, from the
// metadata of the quoted schema s, and checks that the ordinals number them
// from 0 and that the key columns come first.
func readColumns(ctx context.Context, q layout.Queryer, s, source string) ([]layout.Column, error) {
	rows, err := q.QueryContext(ctx, "SELECT attribute, column_name, column_type, is_key, ordinal FROM "+s+"."+
		layout.Ident(layout.ColumnsTable)+" WHERE source_table = $1 ORDER BY ordinal", source)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", layout.ColumnsTable, err)
	}
	defer rows.Close()
	var cols []layout.Column
	for rows.Next() {
		var c layout.Column
		var typ string
		var ordinal int64
		if err := rows.Scan(&c.Attribute, &c.Name, &typ, &c.Key, &ordinal); err != nil {
			return nil, fmt.Errorf("read %s: %w", layout.ColumnsTable, err)
		}
		if c.Type, err = value.ParseType(typ); err != nil {
			return nil, fmt.Errorf("read %s: table %q attribute %q: %w", layout.ColumnsTable, source, c.Attribute, err)
		}
		if ordinal != int64(len(cols)) {
			return nil, fmt.Errorf("read %s: table %q attribute %q has ordinal %d, want %d", layout.ColumnsTable, source, c.Attribute, ordinal, len(cols))
		}
		if c.Key && len(cols) > 0 && !cols[len(cols)-1].Key {
			return nil, fmt.Errorf("read %s: table %q key attribute %q after a non-key attribute", layout.ColumnsTable, source, c.Attribute)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", layout.ColumnsTable, err)
	}
	if len(cols) == 0 || !cols[0].Key {
		return nil, fmt.Errorf("read %s: table %q has no key column", layout.ColumnsTable, source)
	}
	return cols, nil
}

// keyText is the text rows are sorted by: the canonical texts of the key
// columns.
func keyText(cols []layout.Column, values []string) string {
	var b strings.Builder
	for i, c := range cols {
		if c.Key && i < len(values) {
			b.WriteString(values[i])
			b.WriteByte(0)
		}
	}
	return b.String()
}

// sortRows sorts rows by key text, then by all their values so that the
// order is deterministic even for rows with equal keys.
func sortRows(cols []layout.Column, rows []Row) {
	slices.SortStableFunc(rows, func(a, b Row) int {
		if c := strings.Compare(keyText(cols, a.Values), keyText(cols, b.Values)); c != 0 {
			return c
		}
		return slices.Compare(a.Values, b.Values)
	})
}

// Canonical renders a value scanned from (or value.Encode'd for) a column of
// type typ as text that is equal exactly when the values are equal: nil as
// "NULL"; Decimal and Number as value.NumberText renders the number; JSON
// re-rendered with object keys sorted, numbers as value.NumberText renders
// them and strings re-marshaled, without spaces; Binary as "0x" and hex
// digits; any other value as its Go type and value ("int64:5",
// "string:abc", "bool:true").
func Canonical(typ value.Type, v any) (string, error) {
	if v == nil {
		return "NULL", nil
	}
	switch typ.Kind {
	case value.Decimal, value.Number:
		text, ok := asText(v)
		if !ok {
			text = fmt.Sprint(v)
		}
		n, err := value.NumberText(text)
		if err != nil {
			return "", fmt.Errorf("%s column holds %T %q: %w", typ, v, text, err)
		}
		return n, nil
	case value.JSON:
		text, ok := asText(v)
		if !ok {
			return "", fmt.Errorf("JSON column holds %T", v)
		}
		return canonicalJSON(text)
	case value.Binary:
		b, ok := v.([]byte)
		if !ok {
			return "", fmt.Errorf("binary column holds %T", v)
		}
		return "0x" + hex.EncodeToString(b), nil
	}
	if b, ok := v.([]byte); ok {
		return "", fmt.Errorf("%s column holds []byte %q", typ, b)
	}
	return fmt.Sprintf("%T:%v", v, v), nil
}

// asText returns v as text when it is a string or []byte.
func asText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	}
	return "", false
}

// canonicalJSON re-renders one JSON value with object keys sorted, numbers
// canonical and no spaces.
func canonicalJSON(s string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("invalid JSON %q: %w", s, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("invalid JSON %q: data after the value", s)
	}
	var b strings.Builder
	if err := writeJSON(&b, v); err != nil {
		return "", fmt.Errorf("JSON %q: %w", s, err)
	}
	return b.String(), nil
}

func writeJSON(b *strings.Builder, v any) error {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, k); err != nil {
				return err
			}
			b.WriteByte(':')
			if err := writeJSON(b, x[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case json.Number:
		n, err := value.NumberText(string(x))
		if err != nil {
			return err
		}
		b.WriteString(n)
	default: // string, bool, nil
		out, err := json.Marshal(x)
		if err != nil {
			return err
		}
		b.Write(out)
	}
	return nil
}

// Expect renders what Values of a row must hold for an item: each
// attribute value.Encode'd for its column's type, then Canonical; "NULL" for
// a column whose attribute the item lacks. An attribute of the item without
// a column is an error.
func Expect(cols []layout.Column, item change.Item) ([]string, error) {
	out := make([]string, len(cols))
	seen := 0
	for i, c := range cols {
		av, ok := item[c.Attribute]
		if !ok {
			out[i] = "NULL"
			continue
		}
		seen++
		v, err := value.Encode(av, c.Type)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", c.Attribute, err)
		}
		if out[i], err = Canonical(c.Type, v); err != nil {
			return nil, fmt.Errorf("attribute %q: %w", c.Attribute, err)
		}
	}
	if seen != len(item) {
		for attr := range item {
			if !slices.ContainsFunc(cols, func(c layout.Column) bool { return c.Attribute == attr }) {
				return nil, fmt.Errorf("attribute %q has no column", attr)
			}
		}
	}
	return out, nil
}
