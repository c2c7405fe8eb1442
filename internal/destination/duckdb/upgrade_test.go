package duckdb

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/value"
)

// createOldTable writes, by SQL, DynamoDB table "T" as the version before
// _dynamosync_ttl_expired wrote it: a table "T" with attribute columns cols
// and the system columns _fivetran_synced and _fivetran_deleted, its
// metadata, and rows given as SQL values of cols then _fivetran_deleted,
// all synced at t0.
func createOldTable(t *testing.T, path string, cols []Column, rows []string) {
	t.Helper()
	ctx := context.Background()
	d, err := Open(ctx, path, testSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var defs, names, keys []string
	for _, c := range cols {
		typ, err := sqlType(c.Type)
		if err != nil {
			t.Fatal(err)
		}
		def := ident(c.Name) + " " + typ
		if c.Key {
			def += " NOT NULL"
			keys = append(keys, ident(c.Name))
		}
		defs = append(defs, def)
		names = append(names, ident(c.Name))
	}
	s := ident(testSchema)
	stmts := []string{
		"CREATE TABLE " + s + `."T" (` + strings.Join(defs, ", ") + ", _fivetran_synced TIMESTAMPTZ, _fivetran_deleted BOOLEAN" +
			", PRIMARY KEY (" + strings.Join(keys, ", ") + "))",
		"INSERT INTO " + s + "." + ident(tablesTable) + " VALUES ('T', 'T')",
	}
	for i, c := range cols {
		stmts = append(stmts, "INSERT INTO "+s+"."+ident(columnsTable)+
			" (source_table, attribute, column_name, column_type, is_key, ordinal) VALUES ('T', "+
			literal(c.Attribute)+", "+literal(c.Name)+", "+literal(c.Type.String())+", "+
			map[bool]string{true: "true", false: "false"}[c.Key]+", "+string(rune('0'+i))+")")
	}
	for _, row := range rows {
		stmts = append(stmts, "INSERT INTO "+s+`."T" (`+strings.Join(names, ", ")+", _fivetran_deleted, _fivetran_synced) VALUES ("+
			row+", "+timestampLiteral(t0)+")")
	}
	for _, stmt := range stmts {
		if _, err := d.conn.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// TestUpgrade applies batches to tables written before the system column
// _dynamosync_ttl_expired existed: the first batch adds it, false in the
// rows already present.
func TestUpgrade(t *testing.T) {
	ctx := context.Background()
	later := t0.Add(time.Hour)
	keyCol := Column{Attribute: "id", Name: "id", Type: value.TypeString, Key: true}
	vCol := Column{Attribute: "v", Name: "v", Type: value.TypeInt, Key: false}
	system := []string{"_fivetran_synced TIMESTAMP WITH TIME ZONE", "_fivetran_deleted BOOLEAN", "_dynamosync_ttl_expired BOOLEAN"}
	types := func(cols ...string) []string { return append(cols, system...) }
	tests := []struct {
		name      string
		table     change.Table
		cols      []Column // of the old table
		rows      []string // of the old table: SQL values of cols, then _fivetran_deleted
		batch     *change.Batch
		wantCols  []Column
		wantTypes []string // DuckDB types after the batch
		want      []string // dump after the batch
	}{
		{
			name:  "upserts and deletes",
			table: keyS("T"),
			cols:  []Column{keyCol, vCol},
			rows:  []string{"'a', 1, false", "'b', 2, true", "'c', 3, false"},
			batch: &change.Batch{SyncedAt: later, Tables: []change.TableChanges{{
				Table:   keyS("T"),
				Upserts: []change.Item{{"id": s("d"), "v": n("4")}},
				Deletes: []change.Delete{ttlDel(change.Item{"id": s("a")}), del(change.Item{"id": s("e")})},
			}}},
			wantCols:  []Column{keyCol, vCol},
			wantTypes: types("id VARCHAR", "v BIGINT"),
			want: []string{
				"id=a v=1 deleted=true ttl synced",
				"id=b v=2 deleted=true",
				"id=c v=3 deleted=false",
				"id=d v=4 deleted=false synced",
				"id=e v=NULL deleted=true synced",
			},
		},
		{
			name:  "only DeleteUnseenBefore",
			table: keyS("T"),
			cols:  []Column{keyCol, vCol},
			rows:  []string{"'a', 1, false", "'b', 2, true"},
			batch: &change.Batch{SyncedAt: later, Tables: []change.TableChanges{{
				Table: keyS("T"), DeleteUnseenBefore: &later,
			}}},
			wantCols:  []Column{keyCol, vCol},
			wantTypes: types("id VARCHAR", "v BIGINT"),
			want:      []string{"id=a v=1 deleted=true synced", "id=b v=2 deleted=true"},
		},
		{
			name:      "no changes",
			table:     keyS("T"),
			cols:      []Column{keyCol, vCol},
			rows:      []string{"'a', 1, false"},
			batch:     &change.Batch{SyncedAt: later, Tables: []change.TableChanges{{Table: keyS("T")}}},
			wantCols:  []Column{keyCol, vCol},
			wantTypes: types("id VARCHAR", "v BIGINT"),
			want:      []string{"id=a v=1 deleted=false"},
		},
		{
			name:     "new attribute",
			table:    keyS("T"),
			cols:     []Column{keyCol, vCol},
			rows:     []string{"'a', 1, false"},
			batch:    upserts(keyS("T"), change.Item{"id": s("b"), "w": s("x")}),
			wantCols: []Column{keyCol, vCol, {Attribute: "w", Name: "w", Type: value.TypeString, Key: false}},
			// Columns added later follow the system columns.
			wantTypes: append(types("id VARCHAR", "v BIGINT"), "w VARCHAR"),
			want:      []string{"id=a v=1 w=NULL deleted=false", "id=b v=NULL w=x deleted=false"},
		},
		{
			name:  "key widening rebuilds the table",
			table: keyN("T"),
			cols:  []Column{{Attribute: "id", Name: "id", Type: value.TypeInt, Key: true}, vCol},
			rows:  []string{"1, 1, false", "2, 2, true"},
			batch: &change.Batch{SyncedAt: t0, Tables: []change.TableChanges{{
				Table:   keyN("T"),
				Upserts: []change.Item{{"id": n("1.5"), "v": n("3")}},
				Deletes: []change.Delete{ttlDel(change.Item{"id": n("1")})},
			}}},
			wantCols:  []Column{{Attribute: "id", Name: "id", Type: value.Type{Kind: value.Decimal, Precision: 20, Scale: 1}, Key: true}, vCol},
			wantTypes: types("id DECIMAL(20,1)", "v BIGINT"),
			want: []string{
				"id=1 v=1 deleted=true ttl",
				"id=1.5 v=3 deleted=false",
				"id=2 v=2 deleted=true",
			},
		},
		{
			name:  "attribute column holding the name is renamed",
			table: keyS("T"),
			cols: []Column{keyCol,
				{Attribute: "_DynamoSync_TTL_Expired", Name: "_DynamoSync_TTL_Expired", Type: value.TypeString, Key: false},
				{Attribute: "_dynamosync_ttl_expired_2", Name: "_dynamosync_ttl_expired_2", Type: value.TypeInt, Key: false}},
			rows: []string{"'a', 'x', 1, false", "'b', 'y', 2, true"},
			batch: &change.Batch{SyncedAt: t0, Tables: []change.TableChanges{{
				Table:   keyS("T"),
				Upserts: []change.Item{{"id": s("c"), "_DynamoSync_TTL_Expired": s("z"), "_dynamosync_ttl_expired_2": n("3")}},
				Deletes: []change.Delete{ttlDel(change.Item{"id": s("a")})},
			}}},
			wantCols: []Column{keyCol,
				{Attribute: "_DynamoSync_TTL_Expired", Name: "_DynamoSync_TTL_Expired_3", Type: value.TypeString, Key: false},
				{Attribute: "_dynamosync_ttl_expired_2", Name: "_dynamosync_ttl_expired_2", Type: value.TypeInt, Key: false}},
			wantTypes: types("id VARCHAR", "_DynamoSync_TTL_Expired_3 VARCHAR", "_dynamosync_ttl_expired_2 BIGINT"),
			want: []string{
				"id=a _DynamoSync_TTL_Expired=x _dynamosync_ttl_expired_2=1 deleted=true ttl",
				"id=b _DynamoSync_TTL_Expired=y _dynamosync_ttl_expired_2=2 deleted=true",
				"id=c _DynamoSync_TTL_Expired=z _dynamosync_ttl_expired_2=3 deleted=false",
			},
		},
		{
			name:  "key column holding the name is renamed",
			table: change.Table{Name: "T", Key: []change.KeyAttribute{{Name: "_dynamosync_ttl_expired", Type: change.KeyString}}},
			cols:  []Column{{Attribute: "_dynamosync_ttl_expired", Name: "_dynamosync_ttl_expired", Type: value.TypeString, Key: true}},
			rows:  []string{"'a', false", "'b', false"},
			batch: &change.Batch{SyncedAt: t0, Tables: []change.TableChanges{{
				Table:   change.Table{Name: "T", Key: []change.KeyAttribute{{Name: "_dynamosync_ttl_expired", Type: change.KeyString}}},
				Upserts: []change.Item{{"_dynamosync_ttl_expired": s("b")}},
				Deletes: []change.Delete{ttlDel(change.Item{"_dynamosync_ttl_expired": s("a")})},
			}}},
			wantCols:  []Column{{Attribute: "_dynamosync_ttl_expired", Name: "_dynamosync_ttl_expired_2", Type: value.TypeString, Key: true}},
			wantTypes: types("_dynamosync_ttl_expired_2 VARCHAR"),
			want: []string{
				"_dynamosync_ttl_expired=a deleted=true ttl",
				"_dynamosync_ttl_expired=b deleted=false",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "old.duckdb")
			createOldTable(t, path, tt.cols, tt.rows)
			d := reopen(t, path)
			var oldTypes []string
			for _, c := range tt.cols {
				typ, _ := sqlType(c.Type)
				oldTypes = append(oldTypes, c.Name+" "+typ)
			}
			oldTypes = append(oldTypes, system[:2]...)
			equal(t, "old DuckDB types", columnTypes(t, d, "T"), oldTypes)
			checkCols := func(d *Destination, want []Column) {
				t.Helper()
				got, err := d.Columns(ctx, "T")
				if err != nil || !slices.Equal(got, want) {
					t.Errorf("Columns = %v, %v; want %v", got, err, want)
				}
			}

			// A batch that fails after the table was upgraded leaves it as
			// it was.
			failing := *tt.batch
			failing.Tables = append(slices.Clone(tt.batch.Tables), change.TableChanges{
				Table: keyS("Bad"), Upserts: []change.Item{{"id": n("1")}}})
			if err := d.Apply(ctx, &failing); err == nil {
				t.Fatal("Apply of a failing batch succeeded")
			}
			equal(t, "DuckDB types after a failed batch", columnTypes(t, d, "T"), oldTypes)
			checkCols(d, tt.cols)

			apply(t, d, tt.batch)
			check := func(d *Destination) {
				t.Helper()
				checkCols(d, tt.wantCols)
				equal(t, "DuckDB types", columnTypes(t, d, "T"), tt.wantTypes)
				equal(t, "rows", dump(t, d, "T"), tt.want)
			}
			check(d)
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			// Reopened, the table is used as one this version created.
			d = reopen(t, path)
			check(d)
			apply(t, d, &change.Batch{SyncedAt: t0, Tables: []change.TableChanges{{Table: tt.table}}})
			check(d)
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			check(reopen(t, path))
		})
	}
}
