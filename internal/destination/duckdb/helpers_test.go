package duckdb

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/value"
)

const testSchema = "dynamo"

var t0 = time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// openTest opens a destination in a fresh file and closes it at cleanup.
func openTest(t testing.TB) (*Destination, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dest.duckdb")
	return reopen(t, path), path
}

// reopen opens the destination at path and closes it at cleanup.
func reopen(t testing.TB, path string) *Destination {
	t.Helper()
	d, err := Open(context.Background(), path, testSchema, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if d.conn != nil {
			if err := d.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	})
	return d
}

func s(v string) types.AttributeValue     { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue     { return &types.AttributeValueMemberN{Value: v} }
func bin(v ...byte) types.AttributeValue  { return &types.AttributeValueMemberB{Value: v} }
func boolean(v bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: v} }
func null() types.AttributeValue          { return &types.AttributeValueMemberNULL{Value: true} }
func list(v ...types.AttributeValue) types.AttributeValue {
	return &types.AttributeValueMemberL{Value: v}
}
func object(kv map[string]types.AttributeValue) types.AttributeValue {
	return &types.AttributeValueMemberM{Value: kv}
}

// keyS is a table keyed by string attribute "id".
func keyS(name string) change.Table {
	return change.Table{Name: name, Key: []change.KeyAttribute{{Name: "id", Type: change.KeyString}}}
}

// keyN is a table keyed by number attribute "id".
func keyN(name string) change.Table {
	return change.Table{Name: name, Key: []change.KeyAttribute{{Name: "id", Type: change.KeyNumber}}}
}

// upserts is a batch of upserts into one table.
func upserts(tab change.Table, items ...change.Item) *change.Batch {
	return &change.Batch{Tables: []change.TableChanges{{Table: tab, Upserts: items}}, SyncedAt: t0}
}

// del is a delete of the item with key attributes key, not by TTL.
func del(key change.Item) change.Delete { return change.Delete{Key: key} }

// ttlDel is a delete by TTL of the item with key attributes key.
func ttlDel(key change.Item) change.Delete { return change.Delete{Key: key, TTLExpired: true} }

func apply(t testing.TB, d *Destination, b *change.Batch) {
	t.Helper()
	if err := d.Apply(context.Background(), b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// textExpr renders a column of type typ as the canonical text of its values.
func textExpr(col string, typ value.Type) string {
	switch typ.Kind {
	case value.String, value.Null:
		return col
	case value.JSON:
		return "CAST(" + col + " AS VARCHAR)"
	default:
		expr, err := convert(col, typ, value.TypeString)
		if err != nil {
			panic(err)
		}
		return expr
	}
}

// dump returns the rows of a DynamoDB table's destination table ordered by
// key, each as "attr=text ..." in column order ("attr=NULL" for NULL) with
// the deleted flag last, then " ttl" when _dynamosync_ttl_expired is true
// (" ttl=NULL" when NULL) and " synced" when _fivetran_synced is not t0.
func dump(t testing.TB, d *Destination, source string) []string {
	t.Helper()
	ctx := context.Background()
	cols, err := d.Columns(ctx, source)
	if err != nil {
		t.Fatalf("Columns(%q): %v", source, err)
	}
	name, err := d.TableName(ctx, source)
	if err != nil {
		t.Fatalf("TableName(%q): %v", source, err)
	}
	var exprs, order []string
	for _, c := range cols {
		expr := "COALESCE(" + literal(c.Attribute+"=") + " || " + textExpr(ident(c.Name), c.Type) + ", " + literal(c.Attribute+"=NULL") + ")"
		exprs = append(exprs, expr)
		if c.Key {
			order = append(order, ident(c.Name))
		}
	}
	exprs = append(exprs, "'deleted=' || CAST("+ident(deletedColumn)+" AS VARCHAR)")
	flags := "CASE WHEN " + ident(ttlColumn) + " IS NULL THEN ' ttl=NULL' WHEN " + ident(ttlColumn) + " THEN ' ttl' ELSE '' END" +
		" || CASE WHEN " + ident(syncedColumn) + " = " + timestampLiteral(t0) + " THEN '' ELSE ' synced' END"
	query := "SELECT concat_ws(' ', " + strings.Join(exprs, ", ") + ") || " + flags +
		" FROM " + ident(testSchema) + "." + ident(name) + " ORDER BY " + strings.Join(order, ", ")
	rows, err := d.conn.QueryContext(ctx, query)
	if err != nil {
		t.Fatalf("dump %q: %v\n%s", source, err, query)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatalf("dump %q: %v", source, err)
		}
		out = append(out, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("dump %q: %v", source, err)
	}
	return out
}

// columnTypes returns the DuckDB types of a table's columns, in physical
// order, as "name TYPE".
func columnTypes(t testing.TB, d *Destination, table string) []string {
	t.Helper()
	rows, err := d.conn.QueryContext(context.Background(), "SELECT column_name, data_type FROM information_schema.columns"+
		" WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position", testSchema, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		out = append(out, name+" "+typ)
	}
	return out
}

func equal(t testing.TB, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
