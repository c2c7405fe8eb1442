package e2e

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/cockroachdb/apd/v3"
	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/dynamosync/dynamosync/internal/fixture"
	"github.com/dynamosync/dynamosync/internal/value"
)

// column is a destination column as the metadata tables record it.
type column struct {
	attribute, name string
	typ             value.Type
	key             bool
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// openWarehouse opens a DuckDB file read-only.
func openWarehouse(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", path+"?access_mode=read_only")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func destColumns(t *testing.T, db *sql.DB, schema, table string) (string, []column) {
	t.Helper()
	var dest string
	q := fmt.Sprintf(`SELECT table_name FROM %s._dynamosync_tables WHERE source_table = ?`, quote(schema))
	if err := db.QueryRow(q, table).Scan(&dest); err != nil {
		t.Fatalf("table %s in destination: %v", table, err)
	}
	rows, err := db.Query(fmt.Sprintf(`SELECT attribute, column_name, column_type, is_key FROM %s._dynamosync_columns WHERE source_table = ? ORDER BY ordinal`, quote(schema)), table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var c column
		var typ string
		if err := rows.Scan(&c.attribute, &c.name, &typ, &c.key); err != nil {
			t.Fatal(err)
		}
		if c.typ, err = value.ParseType(typ); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	return dest, cols
}

// scanAll reads every item of a table from DynamoDB (strongly consistent,
// four segments).
func scanAll(t *testing.T, ctx context.Context, client *dynamodb.Client, table string) []map[string]types.AttributeValue {
	t.Helper()
	items, err := fixture.ScanAll(ctx, client, table, 4)
	if err != nil {
		t.Fatalf("scan %s: %v", table, err)
	}
	return items
}

// canonical renders a value read from, or encoded for, a column so that
// equal values render equal.
func canonical(t value.Type, v any) (string, error) {
	if v == nil {
		return "NULL", nil
	}
	switch t.Kind {
	case value.Decimal:
		return value.NumberText(fmt.Sprint(v))
	case value.JSON:
		return canonicalJSON(fmt.Sprint(v))
	case value.Binary:
		b, ok := v.([]byte)
		if !ok {
			return "", fmt.Errorf("binary column holds %T", v)
		}
		return "0x" + hex.EncodeToString(b), nil
	}
	return fmt.Sprintf("%T:%v", v, v), nil
}

// canonicalJSON re-renders JSON with sorted keys and canonical numbers.
func canonicalJSON(s string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("invalid JSON %q: %w", s, err)
	}
	var b strings.Builder
	if err := writeJSON(&b, v); err != nil {
		return "", err
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
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
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
		d, _, err := apd.NewFromString(string(x))
		if err != nil {
			return err
		}
		d.Reduce(d)
		b.WriteString(d.Text('E'))
	default:
		vb, _ := json.Marshal(x)
		b.Write(vb)
	}
	return nil
}

// readRows reads every row of a destination table, keyed by the canonical
// text of its key columns: the live rows, and the keys of deleted rows.
func readRows(t *testing.T, db *sql.DB, schema, dest string, cols []column) (map[string][]string, map[string]bool) {
	t.Helper()
	exprs := make([]string, 0, len(cols)+1)
	for _, c := range cols {
		switch c.typ.Kind {
		case value.Decimal, value.JSON:
			exprs = append(exprs, "CAST("+quote(c.name)+" AS VARCHAR)")
		default:
			exprs = append(exprs, quote(c.name))
		}
	}
	exprs = append(exprs, "_fivetran_deleted")
	rows, err := db.Query(fmt.Sprintf("SELECT %s FROM %s.%s", strings.Join(exprs, ", "), quote(schema), quote(dest)))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	deletedKeys := map[string]bool{}
	for rows.Next() {
		vals := make([]any, len(cols)+1)
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		deleted, _ := vals[len(cols)].(bool)
		rendered := make([]string, len(cols))
		for i, c := range cols {
			s, err := canonical(c.typ, vals[i])
			if err != nil {
				t.Fatalf("table %s column %s: %v", dest, c.name, err)
			}
			rendered[i] = s
		}
		key := keyOf(cols, rendered)
		if _, dup := out[key]; dup || deletedKeys[key] {
			t.Fatalf("table %s: duplicate row for key %s", dest, key)
		}
		if deleted {
			deletedKeys[key] = true
		} else {
			out[key] = rendered
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out, deletedKeys
}

func keyOf(cols []column, rendered []string) string {
	var parts []string
	for i, c := range cols {
		if c.key {
			parts = append(parts, rendered[i])
		}
	}
	return strings.Join(parts, "|")
}

// expectRow renders what a destination row must hold for an item.
func expectRow(cols []column, item map[string]types.AttributeValue) ([]string, error) {
	out := make([]string, len(cols))
	for i, c := range cols {
		av, ok := item[c.attribute]
		if !ok {
			out[i] = "NULL"
			continue
		}
		v, err := value.Encode(av, c.typ)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", c.attribute, err)
		}
		if out[i], err = canonical(c.typ, v); err != nil {
			return nil, fmt.Errorf("attribute %q: %w", c.attribute, err)
		}
	}
	return out, nil
}

// assertTableEqual compares a DynamoDB table with its destination table
// value by value: the live rows are exactly the items, every attribute
// equal. It returns the number of items.
func assertTableEqual(t *testing.T, ctx context.Context, client *dynamodb.Client, db *sql.DB, schema, table string) int {
	t.Helper()
	n, _ := compareTable(t, ctx, client, db, schema, table, nil)
	return n
}

// compareTable is assertTableEqual that also checks that every key in
// deletedItems (items removed from DynamoDB) is a row marked deleted, and
// returns the canonical keys of the deleted rows.
func compareTable(t *testing.T, ctx context.Context, client *dynamodb.Client, db *sql.DB, schema, table string, deletedItems []map[string]types.AttributeValue) (int, map[string]bool) {
	t.Helper()
	items := scanAll(t, ctx, client, table)
	dest, cols := destColumns(t, db, schema, table)
	byAttr := map[string]bool{}
	for _, c := range cols {
		byAttr[c.attribute] = true
	}
	rows, deleted := readRows(t, db, schema, dest, cols)
	if len(rows) != len(items) {
		t.Errorf("table %s: %d items in DynamoDB, %d live rows in destination", table, len(items), len(rows))
	}
	for _, key := range deletedItems {
		want, err := expectRow(cols, key)
		if err != nil {
			t.Fatalf("table %s: %v", table, err)
		}
		if k := keyOf(cols, want); !deleted[k] {
			t.Errorf("table %s: deleted item %s is not a row marked deleted", table, k)
		}
	}
	mismatches := 0
	for _, item := range items {
		for name := range item {
			if !byAttr[name] {
				t.Fatalf("table %s: attribute %q has no column", table, name)
			}
		}
		want, err := expectRow(cols, item)
		if err != nil {
			t.Fatalf("table %s: %v", table, err)
		}
		key := keyOf(cols, want)
		got, ok := rows[key]
		if !ok {
			t.Errorf("table %s: item %s missing", table, key)
			mismatches++
		} else {
			for i := range cols {
				if got[i] != want[i] {
					t.Errorf("table %s item %s column %q: got %.200s, want %.200s", table, key, cols[i].name, got[i], want[i])
					mismatches++
				}
			}
		}
		if mismatches > 20 {
			t.Fatalf("table %s: too many mismatches", table)
		}
	}
	return len(items), deleted
}
