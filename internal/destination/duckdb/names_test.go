package duckdb

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/value"
)

func TestTableNames(t *testing.T) {
	tests := []struct {
		name     string
		existing []string // tables created in the schema beforehand, by SQL
		sources  []string // DynamoDB tables, in order of first appearance
		want     []string // their destination table names
	}{
		{"punctuation", nil,
			[]string{"orders.v2", "my-table", "snake_case", "with space", `quo"te`, "it's"},
			[]string{"orders.v2", "my-table", "snake_case", "with space", `quo"te`, "it's"}},
		{"unicode and keywords", nil,
			[]string{"Ünïcødé-表", "select", "TABLE", "from", "order"},
			[]string{"Ünïcødé-表", "select", "TABLE", "from", "order"}},
		{"injection", nil,
			[]string{`x"; DROP TABLE y; --`, `x'); DROP TABLE y; --`},
			[]string{`x"; DROP TABLE y; --`, `x'); DROP TABLE y; --`}},
		{"case-only collisions", nil,
			[]string{"Users", "users", "USERS", "users_2"},
			[]string{"Users", "users_2", "USERS_3", "users_2_2"}},
		{"reserved names", nil,
			[]string{"_dynamosync_tables", "_DynamoSync_State", "_dynamosync_columns", "_dynamosync_rebuild"},
			[]string{"_dynamosync_tables_2", "_DynamoSync_State_2", "_dynamosync_columns_2", "_dynamosync_rebuild_2"}},
		{"tables already in the schema", []string{"Foo", "bar_2"},
			[]string{"foo", "bar", "Bar", "dynamosync_batch"},
			[]string{"foo_2", "bar", "Bar_3", "dynamosync_batch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			d, path := openTest(t)
			for _, name := range tt.existing {
				if _, err := d.conn.ExecContext(ctx, "CREATE TABLE "+ident(testSchema)+"."+ident(name)+" (x INTEGER)"); err != nil {
					t.Fatal(err)
				}
			}
			b := &change.Batch{SyncedAt: t0}
			for i, src := range tt.sources {
				b.Tables = append(b.Tables, change.TableChanges{Table: keyS(src), Upserts: []change.Item{{"id": s(src), "n": n(string(rune('1' + i)))}}})
			}
			apply(t, d, b)
			check := func(d *Destination) {
				t.Helper()
				for i, src := range tt.sources {
					got, err := d.TableName(ctx, src)
					if err != nil {
						t.Fatal(err)
					}
					if got != tt.want[i] {
						t.Errorf("TableName(%q) = %q, want %q", src, got, tt.want[i])
					}
					equal(t, src, dump(t, d, src), []string{"id=" + src + " n=" + string(rune('1'+i)) + " deleted=false"})
				}
			}
			check(d)
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			check(reopen(t, path))
		})
	}
}

func TestColumnNames(t *testing.T) {
	tests := []struct {
		name    string
		key     []change.KeyAttribute
		batches []change.Item // one batch each
		want    []Column
	}{
		{
			name: "odd names",
			key:  []change.KeyAttribute{{Name: `k"ey`, Type: change.KeyString}},
			batches: []change.Item{{
				`k"ey`: s("a"), "a.b": n("1"), "a-b": n("2"), "with space": n("3"), `x"; DROP TABLE y; --`: n("4"),
				"select": n("5"), "Ünï": n("6"), "it's": n("7"),
			}},
			want: []Column{
				{Attribute: `k"ey`, Name: `k"ey`, Type: value.TypeString, Key: true},
				{Attribute: "a-b", Name: "a-b", Type: value.TypeInt, Key: false},
				{Attribute: "a.b", Name: "a.b", Type: value.TypeInt, Key: false},
				{Attribute: "it's", Name: "it's", Type: value.TypeInt, Key: false},
				{Attribute: "select", Name: "select", Type: value.TypeInt, Key: false},
				{Attribute: "with space", Name: "with space", Type: value.TypeInt, Key: false},
				{Attribute: `x"; DROP TABLE y; --`, Name: `x"; DROP TABLE y; --`, Type: value.TypeInt, Key: false},
				{Attribute: "Ünï", Name: "Ünï", Type: value.TypeInt, Key: false},
			},
		},
		{
			name: "case-only collisions in order of appearance",
			key:  []change.KeyAttribute{{Name: "ID", Type: change.KeyString}, {Name: "id", Type: change.KeyNumber}},
			batches: []change.Item{
				{"ID": s("a"), "id": n("1"), "name": s("x")},
				{"ID": s("b"), "id": n("2"), "Name": s("y"), "NAME": s("z"), "name_2": s("w")},
			},
			want: []Column{
				{Attribute: "ID", Name: "ID", Type: value.TypeString, Key: true},
				{Attribute: "id", Name: "id_2", Type: value.TypeInt, Key: true},
				{Attribute: "name", Name: "name", Type: value.TypeString, Key: false},
				{Attribute: "NAME", Name: "NAME_2", Type: value.TypeString, Key: false},
				{Attribute: "Name", Name: "Name_3", Type: value.TypeString, Key: false},
				{Attribute: "name_2", Name: "name_2_2", Type: value.TypeString, Key: false},
			},
		},
		{
			name: "system column names",
			key:  []change.KeyAttribute{{Name: "_fivetran_deleted", Type: change.KeyString}},
			batches: []change.Item{
				{"_fivetran_deleted": s("a"), "_fivetran_synced": n("1"), "_Fivetran_Synced_2": n("2"), "_fivetran_deleted_2": n("3"),
					"_DynamoSync_TTL_Expired": n("4")},
			},
			want: []Column{
				{Attribute: "_fivetran_deleted", Name: "_fivetran_deleted_2", Type: value.TypeString, Key: true},
				{Attribute: "_DynamoSync_TTL_Expired", Name: "_DynamoSync_TTL_Expired_2", Type: value.TypeInt, Key: false},
				{Attribute: "_Fivetran_Synced_2", Name: "_Fivetran_Synced_2", Type: value.TypeInt, Key: false},
				{Attribute: "_fivetran_deleted_2", Name: "_fivetran_deleted_2_2", Type: value.TypeInt, Key: false},
				{Attribute: "_fivetran_synced", Name: "_fivetran_synced_3", Type: value.TypeInt, Key: false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			d, path := openTest(t)
			tab := change.Table{Name: "T", Key: tt.key}
			for _, item := range tt.batches {
				apply(t, d, upserts(tab, item))
			}
			check := func(d *Destination) {
				t.Helper()
				got, err := d.Columns(ctx, "T")
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("Columns = %v, want %v", got, tt.want)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Errorf("column %d = %+v, want %+v", i, got[i], tt.want[i])
					}
				}
				// Every value landed in its own column.
				var want []string
				for _, item := range tt.batches {
					line := ""
					for _, c := range got {
						text := "NULL"
						switch v := item[c.Attribute].(type) {
						case *types.AttributeValueMemberS:
							text = v.Value
						case *types.AttributeValueMemberN:
							text = v.Value
						}
						line += c.Attribute + "=" + text + " "
					}
					want = append(want, line+"deleted=false")
				}
				equal(t, "rows", dump(t, d, "T"), want)
			}
			check(d)
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			check(reopen(t, path))
		})
	}
}

func TestReopenContinues(t *testing.T) {
	ctx := context.Background()
	d, path := openTest(t)
	apply(t, d, &change.Batch{SyncedAt: t0, State: []byte("1"), Tables: []change.TableChanges{
		{Table: keyS("Users"), Upserts: []change.Item{{"id": s("a"), "name": s("x"), "n": n("1")}}},
		{Table: keyS("users"), Upserts: []change.Item{{"id": s("a")}}},
	}})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d = reopen(t, path)
	if st, err := d.LoadState(ctx); err != nil || string(st) != "1" {
		t.Fatalf("LoadState = %q, %v", st, err)
	}
	apply(t, d, &change.Batch{SyncedAt: t0, State: []byte("2"), Tables: []change.TableChanges{
		{Table: keyS("Users"), Upserts: []change.Item{{"id": s("b"), "Name": s("y"), "n": n("2.5")}}},
		{Table: keyS("USERS"), Upserts: []change.Item{{"id": s("c")}}},
	}})
	for src, want := range map[string]string{"Users": "Users", "users": "users_2", "USERS": "USERS_3"} {
		if got, err := d.TableName(ctx, src); err != nil || got != want {
			t.Errorf("TableName(%q) = %q, %v; want %q", src, got, err, want)
		}
	}
	equal(t, "Users", dump(t, d, "Users"), []string{
		"id=a n=1 name=x Name=NULL deleted=false",
		"id=b n=2.5 name=NULL Name=y deleted=false",
	})
	cols, err := d.Columns(ctx, "Users")
	if err != nil {
		t.Fatal(err)
	}
	if got := cols[3]; got.Name != "Name_2" || got.Attribute != "Name" {
		t.Errorf("column of Name = %+v, want Name_2", got)
	}
	if st, err := d.LoadState(ctx); err != nil || string(st) != "2" {
		t.Fatalf("LoadState = %q, %v", st, err)
	}
}

// TestMainSchema writes into DuckDB's default schema, where a table named
// like the rows handed over inside write statements must not confuse them.
func TestMainSchema(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/main.duckdb"
	d, err := Open(ctx, path, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tab := keyS(batchTable)
	for _, v := range []string{"1", "2"} {
		apply(t, d, upserts(tab, change.Item{"id": s("a"), "v": n(v)}, change.Item{"id": s("b" + v)}))
	}
	var got string
	if err := d.conn.QueryRowContext(ctx, `SELECT string_agg(id || ':' || COALESCE(CAST(v AS VARCHAR), 'NULL'), ',' ORDER BY id) FROM main.`+
		ident(batchTable)).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := "a:2,b1:NULL,b2:NULL"; got != want {
		t.Errorf("rows = %s, want %s", got, want)
	}
}
