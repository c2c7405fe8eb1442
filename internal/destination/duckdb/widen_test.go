package duckdb

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/value"
)

// TestWidening writes one value per batch into attribute v of a new row and
// checks after each batch the column type and the text of every row.
func TestWidening(t *testing.T) {
	dec := func(p, s int) string { return value.Type{Kind: value.Decimal, Precision: p, Scale: s}.String() }
	type step struct {
		v        types.AttributeValue
		wantType string
		want     []string // text of v in every row so far
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"BIGINT -> DECIMAL -> NUMERIC -> VARCHAR", []step{
			{n("-7"), "BIGINT", []string{"-7"}},
			{n("1.50"), dec(20, 1), []string{"-7", "1.5"}},
			{n("0.125"), dec(22, 3), []string{"-7", "1.5", "0.125"}},
			{n("1E+125"), "NUMERIC", []string{"-7", "1.5", "0.125", "1E+125"}},
			{n("-1.2345E-130"), "NUMERIC", []string{"-7", "1.5", "0.125", "1E+125", "-1.2345E-130"}},
			{s("x"), "VARCHAR", []string{"-7", "1.5", "0.125", "1E+125", "-1.2345E-130", "x"}},
		}},
		{"BIGINT -> NUMERIC", []step{
			{n("-9223372036854775808"), "BIGINT", []string{"-9223372036854775808"}},
			{n("1E+38"), "NUMERIC", []string{"-9223372036854775808", "1E+38"}},
			{n("42.50"), "NUMERIC", []string{"-9223372036854775808", "1E+38", "42.5"}},
		}},
		{"DECIMAL -> NUMERIC", []step{
			{n("-0.05"), dec(2, 2), []string{"-0.05"}},
			{n("1.50"), dec(3, 2), []string{"-0.05", "1.5"}},
			{n("1E-130"), "NUMERIC", []string{"-0.05", "1.5", "1E-130"}},
		}},
		{"DECIMAL(38) joins beyond 38 digits -> NUMERIC", []step{
			{n("99999999999999999999999999999999999999"), dec(38, 0), []string{"99999999999999999999999999999999999999"}},
			{n("0.1"), "NUMERIC", []string{"99999999999999999999999999999999999999", "0.1"}},
			{n("7"), "NUMERIC", []string{"99999999999999999999999999999999999999", "0.1", "7"}},
		}},
		{"NUMERIC -> VARCHAR", []step{
			{n("1E+125"), "NUMERIC", []string{"1E+125"}},
			{boolean(true), "VARCHAR", []string{"1E+125", "true"}},
			{n("-1.5E-130"), "VARCHAR", []string{"1E+125", "true", "-1.5E-130"}},
		}},
		{"NUMERIC -> VARCHAR by binary", []step{
			{n("123456789012345678901234567890123456789"), "NUMERIC", []string{"1.23456789012345678901234567890123456789E+38"}},
			{bin(0xff), "VARCHAR", []string{"1.23456789012345678901234567890123456789E+38", "/w=="}},
		}},
		{"NUMERIC -> JSON", []step{
			{n("1E+125"), "NUMERIC", []string{"1E+125"}},
			{n("12"), "NUMERIC", []string{"1E+125", "12"}},
			{list(n("1E+125")), "JSON", []string{`"1E+125"`, `"12"`, "[1E+125]"}},
			{n("-1E-130"), "JSON", []string{`"1E+125"`, `"12"`, "[1E+125]", `"-1E-130"`}},
		}},
		{"NULL -> NUMERIC", []step{
			{null(), "NULL", []string{"NULL"}},
			{n("1E+125"), "NUMERIC", []string{"NULL", "1E+125"}},
		}},
		{"DECIMAL without integer digits -> VARCHAR", []step{
			{n("-0.05"), dec(2, 2), []string{"-0.05"}},
			{n("0"), dec(21, 2), []string{"-0.05", "0"}},
			{s("x"), "VARCHAR", []string{"-0.05", "0", "x"}},
		}},
		{"DECIMAL(38) -> VARCHAR", []step{
			{n("0.00000000000000000000000000000000000001"), dec(38, 38), []string{"0.00000000000000000000000000000000000001"}},
			{boolean(true), "VARCHAR", []string{"0.00000000000000000000000000000000000001", "true"}},
		}},
		{"VARCHAR -> JSON", []step{
			{s("a\"b\\c\n\u2028\u2029\x01 é"), "VARCHAR", []string{"a\"b\\c\n\u2028\u2029\x01 é"}},
			{object(map[string]types.AttributeValue{"k": n("1.0")}), "JSON", []string{`"a\"b\\c\n\u2028\u2029\u0001 é"`, `{"k":1}`}},
			{s("plain"), "JSON", []string{`"a\"b\\c\n\u2028\u2029\u0001 é"`, `{"k":1}`, `"plain"`}},
		}},
		{"BOOLEAN + N -> VARCHAR", []step{
			{boolean(false), "BOOLEAN", []string{"false"}},
			{n("1.50"), "VARCHAR", []string{"false", "1.5"}},
		}},
		{"BOOLEAN -> JSON", []step{
			{boolean(true), "BOOLEAN", []string{"true"}},
			{list(), "JSON", []string{`"true"`, "[]"}},
		}},
		{"BIGINT -> JSON", []step{
			{n("9223372036854775807"), "BIGINT", []string{"9223372036854775807"}},
			{list(n("1")), "JSON", []string{`"9223372036854775807"`, "[1]"}},
		}},
		{"DECIMAL -> JSON", []step{
			{n("-12.3400"), dec(4, 2), []string{"-12.34"}},
			{n("0.5"), dec(4, 2), []string{"-12.34", "0.5"}},
			{&types.AttributeValueMemberNS{Value: []string{"2"}}, "JSON", []string{`"-12.34"`, `"0.5"`, "[2]"}},
		}},
		{"BLOB -> VARCHAR", []step{
			{bin(0xfb, 0xff), "BLOB", []string{"+/8="}},
			{s("x"), "VARCHAR", []string{"+/8=", "x"}},
		}},
		{"BLOB -> JSON", []step{
			{bin(0xfb, 0xff), "BLOB", []string{"+/8="}},
			{object(nil), "JSON", []string{`"+/8="`, "{}"}},
		}},
		{"NULL -> BIGINT", []step{
			{null(), "NULL", []string{"NULL"}},
			{n("5"), "BIGINT", []string{"NULL", "5"}},
			{null(), "BIGINT", []string{"NULL", "5", "NULL"}},
		}},
		{"NULL -> VARCHAR", []step{
			{null(), "NULL", []string{"NULL"}},
			{s("x"), "VARCHAR", []string{"NULL", "x"}},
		}},
		{"NULL -> JSON", []step{
			{null(), "NULL", []string{"NULL"}},
			{list(null()), "JSON", []string{"NULL", "[null]"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, path := openTest(t)
			for i, st := range tt.steps {
				apply(t, d, upserts(keyN("T"), change.Item{"id": n(fmt.Sprint(i)), "v": st.v}))
				checkColumn(t, d, "T", "v", st.wantType, st.want)
			}
			// The metadata survives a reopen.
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			last := tt.steps[len(tt.steps)-1]
			checkColumn(t, reopen(t, path), "T", "v", last.wantType, last.want)
		})
	}
}

// checkColumn checks the type of the column of attr (as Columns reports it
// and as the metadata table stores it), its DuckDB type and the text of its
// value in every row, ordered by key.
func checkColumn(t *testing.T, d *Destination, source, attr, wantType string, want []string) {
	t.Helper()
	cols, err := d.Columns(context.Background(), source)
	if err != nil {
		t.Fatal(err)
	}
	var col Column
	for _, c := range cols {
		if c.Attribute == attr {
			col = c
		}
	}
	if got := col.Type.String(); got != wantType {
		t.Errorf("type of %q = %s, want %s", attr, got, wantType)
	}
	var stored string
	if err := d.conn.QueryRowContext(context.Background(),
		`SELECT column_type FROM dynamo.`+ident(columnsTable)+` WHERE source_table = ? AND attribute = ?`, source, attr,
	).Scan(&stored); err != nil {
		t.Fatalf("metadata of %q: %v", attr, err)
	}
	if stored != wantType {
		t.Errorf("metadata column_type of %q = %s, want %s", attr, stored, wantType)
	}
	var wantSQL string
	if col.Type.Kind == value.Null {
		wantSQL = "VARCHAR"
	} else if wantSQL, err = sqlType(col.Type); err != nil {
		t.Fatal(err)
	}
	name, _ := d.TableName(context.Background(), source)
	for _, c := range columnTypes(t, d, name) {
		if cname, typ, _ := strings.Cut(c, " "); cname == col.Name && typ != wantSQL {
			t.Errorf("DuckDB type of %q = %s, want %s", attr, typ, wantSQL)
		}
	}
	var got []string
	for _, row := range dump(t, d, source) {
		for _, f := range strings.Split(row, " "+attr+"=")[1:] {
			got = append(got, strings.TrimSuffix(f, " deleted=false"))
		}
	}
	equal(t, "values of "+attr, got, want)
}

func TestKeyWidening(t *testing.T) {
	tests := []struct {
		name     string
		table    change.Table
		batches  [][]change.Item
		wantKeys []string
		want     []string
	}{
		{
			name:  "number key BIGINT -> DECIMAL -> NUMERIC",
			table: keyN("T"),
			batches: [][]change.Item{
				{{"id": n("1"), "a": s("one")}, {"id": n("-2"), "a": s("two"), "b": boolean(true)}},
				{{"id": n("1.5"), "a": s("one and a half")}},
				{{"id": n("12345678901234567890123456789012345678901"), "c": n("3")}},
			},
			wantKeys: []string{"BIGINT", "DECIMAL(20,1)", "NUMERIC"},
			want: []string{
				"id=-2 a=two b=true c=NULL deleted=false",
				"id=1 a=one b=NULL c=NULL deleted=false",
				"id=1.2345678901234567890123456789012345678901E+40 a=NULL b=NULL c=3 deleted=false",
				"id=1.5 a=one and a half b=NULL c=NULL deleted=false",
			},
		},
		{
			name: "range key widens with other columns",
			table: change.Table{Name: "T", Key: []change.KeyAttribute{
				{Name: "pk", Type: change.KeyString}, {Name: "sk", Type: change.KeyNumber},
			}},
			batches: [][]change.Item{
				{{"pk": s("p"), "sk": n("10"), "v": n("1")}, {"pk": s("p"), "sk": n("9"), "v": bin(1)}},
				{{"pk": s("p"), "sk": n("0.001"), "v": s("x"), "w": null()}, {"pk": s("p"), "sk": n("10"), "v": n("2")}},
			},
			wantKeys: []string{"VARCHAR,BIGINT", "VARCHAR,DECIMAL(22,3)"},
			want: []string{
				"pk=p sk=0.001 v=x w=NULL deleted=false",
				"pk=p sk=9 v=AQ== w=NULL deleted=false",
				"pk=p sk=10 v=2 w=NULL deleted=false",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, path := openTest(t)
			for i, items := range tt.batches {
				apply(t, d, upserts(tt.table, items...))
				cols, err := d.Columns(context.Background(), "T")
				if err != nil {
					t.Fatal(err)
				}
				var keys []string
				for _, c := range cols {
					if c.Key {
						keys = append(keys, c.Type.String())
					}
				}
				if got := strings.Join(keys, ","); got != tt.wantKeys[i] {
					t.Errorf("after batch %d: key types %s, want %s", i, got, tt.wantKeys[i])
				}
			}
			// Rows re-upserted after the rebuild replace, not duplicate.
			apply(t, d, upserts(tt.table, tt.batches[len(tt.batches)-1]...))
			// Rows are ordered as the key column type sorts them.
			equal(t, "rows", dump(t, d, "T"), tt.want)
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			d = reopen(t, path)
			equal(t, "rows after reopen", dump(t, d, "T"), tt.want)
			// The rebuilt table still has its primary key: upserts replace.
			if err := d.Apply(context.Background(), upserts(tt.table, tt.batches[0]...)); err != nil {
				t.Fatal(err)
			}
			var count int
			if err := d.conn.QueryRowContext(context.Background(), `SELECT count(*) FROM dynamo."T"`).Scan(&count); err != nil {
				t.Fatal(err)
			}
			if count != len(tt.want) {
				t.Errorf("%d rows, want %d", count, len(tt.want))
			}
		})
	}
}
