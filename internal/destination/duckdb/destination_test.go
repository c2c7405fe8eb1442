package duckdb

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/value"
)

func TestUpsert(t *testing.T) {
	tab := keyS("Users")
	tests := []struct {
		name    string
		batches []*change.Batch
		want    []string
	}{
		{
			name: "create",
			batches: []*change.Batch{upserts(tab,
				change.Item{"id": s("a"), "age": n("30"), "name": s("Ann")},
				change.Item{"id": s("b"), "age": n("40")},
			)},
			want: []string{
				"id=a age=30 name=Ann deleted=false",
				"id=b age=40 name=NULL deleted=false",
			},
		},
		{
			name: "re-upsert replaces whole rows",
			batches: []*change.Batch{
				upserts(tab,
					change.Item{"id": s("a"), "age": n("30"), "name": s("Ann")},
					change.Item{"id": s("b"), "age": n("40"), "name": s("Bob")},
				),
				upserts(tab, change.Item{"id": s("a"), "name": s("Anne"), "city": s("Oslo")}),
			},
			want: []string{
				"id=a age=NULL name=Anne city=Oslo deleted=false",
				"id=b age=40 name=Bob city=NULL deleted=false",
			},
		},
		{
			name: "last upsert of a key in a batch wins",
			batches: []*change.Batch{upserts(tab,
				change.Item{"id": s("a"), "age": n("1")},
				change.Item{"id": s("b"), "age": n("2")},
				change.Item{"id": s("a"), "name": s("x")},
			)},
			want: []string{
				"id=a age=NULL name=x deleted=false",
				"id=b age=2 name=NULL deleted=false",
			},
		},
		{
			name: "same key in two changes of a batch",
			batches: []*change.Batch{{
				SyncedAt: t0,
				Tables: []change.TableChanges{
					{Table: tab, Upserts: []change.Item{{"id": s("a"), "age": n("1")}}},
					{Table: tab, Upserts: []change.Item{{"id": s("a"), "zip": s("0150")}}},
				},
			}},
			want: []string{"id=a age=NULL zip=0150 deleted=false"},
		},
		{
			name: "equal numbers are one key",
			batches: []*change.Batch{upserts(keyN("Users"),
				change.Item{"id": n("1.50"), "v": s("first")},
				change.Item{"id": n("1.5"), "v": s("second")},
				change.Item{"id": n("2"), "v": s("x")},
				change.Item{"id": n("2.000"), "v": s("y")},
			)},
			want: []string{"id=1.5 v=second deleted=false", "id=2 v=y deleted=false"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := openTest(t)
			for _, b := range tt.batches {
				apply(t, d, b)
			}
			equal(t, "rows", dump(t, d, "Users"), tt.want)
		})
	}
}

func TestValues(t *testing.T) {
	big := "123456789012345678901234567890123456789012" // 42 digits: scientific canonical text
	tests := []struct {
		name     string
		v        types.AttributeValue
		wantType string // value.Type
		wantSQL  string // DuckDB type
		want     string // canonical text
	}{
		{"string", s(`it's "quoted" ünïcode ✓`), "VARCHAR", "VARCHAR", `it's "quoted" ünïcode ✓`},
		{"empty string", s(""), "VARCHAR", "VARCHAR", ""},
		{"int", n("-9223372036854775808"), "BIGINT", "BIGINT", "-9223372036854775808"},
		{"int with exponent", n("1.5E3"), "BIGINT", "BIGINT", "1500"},
		{"decimal", n("-0.00012300"), "DECIMAL(6,6)", "DECIMAL(6,6)", "-0.000123"},
		{"38 digits", n("1234567890123456789.0123456789012345678"), "DECIMAL(38,19)", "DECIMAL(38,19)", "1234567890123456789.0123456789012345678"},
		{"38-digit integer", n("99999999999999999999999999999999999999"), "DECIMAL(38,0)", "DECIMAL(38,0)", "99999999999999999999999999999999999999"},
		{"int beyond int64", n("9223372036854775808"), "DECIMAL(19,0)", "DECIMAL(19,0)", "9223372036854775808"},
		{"beyond 38 digits", n(big), "NUMERIC", "VARCHAR", "1.23456789012345678901234567890123456789012E+41"},
		{"39-digit integer", n("-100000000000000000000000000000000000000"), "NUMERIC", "VARCHAR", "-1E+38"},
		{"decimal without integer digits", n("0.05"), "DECIMAL(2,2)", "DECIMAL(2,2)", "0.05"},
		{"huge exponent", n("1E+125"), "NUMERIC", "VARCHAR", "1E+125"},
		{"tiny", n("-1.5E-130"), "NUMERIC", "VARCHAR", "-1.5E-130"},
		{"zero", n("-0.000"), "BIGINT", "BIGINT", "0"},
		{"true", boolean(true), "BOOLEAN", "BOOLEAN", "true"},
		{"false", boolean(false), "BOOLEAN", "BOOLEAN", "false"},
		{"binary", bin(0, 1, 0xfe, 0xff), "BLOB", "BLOB", "AAH+/w=="},
		{"empty binary", bin(), "BLOB", "BLOB", ""},
		{"null", null(), "NULL", "VARCHAR", "NULL"},
		{"map", object(map[string]types.AttributeValue{
			"b": n("1E+125"), "a": s("x\ny"), "c": list(boolean(true), null(), n("12.50")),
		}), "JSON", "JSON", `{"a":"x\ny","b":1E+125,"c":[true,null,12.5]}`},
		{"list", list(s("a"), bin(1), object(map[string]types.AttributeValue{})), "JSON", "JSON", `["a","AQ==",{}]`},
		{"string set", &types.AttributeValueMemberSS{Value: []string{"b", "a"}}, "JSON", "JSON", `["b","a"]`},
		{"number set", &types.AttributeValueMemberNS{Value: []string{"1.0", "123456789012345678901234567890123456789012"}}, "JSON", "JSON", `[1,1.23456789012345678901234567890123456789012E+41]`},
		{"binary set", &types.AttributeValueMemberBS{Value: [][]byte{{0}, {0xff}}}, "JSON", "JSON", `["AA==","/w=="]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := openTest(t)
			apply(t, d, upserts(keyS("T"), change.Item{"id": s("k"), "v": tt.v}))
			cols, err := d.Columns(context.Background(), "T")
			if err != nil {
				t.Fatal(err)
			}
			if got := cols[1].Type.String(); got != tt.wantType {
				t.Errorf("column type = %s, want %s", got, tt.wantType)
			}
			equal(t, "DuckDB types", columnTypes(t, d, "T"), []string{
				"id VARCHAR", "v " + tt.wantSQL, "_fivetran_synced TIMESTAMP WITH TIME ZONE", "_fivetran_deleted BOOLEAN", "_dynamosync_ttl_expired BOOLEAN",
			})
			equal(t, "rows", dump(t, d, "T"), []string{"id=k v=" + tt.want + " deleted=false"})

			if b, ok := tt.v.(*types.AttributeValueMemberB); ok {
				var got []byte
				if err := d.conn.QueryRowContext(context.Background(), `SELECT v FROM dynamo."T"`).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if string(got) != string(b.Value) {
					t.Errorf("blob = %x, want %x", got, b.Value)
				}
			}
		})
	}
}

func TestSyncedAt(t *testing.T) {
	d, _ := openTest(t)
	at := time.Date(2030, 1, 2, 3, 4, 5, 678901999, time.FixedZone("x", 3600))
	b := upserts(keyS("T"), change.Item{"id": s("k")})
	b.SyncedAt = at
	apply(t, d, b)
	var got time.Time
	if err := d.conn.QueryRowContext(context.Background(), `SELECT _fivetran_synced FROM dynamo."T"`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := at.Truncate(time.Microsecond); !got.Equal(want) {
		t.Errorf("_fivetran_synced = %v, want %v", got, want)
	}
}

func TestDeletes(t *testing.T) {
	later := t0.Add(time.Hour)
	tab := keyS("T")
	compound := change.Table{Name: "T", Key: []change.KeyAttribute{{Name: "pk", Type: change.KeyString}, {Name: "sk", Type: change.KeyNumber}}}
	seed := upserts(tab, change.Item{"id": s("a"), "v": n("1")}, change.Item{"id": s("b"), "v": n("2")})
	tests := []struct {
		name    string
		batches []*change.Batch
		want    []string
	}{
		{
			name: "existing and unknown keys",
			batches: []*change.Batch{seed, {SyncedAt: later, Tables: []change.TableChanges{{
				Table: tab, Deletes: []change.Delete{del(change.Item{"id": s("a")}), del(change.Item{"id": s("c")}), del(change.Item{"id": s("c")})},
			}}}},
			want: []string{
				"id=a v=1 deleted=true synced",
				"id=b v=2 deleted=false",
				"id=c v=NULL deleted=true synced",
			},
		},
		{
			name: "upsert after delete revives",
			batches: []*change.Batch{
				seed,
				{SyncedAt: later, Tables: []change.TableChanges{{Table: tab, Deletes: []change.Delete{del(change.Item{"id": s("a")})}}}},
				upserts(tab, change.Item{"id": s("a"), "v": n("3")}),
			},
			want: []string{"id=a v=3 deleted=false", "id=b v=2 deleted=false"},
		},
		{
			name: "upsert and delete in one change: delete wins",
			batches: []*change.Batch{{SyncedAt: t0, Tables: []change.TableChanges{{
				Table:   tab,
				Upserts: []change.Item{{"id": s("a"), "v": n("1")}},
				Deletes: []change.Delete{del(change.Item{"id": s("a")})},
			}}}},
			want: []string{"id=a v=1 deleted=true"},
		},
		{
			name: "changes apply in batch order",
			batches: []*change.Batch{{SyncedAt: t0, Tables: []change.TableChanges{
				{Table: tab, Deletes: []change.Delete{del(change.Item{"id": s("a")})}},
				{Table: tab, Upserts: []change.Item{{"id": s("a"), "v": n("1")}}},
			}}},
			want: []string{"id=a v=1 deleted=false"},
		},
		{
			name: "TTL deletes of existing and unknown keys",
			batches: []*change.Batch{seed, {SyncedAt: later, Tables: []change.TableChanges{{
				Table: tab, Deletes: []change.Delete{ttlDel(change.Item{"id": s("a")}), ttlDel(change.Item{"id": s("c")}), del(change.Item{"id": s("b")})},
			}}}},
			want: []string{
				"id=a v=1 deleted=true ttl synced",
				"id=b v=2 deleted=true synced",
				"id=c v=NULL deleted=true ttl synced",
			},
		},
		{
			name: "last delete of a key in a batch gives the flag",
			batches: []*change.Batch{seed, {SyncedAt: t0, Tables: []change.TableChanges{
				{Table: tab, Deletes: []change.Delete{ttlDel(change.Item{"id": s("a")}), del(change.Item{"id": s("b")}), del(change.Item{"id": s("a")})}},
				{Table: tab, Deletes: []change.Delete{ttlDel(change.Item{"id": s("b")})}},
			}}},
			want: []string{"id=a v=1 deleted=true", "id=b v=2 deleted=true ttl"},
		},
		{
			name: "delete after TTL delete clears the flag",
			batches: []*change.Batch{
				seed,
				{SyncedAt: t0, Tables: []change.TableChanges{{Table: tab, Deletes: []change.Delete{ttlDel(change.Item{"id": s("a")}), ttlDel(change.Item{"id": s("b")})}}}},
				{SyncedAt: later, Tables: []change.TableChanges{{Table: tab, Deletes: []change.Delete{del(change.Item{"id": s("a")})}}}},
			},
			want: []string{"id=a v=1 deleted=true synced", "id=b v=2 deleted=true ttl"},
		},
		{
			name: "upsert after TTL delete revives",
			batches: []*change.Batch{
				seed,
				{SyncedAt: later, Tables: []change.TableChanges{{Table: tab, Deletes: []change.Delete{ttlDel(change.Item{"id": s("a")})}}}},
				upserts(tab, change.Item{"id": s("a"), "v": n("3")}),
			},
			want: []string{"id=a v=3 deleted=false", "id=b v=2 deleted=false"},
		},
		{
			name: "delete-only batch creates the table",
			batches: []*change.Batch{{SyncedAt: t0, Tables: []change.TableChanges{{
				Table: tab, Deletes: []change.Delete{ttlDel(change.Item{"id": s("x")})},
			}}}},
			want: []string{"id=x deleted=true ttl"},
		},
		{
			name: "compound key",
			batches: []*change.Batch{
				upserts(compound, change.Item{"pk": s("p"), "sk": n("1"), "v": s("x")}, change.Item{"pk": s("p"), "sk": n("2"), "v": s("y")}),
				{SyncedAt: later, Tables: []change.TableChanges{{Table: compound, Deletes: []change.Delete{
					del(change.Item{"pk": s("p"), "sk": n("2")}), ttlDel(change.Item{"pk": s("q"), "sk": n("2.5")}),
				}}}},
			},
			want: []string{
				"pk=p sk=1 v=x deleted=false",
				"pk=p sk=2 v=y deleted=true synced",
				"pk=q sk=2.5 v=NULL deleted=true ttl synced",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := openTest(t)
			for _, b := range tt.batches {
				apply(t, d, b)
			}
			equal(t, "rows", dump(t, d, "T"), tt.want)
		})
	}
}

func TestState(t *testing.T) {
	ctx := context.Background()
	d, path := openTest(t)
	got, err := d.LoadState(ctx)
	if err != nil || got != nil {
		t.Fatalf("LoadState on a new file = %q, %v; want nil, nil", got, err)
	}
	steps := []struct {
		name string
		run  func() error
		want []byte
	}{
		{"save", func() error { return d.SaveState(ctx, []byte(`{"v":1}`)) }, []byte(`{"v":1}`)},
		{"apply with state", func() error {
			b := upserts(keyS("T"), change.Item{"id": s("a")})
			b.State = []byte(`{"v":2,"q":"it's"}`)
			return d.Apply(ctx, b)
		}, []byte(`{"v":2,"q":"it's"}`)},
		{"apply without state keeps it", func() error {
			return d.Apply(ctx, upserts(keyS("T"), change.Item{"id": s("b")}))
		}, []byte(`{"v":2,"q":"it's"}`)},
		{"state-only batch", func() error {
			return d.Apply(ctx, &change.Batch{State: []byte("3"), SyncedAt: t0})
		}, []byte("3")},
		{"empty state", func() error { return d.SaveState(ctx, []byte{}) }, []byte{}},
		{"reset", func() error { return d.SaveState(ctx, nil) }, nil},
		{"save again", func() error { return d.SaveState(ctx, []byte("4")) }, []byte("4")},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := st.run(); err != nil {
				t.Fatal(err)
			}
			got, err := d.LoadState(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (st.want == nil) || string(got) != string(st.want) {
				t.Errorf("LoadState = %q (nil %v), want %q (nil %v)", got, got == nil, st.want, st.want == nil)
			}
		})
	}
	if err := d.SaveState(ctx, []byte{0xff}); err == nil {
		t.Error("SaveState of invalid UTF-8 succeeded")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = reopen(t, path)
	if got, err := d.LoadState(ctx); err != nil || string(got) != "4" {
		t.Errorf("LoadState after reopen = %q, %v; want 4", got, err)
	}
}

func TestFailedBatch(t *testing.T) {
	ctx := context.Background()
	bad := object(map[string]types.AttributeValue{"x": n("not a number")}) // fails only when encoded
	good := keyS("Good")
	later := t0.Add(time.Hour)
	tests := []struct {
		name  string
		batch *change.Batch
	}{
		{"bad value after rows were written", &change.Batch{SyncedAt: t0, State: []byte("2"), Tables: []change.TableChanges{
			{Table: good, Upserts: []change.Item{{"id": s("b"), "v": n("1.5"), "w": s("new")}}},
			{Table: keyS("New"), Upserts: []change.Item{{"id": s("x"), "v": n("1")}}},
			{Table: keyS("New"), Upserts: []change.Item{{"id": s("y"), "m": bad}}},
		}}},
		{"bad value in a delete", &change.Batch{SyncedAt: t0, State: []byte("2"), Tables: []change.TableChanges{
			{Table: good, Upserts: []change.Item{{"id": s("b"), "v": n("1.5")}}},
			{Table: good, Deletes: []change.Delete{del(change.Item{"id": n("1")})}},
		}}},
		{"missing key", &change.Batch{SyncedAt: t0, State: []byte("2"), Tables: []change.TableChanges{
			{Table: good, Upserts: []change.Item{{"id": s("b"), "v": n("1.5")}, {"v": n("1")}}},
		}}},
		{"key widening then bad value", &change.Batch{SyncedAt: t0, State: []byte("2"), Tables: []change.TableChanges{
			{Table: keyN("Num"), Upserts: []change.Item{{"id": n("1.5")}, {"id": n("2"), "m": bad}}},
		}}},
		{"no SyncedAt", &change.Batch{State: []byte("2"), Tables: []change.TableChanges{
			{Table: good, Upserts: []change.Item{{"id": s("b")}}},
		}}},
		{"no SyncedAt with DeleteUnseenBefore", &change.Batch{State: []byte("2"), Tables: []change.TableChanges{
			{Table: good, DeleteUnseenBefore: &later},
		}}},
		{"DeleteUnseenBefore then bad value", &change.Batch{SyncedAt: later, State: []byte("2"), Tables: []change.TableChanges{
			{Table: good, DeleteUnseenBefore: &later},
			{Table: keyS("New"), Upserts: []change.Item{{"id": s("y"), "m": bad}}},
		}}},
		{"DeleteUnseenBefore then bad state", &change.Batch{SyncedAt: later, State: []byte{0xff}, Tables: []change.TableChanges{
			{Table: good, Deletes: []change.Delete{ttlDel(change.Item{"id": s("z")})}, DeleteUnseenBefore: &later},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, path := openTest(t)
			seed := upserts(good, change.Item{"id": s("a"), "v": n("1")})
			seed.Tables = append(seed.Tables, change.TableChanges{Table: keyN("Num"), Upserts: []change.Item{{"id": n("1")}}})
			seed.State = []byte("1")
			apply(t, d, seed)
			wantRows := []string{"id=a v=1 deleted=false"}
			wantCols := []Column{{Attribute: "id", Name: "id", Type: value.TypeString, Key: true}, {Attribute: "v", Name: "v", Type: value.TypeInt, Key: false}}
			wantV := "v BIGINT"

			if err := d.Apply(ctx, tt.batch); err == nil {
				t.Fatal("Apply succeeded")
			} else {
				t.Logf("Apply: %v", err)
			}
			check := func(d *Destination) {
				t.Helper()
				if st, err := d.LoadState(ctx); err != nil || string(st) != "1" {
					t.Errorf("state = %q, %v; want 1", st, err)
				}
				equal(t, "rows", dump(t, d, "Good"), wantRows)
				equal(t, "Num rows", dump(t, d, "Num"), []string{"id=1 deleted=false"})
				cols, err := d.Columns(ctx, "Good")
				if err != nil || len(cols) != len(wantCols) || cols[0] != wantCols[0] || cols[1] != wantCols[1] {
					t.Errorf("Columns = %v, %v; want %v", cols, err, wantCols)
				}
				if _, err := d.TableName(ctx, "New"); !errors.Is(err, ErrUnknownTable) {
					t.Errorf("TableName(New) error = %v, want ErrUnknownTable", err)
				}
				equal(t, "Good DuckDB types", columnTypes(t, d, "Good"), []string{
					"id VARCHAR", wantV, "_fivetran_synced TIMESTAMP WITH TIME ZONE", "_fivetran_deleted BOOLEAN", "_dynamosync_ttl_expired BOOLEAN",
				})
				equal(t, "New DuckDB types", columnTypes(t, d, "New"), nil)
			}
			check(d)

			// The destination goes on working, and the file holds the same.
			apply(t, d, upserts(good, change.Item{"id": s("c"), "v": n("2.5")}))
			wantRows = append(wantRows, "id=c v=2.5 deleted=false")
			wantCols[1].Type = value.Type{Kind: value.Decimal, Precision: 20, Scale: 1}
			wantV = "v DECIMAL(20,1)"
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			check(reopen(t, path))
		})
	}
}

func TestCanceled(t *testing.T) {
	d, _ := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Apply(ctx, upserts(keyS("T"), change.Item{"id": s("a")})); !errors.Is(err, context.Canceled) {
		t.Errorf("Apply with a canceled context = %v, want context.Canceled", err)
	}
	apply(t, d, upserts(keyS("T"), change.Item{"id": s("a")}))
	equal(t, "rows", dump(t, d, "T"), []string{"id=a deleted=false"})
}

func TestKeyChecks(t *testing.T) {
	tests := []struct {
		name  string
		batch *change.Batch
		want  string
	}{
		{"wrong key type", upserts(keyS("T"), change.Item{"id": n("1")}), "not of declared type"},
		{"null key", upserts(keyS("T"), change.Item{"id": null()}), "not of declared type"},
		{"no key", upserts(change.Table{Name: "T"}, change.Item{"id": s("a")}), "key attributes"},
		{"key changed", upserts(keyS("Seeded"), change.Item{"id": s("a")}), "differs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := openTest(t)
			apply(t, d, upserts(change.Table{Name: "Seeded", Key: []change.KeyAttribute{{Name: "pk", Type: change.KeyString}}},
				change.Item{"pk": s("a")}))
			err := d.Apply(context.Background(), tt.batch)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Apply = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestReplaceRetry checks a batch that first inserts rows, meets a key
// already present and is applied again replacing rows: the tables it
// creates, its rows and its state are each there once.
func TestReplaceRetry(t *testing.T) {
	ctx := context.Background()
	d, _ := openTest(t)
	apply(t, d, upserts(keyS("T"), change.Item{"id": s("a"), "v": n("1")}))
	apply(t, d, &change.Batch{SyncedAt: t0, State: []byte("2"), Tables: []change.TableChanges{
		{Table: keyS("New"), Upserts: []change.Item{{"id": s("x"), "v": n("1")}}},
		{Table: keyS("T"), Upserts: []change.Item{{"id": s("b"), "v": n("2.5")}, {"id": s("a"), "v": n("3")}}},
		{Table: keyS("New"), Upserts: []change.Item{{"id": s("y"), "w": n("1")}}},
	}})
	if !d.replace["T"] || d.replace["New"] {
		t.Errorf("replace = %v, want T only", d.replace)
	}
	equal(t, "T", dump(t, d, "T"), []string{"id=a v=3 deleted=false", "id=b v=2.5 deleted=false"})
	equal(t, "New", dump(t, d, "New"), []string{"id=x v=1 w=NULL deleted=false", "id=y v=NULL w=1 deleted=false"})
	if st, err := d.LoadState(ctx); err != nil || string(st) != "2" {
		t.Errorf("LoadState = %q, %v; want 2", st, err)
	}
	// Later batches of T replace rows straight away.
	apply(t, d, upserts(keyS("T"), change.Item{"id": s("a")}))
	equal(t, "T", dump(t, d, "T"), []string{"id=a v=NULL deleted=false", "id=b v=2.5 deleted=false"})
}
