package e2e

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/jackc/pgx/v5/stdlib" // also the "pgx" database/sql driver

	"github.com/dynamosync/dynamosync/internal/destination/desttest"
	"github.com/dynamosync/dynamosync/internal/destination/layout"
	"github.com/dynamosync/dynamosync/internal/fixture"
)

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

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

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

// postgresText is the canonical text of a value as PostgreSQL holds it:
// its text and jsonb cannot hold U+0000, which the destination writes as
// U+FFFD (in canonical JSON, U+0000 is the escape \u0000).
func postgresText(canonical string) string {
	canonical = strings.ReplaceAll(canonical, "\x00", "\uFFFD")
	return strings.ReplaceAll(canonical, `\u0000`, "\uFFFD")
}

// keyOf renders the key of a row from its canonical values.
func keyOf(cols []layout.Column, rendered []string) string {
	var parts []string
	for i, c := range cols {
		if c.Key {
			parts = append(parts, rendered[i])
		}
	}
	return strings.Join(parts, "|")
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
	_, pg := db.Driver().(*stdlib.Driver)
	dest, cols, read, err := desttest.ReadTable(ctx, db, schema, table)
	if err != nil {
		t.Fatalf("table %s: %v", table, err)
	}
	byAttr := map[string]bool{}
	for _, c := range cols {
		byAttr[c.Attribute] = true
	}
	rows := map[string][]string{}
	deleted := map[string]bool{}
	for _, r := range read {
		key := keyOf(cols, r.Values)
		if _, dup := rows[key]; dup || deleted[key] {
			t.Fatalf("table %s: duplicate row for key %s", dest, key)
		}
		if r.Deleted {
			deleted[key] = true
		} else {
			rows[key] = r.Values
		}
	}
	if len(rows) != len(items) {
		t.Errorf("table %s: %d items in DynamoDB, %d live rows in destination", table, len(items), len(rows))
	}
	for _, key := range deletedItems {
		want, err := desttest.Expect(cols, key)
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
		want, err := desttest.Expect(cols, item)
		if err != nil {
			t.Fatalf("table %s: %v", table, err)
		}
		if pg {
			for i := range want {
				want[i] = postgresText(want[i])
			}
		}
		key := keyOf(cols, want)
		got, ok := rows[key]
		if !ok {
			t.Errorf("table %s: item %s missing", table, key)
			mismatches++
		} else {
			for i := range cols {
				if got[i] != want[i] {
					t.Errorf("table %s item %s column %q: got %.200s, want %.200s", table, key, cols[i].Name, got[i], want[i])
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
