package desttest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/destination/layout"
)

const (
	keyS = change.KeyString
	keyN = change.KeyNumber
)

type attrs = map[string]types.AttributeValue

// create: new tables get their columns, types and rows.
func (su *suite) create(t *testing.T) {
	e := su.start(t)
	hash := hashKey("hash", "id", keyS)
	hr := hashRangeKey("hash_range", "pk", keyS, "sk", keyN)
	items := []change.Item{
		{
			"id":   s("a"),
			"str":  s("hello ' \" \\ é 表 \n\t"),
			"int":  n("42"),
			"dec":  n("12.345"),
			"d38":  n("12345678901234567890123456789012345678"),
			"num":  n("1E+125"),
			"bin":  b(0, 1, 0xff),
			"bool": boolean(true),
			"null": null(),
			"map":  m(attrs{"x": n("1.50"), "y": s("é\"<>&\u2028"), "z": l(boolean(false), null())}),
			"list": l(s("a"), n("-0.001"), boolean(true), null(), b(1, 2), n("1E+125")),
			"ss":   ss("b", "a"),
			"ns":   ns("10", "1.5", "-1E+125", "1E-130"),
			"bs":   bs([]byte{1}, []byte{0xff, 0}),
			"nested": m(attrs{
				"a": l(m(attrs{"b": l(l(), m(nil))}), ns("1e2")),
				"B": b(0xfb),
				"c": m(attrs{"d": m(attrs{"e": l(ss("x"), bs([]byte{}))})}),
			}),
		},
		{
			"id":     s("b"),
			"str":    s(""),
			"int":    n("-9223372036854775808"),
			"dec":    n("-0.5"),
			"d38":    n("-99999999999999999999999999999999999999"),
			"num":    n("-1.5E-130"),
			"bin":    b(),
			"bool":   boolean(false),
			"null":   null(),
			"map":    m(nil),
			"list":   l(),
			"ss":     ss("x"),
			"ns":     ns("0"),
			"bs":     bs([]byte{}),
			"nested": l(l(l(n("123456789012345678901234567890.12345678")))),
		},
		{"id": s("c"), "int": n("9223372036854775807")},
	}
	hrItems := []change.Item{
		{"pk": s("p"), "sk": n("1"), "a": s("p1")},
		{"pk": s("p"), "sk": n("2"), "a": s("p2")},
		{"pk": s("q"), "sk": n("1")},
		{"pk": s("q"), "sk": n("-5"), "a": s("q-5")},
	}
	at := t1.In(time.FixedZone("UTC+5", 5*3600))
	e.apply(batch(at, ups(hash, items...), ups(hr, hrItems...)))

	check := func() {
		t.Helper()
		e.types("hash",
			"id VARCHAR key", "bin BLOB", "bool BOOLEAN", "bs JSON", "d38 "+dec(38, 0), "dec "+dec(5, 3), "int BIGINT",
			"list JSON", "map JSON", "nested JSON", "ns JSON", "null NULL", "num NUMERIC", "ss JSON", "str VARCHAR")
		e.types("hash_range", "pk VARCHAR key", "sk BIGINT key", "a VARCHAR")
		var wants []want
		for _, item := range items {
			wants = append(wants, live(t1, item))
		}
		e.rows("hash", wants...)
		wants = nil
		for _, item := range hrItems {
			wants = append(wants, live(t1, item))
		}
		e.rows("hash_range", wants...)
		// Plain names are kept exactly; the system columns follow.
		for _, src := range []string{"hash", "hash_range"} {
			name, cols, _ := e.read(src)
			if name != src {
				t.Errorf("table %q is named %q", src, name)
			}
			want := slices.Clone(layout.SystemColumns)
			for _, c := range cols {
				if c.Name != c.Attribute {
					t.Errorf("table %q: attribute %q has column %q", src, c.Attribute, c.Name)
				}
				want = append(want, c.Name)
			}
			slices.Sort(want)
			if got := e.physicalColumns(name); !slices.Equal(got, want) {
				t.Errorf("table %q has columns %q, want %q", src, got, want)
			}
		}
		e.state(nil)
	}
	check()
	e.reopen()
	check()
}

// step is one batch of a scenario and what the tables hold after it.
type step struct {
	name  string
	batch *change.Batch
	rows  map[string][]want   // every row of each listed table
	types map[string][]string // columns of each listed table (see env.types)
}

// run applies the steps in order, checking after each, then reopens the
// destination and checks the last step again.
func (e *env) run(steps []step) {
	e.t.Helper()
	check := func(st step) {
		e.t.Helper()
		for _, src := range sortedKeys(st.types) {
			e.types(src, st.types[src]...)
		}
		for _, src := range sortedKeys(st.rows) {
			e.rows(src, st.rows[src]...)
		}
	}
	for _, st := range steps {
		if err := e.d.Apply(e.ctx, st.batch); err != nil {
			e.t.Fatalf("step %s: Apply: %v", st.name, err)
		}
		check(st)
		if e.t.Failed() {
			e.t.Fatalf("step %s failed", st.name)
		}
	}
	e.reopen()
	check(steps[len(steps)-1])
}

func sortedKeys[V any](mp map[string]V) []string {
	keys := make([]string, 0, len(mp))
	for k := range mp {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// upsert: upserts replace whole rows; the last upsert of a key in a batch
// wins; a deleted row upserted again is live.
func (su *suite) upsert(t *testing.T) {
	e := su.start(t)
	u := hashKey("U", "id", keyS)
	num := hashKey("N", "id", keyN)
	r := hashRangeKey("R", "pk", keyS, "sk", keyN)
	e.run([]step{
		{
			name: "same key twice in a batch",
			batch: batch(t1, ups(u,
				change.Item{"id": s("a"), "x": n("1"), "y": s("p")},
				change.Item{"id": s("b"), "x": n("2")},
				change.Item{"id": s("a"), "x": n("3")},
				change.Item{"id": s("c"), "y": s("q")},
			)),
			types: map[string][]string{"U": {"id VARCHAR key", "x BIGINT", "y VARCHAR"}},
			rows: map[string][]want{"U": {
				live(t1, change.Item{"id": s("a"), "x": n("3")}),
				live(t1, change.Item{"id": s("b"), "x": n("2")}),
				live(t1, change.Item{"id": s("c"), "y": s("q")}),
			}},
		},
		{
			name:  "later upsert replaces the whole row",
			batch: batch(t2, ups(u, change.Item{"id": s("a"), "y": s("r")})),
			rows: map[string][]want{"U": {
				live(t2, change.Item{"id": s("a"), "y": s("r")}),
				live(t1, change.Item{"id": s("b"), "x": n("2")}),
				live(t1, change.Item{"id": s("c"), "y": s("q")}),
			}},
		},
		{
			name:  "deletes",
			batch: batch(t3, dels(u, ttlDel(change.Item{"id": s("b")}), del(change.Item{"id": s("c")}))),
			rows: map[string][]want{"U": {
				live(t2, change.Item{"id": s("a"), "y": s("r")}),
				deleted(t3, true, change.Item{"id": s("b"), "x": n("2")}),
				deleted(t3, false, change.Item{"id": s("c"), "y": s("q")}),
			}},
		},
		{
			name: "deleted rows upserted again are live",
			batch: batch(t4, ups(u,
				change.Item{"id": s("b"), "y": s("back")},
				change.Item{"id": s("c"), "x": n("6")},
			)),
			rows: map[string][]want{"U": {
				live(t2, change.Item{"id": s("a"), "y": s("r")}),
				live(t4, change.Item{"id": s("b"), "y": s("back")}),
				live(t4, change.Item{"id": s("c"), "x": n("6")}),
			}},
		},
		{
			name: "same key in two TableChanges, equal numbers as keys, range keys",
			batch: batch(t5,
				ups(u, change.Item{"id": s("d"), "x": n("1"), "y": s("first")}),
				ups(num,
					change.Item{"id": n("1"), "v": s("one")},
					change.Item{"id": n("1.00"), "v": s("one again")},
					change.Item{"id": n("2")},
				),
				ups(u, change.Item{"id": s("d"), "x": n("2")}),
				ups(r,
					change.Item{"pk": s("p"), "sk": n("1"), "v": s("p1")},
					change.Item{"pk": s("p"), "sk": n("2"), "v": s("p2")},
					change.Item{"pk": s("q"), "sk": n("1"), "v": s("q1")},
				),
				ups(num, change.Item{"id": n("10E-1"), "v": s("one at last")}),
				ups(r, change.Item{"pk": s("p"), "sk": n("1"), "v": s("p1 again")}),
			),
			types: map[string][]string{
				"N": {"id BIGINT key", "v VARCHAR"},
				"R": {"pk VARCHAR key", "sk BIGINT key", "v VARCHAR"},
			},
			rows: map[string][]want{
				"U": {
					live(t2, change.Item{"id": s("a"), "y": s("r")}),
					live(t4, change.Item{"id": s("b"), "y": s("back")}),
					live(t4, change.Item{"id": s("c"), "x": n("6")}),
					live(t5, change.Item{"id": s("d"), "x": n("2")}),
				},
				"N": {
					live(t5, change.Item{"id": n("1"), "v": s("one at last")}),
					live(t5, change.Item{"id": n("2")}),
				},
				"R": {
					live(t5, change.Item{"pk": s("p"), "sk": n("1"), "v": s("p1 again")}),
					live(t5, change.Item{"pk": s("p"), "sk": n("2"), "v": s("p2")}),
					live(t5, change.Item{"pk": s("q"), "sk": n("1"), "v": s("q1")}),
				},
			},
		},
	})
}

// delete: soft deletes, TTL deletes, deletes of unknown keys and
// DeleteUnseenBefore.
func (su *suite) delete(t *testing.T) {
	e := su.start(t)
	d := hashKey("D", "id", keyS)
	r := hashRangeKey("R", "pk", keyS, "sk", keyN)
	snap := hashKey("S", "id", keyN)
	item := func(id string, v string) change.Item { return change.Item{"id": s(id), "v": n(v)} }
	key := func(id string) change.Item { return change.Item{"id": s(id)} }
	before := func(at time.Time) *time.Time { return &at }
	a := with(item("a", "1"), change.Item{"w": s("x")})
	e.run([]step{
		{
			name: "seed",
			batch: batch(t1,
				ups(d, a, item("b", "2"), item("c", "3"), item("d", "4"), item("e", "5")),
				ups(r, change.Item{"pk": s("p"), "sk": n("1"), "v": s("p1")}),
				ups(snap, change.Item{"id": n("1"), "v": s("one")}, change.Item{"id": n("2"), "v": s("two")}),
			),
			types: map[string][]string{"D": {"id VARCHAR key", "v BIGINT", "w VARCHAR"}},
		},
		{
			name: "soft, TTL and unknown deletes",
			batch: batch(t2,
				dels(d, del(key("a")), ttlDel(key("b")), del(key("z")), ttlDel(key("y")), ttlDel(key("e")), del(key("e"))),
				dels(r, ttlDel(change.Item{"pk": s("q"), "sk": n("7")})),
				// A re-snapshot that started at t2 rewrote item 1 only.
				change.TableChanges{Table: snap, Upserts: []change.Item{{"id": n("1"), "v": s("uno")}}, DeleteUnseenBefore: before(t2)},
			),
			rows: map[string][]want{
				"D": {
					deleted(t2, false, a),
					deleted(t2, true, item("b", "2")),
					live(t1, item("c", "3")),
					live(t1, item("d", "4")),
					deleted(t2, false, item("e", "5")),
					deleted(t2, true, key("y")),
					deleted(t2, false, key("z")),
				},
				"R": {
					live(t1, change.Item{"pk": s("p"), "sk": n("1"), "v": s("p1")}),
					deleted(t2, true, change.Item{"pk": s("q"), "sk": n("7")}),
				},
				"S": {
					live(t2, change.Item{"id": n("1"), "v": s("uno")}),
					deleted(t2, false, change.Item{"id": n("2"), "v": s("two")}),
				},
			},
		},
		{
			name:  "upsert c",
			batch: batch(t3, ups(d, item("c", "30"))),
		},
		{
			// d (written at t1) is unseen; c (written at t3, not before
			// t3) is seen; deleted rows keep their values, flags and time.
			name:  "DeleteUnseenBefore",
			batch: batch(t4, change.TableChanges{Table: d, DeleteUnseenBefore: before(t3)}),
			rows: map[string][]want{"D": {
				deleted(t2, false, a),
				deleted(t2, true, item("b", "2")),
				live(t3, item("c", "30")),
				deleted(t4, false, item("d", "4")),
				deleted(t2, false, item("e", "5")),
				deleted(t2, true, key("y")),
				deleted(t2, false, key("z")),
			}},
		},
		{
			// Each TableChanges in batch order: its upserts, then its
			// deletes; so f ends deleted and g live.
			name: "upsert and delete of a key in one batch",
			batch: batch(t5,
				change.TableChanges{Table: d, Upserts: []change.Item{item("f", "6")}, Deletes: []change.Delete{ttlDel(key("f"))}},
				dels(d, del(key("g"))),
				ups(d, item("g", "7")),
			),
			rows: map[string][]want{"D": {
				deleted(t2, false, a),
				deleted(t2, true, item("b", "2")),
				live(t3, item("c", "30")),
				deleted(t4, false, item("d", "4")),
				deleted(t2, false, item("e", "5")),
				deleted(t5, true, item("f", "6")),
				live(t5, item("g", "7")),
				deleted(t2, true, key("y")),
				deleted(t2, false, key("z")),
			}},
		},
	})
}

// widen: a column whose values need a wider type is widened, and every
// stored value keeps its text.
func (su *suite) widen(t *testing.T) {
	type wstep struct {
		v   types.AttributeValue
		typ string // column type after the step
	}
	tests := []struct {
		name  string
		steps []wstep
	}{
		{"int_decimal_string", []wstep{{n("5"), "BIGINT"}, {n("1.50"), dec(20, 1)}, {n("-0.125"), dec(22, 3)}, {s("x"), "VARCHAR"}}},
		{"decimal_without_integer_digits_string", []wstep{{n("-0.05"), dec(2, 2)}, {n("0.5"), dec(2, 2)}, {boolean(true), "VARCHAR"}}},
		{"decimal38_number", []wstep{{n("0.00000000000000000000000000000000000001"), dec(38, 38)}, {n("1"), "NUMERIC"}}},
		{"int_number", []wstep{{n("7"), "BIGINT"}, {n("1E+125"), "NUMERIC"}, {n("-3.25"), "NUMERIC"}, {n("-1.2345E-130"), "NUMERIC"}}},
		{"decimal_number", []wstep{{n("-12.50"), dec(3, 1)}, {n("1E+40"), "NUMERIC"}}},
		{"number_string", []wstep{{n("1E+125"), "NUMERIC"}, {n("0.5"), "NUMERIC"}, {s("x"), "VARCHAR"}}},
		{"number_json", []wstep{{n("-1.5E-130"), "NUMERIC"}, {l(n("1")), "JSON"}}},
		{"bool_string", []wstep{{boolean(true), "BOOLEAN"}, {boolean(false), "BOOLEAN"}, {s("yes"), "VARCHAR"}}},
		{"bool_number_string", []wstep{{boolean(true), "BOOLEAN"}, {n("1.50"), "VARCHAR"}}},
		{"binary_string", []wstep{{b(0xfb, 0xff), "BLOB"}, {b(), "BLOB"}, {s("x"), "VARCHAR"}}},
		{"int_binary_string", []wstep{{n("-1"), "BIGINT"}, {b(1), "VARCHAR"}}},
		{"string_json", []wstep{{s("a\"b\\c\n\u2028\u2029\x01 é"), "VARCHAR"}, {m(attrs{"k": n("1.0")}), "JSON"}, {s("plain"), "JSON"}}},
		{"int_json", []wstep{{n("9223372036854775807"), "BIGINT"}, {ns("2"), "JSON"}}},
		{"decimal_json", []wstep{{n("-12.3400"), dec(4, 2)}, {n("0.5"), dec(4, 2)}, {l(), "JSON"}}},
		{"bool_json", []wstep{{boolean(false), "BOOLEAN"}, {m(nil), "JSON"}}},
		{"binary_json", []wstep{{b(0xfb, 0xff), "BLOB"}, {bs([]byte{1}), "JSON"}}},
		{"null_int", []wstep{{null(), "NULL"}, {n("5"), "BIGINT"}, {null(), "BIGINT"}}},
		{"null_string", []wstep{{null(), "NULL"}, {s("x"), "VARCHAR"}}},
		{"null_json", []wstep{{null(), "NULL"}, {l(null()), "JSON"}}},
	}
	times := []time.Time{t1, t2, t3, t4, t5}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := su.start(t)
			tab := hashKey("W", "id", keyN)
			var steps []step
			var wants []want
			for i, st := range tt.steps {
				item := change.Item{"id": n(fmt.Sprint(i)), "v": st.v, "o": s(fmt.Sprint("other ", i))}
				wants = append(wants, live(times[i], item))
				steps = append(steps, step{
					name:  fmt.Sprintf("%d (%s)", i, st.typ),
					batch: batch(times[i], ups(tab, item)),
					types: map[string][]string{"W": {"id BIGINT key", "o VARCHAR", "v " + st.typ}},
					rows:  map[string][]want{"W": slices.Clone(wants)},
				})
			}
			e.run(steps)
		})
	}

	t.Run("deleted_rows_and_two_columns", func(t *testing.T) {
		e := su.start(t)
		tab := hashKey("W", "id", keyS)
		a := change.Item{"id": s("a"), "v": n("5"), "w": boolean(true)}
		bb := change.Item{"id": s("b"), "v": n("6"), "w": boolean(false)}
		c := change.Item{"id": s("c"), "v": s("x"), "w": l(s("y"))}
		e.run([]step{
			{name: "seed", batch: batch(t1, ups(tab, a, bb))},
			{name: "delete a", batch: batch(t2, dels(tab, ttlDel(change.Item{"id": s("a")})))},
			{
				name:  "widen v and w",
				batch: batch(t3, ups(tab, c)),
				types: map[string][]string{"W": {"id VARCHAR key", "v VARCHAR", "w JSON"}},
				rows:  map[string][]want{"W": {deleted(t2, true, a), live(t1, bb), live(t3, c)}},
			},
		})
	})

	keyTests := []struct {
		name string
		tab  change.Table
		// items of each batch; after each batch, the columns and rows
		batches [][]change.Item
		types   [][]string
		rows    [][]want
	}{
		{
			name: "number_key",
			tab:  hashKey("K", "id", keyN),
			batches: [][]change.Item{
				{{"id": n("1"), "a": s("one")}, {"id": n("-2"), "a": s("minus two")}},
				{{"id": n("1.5"), "a": s("one and a half")}},
				{{"id": n("1"), "a": s("uno")}, {"id": n("1.50"), "a": s("again")}},
				{{"id": n("1E+125"), "a": s("huge")}},
				{{"id": n("-2"), "a": s("minus two again")}, {"id": n("1.5")}},
			},
			types: [][]string{
				{"id BIGINT key", "a VARCHAR"},
				{"id " + dec(20, 1) + " key", "a VARCHAR"},
				{"id " + dec(20, 1) + " key", "a VARCHAR"},
				{"id NUMERIC key", "a VARCHAR"},
				{"id NUMERIC key", "a VARCHAR"},
			},
			rows: [][]want{
				{live(t1, change.Item{"id": n("1"), "a": s("one")}), live(t1, change.Item{"id": n("-2"), "a": s("minus two")})},
				{
					live(t1, change.Item{"id": n("1"), "a": s("one")}), live(t1, change.Item{"id": n("-2"), "a": s("minus two")}),
					live(t2, change.Item{"id": n("1.5"), "a": s("one and a half")}),
				},
				{
					live(t3, change.Item{"id": n("1"), "a": s("uno")}), live(t1, change.Item{"id": n("-2"), "a": s("minus two")}),
					live(t3, change.Item{"id": n("1.5"), "a": s("again")}),
				},
				{
					live(t3, change.Item{"id": n("1"), "a": s("uno")}), live(t1, change.Item{"id": n("-2"), "a": s("minus two")}),
					live(t3, change.Item{"id": n("1.5"), "a": s("again")}), live(t4, change.Item{"id": n("1E+125"), "a": s("huge")}),
				},
				{
					live(t3, change.Item{"id": n("1"), "a": s("uno")}), live(t5, change.Item{"id": n("-2"), "a": s("minus two again")}),
					live(t5, change.Item{"id": n("1.5")}), live(t4, change.Item{"id": n("1E+125"), "a": s("huge")}),
				},
			},
		},
		{
			name: "range_key",
			tab:  hashRangeKey("K", "pk", keyS, "sk", keyN),
			batches: [][]change.Item{
				{{"pk": s("p"), "sk": n("10"), "v": n("1")}, {"pk": s("p"), "sk": n("9"), "v": b(1)}},
				{{"pk": s("p"), "sk": n("0.001"), "v": s("x")}, {"pk": s("p"), "sk": n("10"), "v": n("2")}},
			},
			types: [][]string{
				{"pk VARCHAR key", "sk BIGINT key", "v VARCHAR"},
				{"pk VARCHAR key", "sk " + dec(22, 3) + " key", "v VARCHAR"},
			},
			rows: [][]want{
				{
					live(t1, change.Item{"pk": s("p"), "sk": n("10"), "v": n("1")}),
					live(t1, change.Item{"pk": s("p"), "sk": n("9"), "v": b(1)}),
				},
				{
					live(t2, change.Item{"pk": s("p"), "sk": n("10"), "v": n("2")}),
					live(t1, change.Item{"pk": s("p"), "sk": n("9"), "v": b(1)}),
					live(t2, change.Item{"pk": s("p"), "sk": n("0.001"), "v": s("x")}),
				},
			},
		},
	}
	for _, tt := range keyTests {
		t.Run(tt.name, func(t *testing.T) {
			e := su.start(t)
			var steps []step
			for i, items := range tt.batches {
				steps = append(steps, step{
					name:  fmt.Sprint(i),
					batch: batch(times[i], ups(tt.tab, items...)),
					types: map[string][]string{tt.tab.Name: tt.types[i]},
					rows:  map[string][]want{tt.tab.Name: tt.rows[i]},
				})
			}
			e.run(steps)
		})
	}
}

// addColumn: new attributes get columns after the existing ones, NULL in
// older rows.
func (su *suite) addColumn(t *testing.T) {
	e := su.start(t)
	tab := hashKey("T", "zk", keyS)
	hr := hashRangeKey("R", "z", keyS, "a", keyN)
	first := change.Item{"zk": s("a"), "m": n("1")}
	second := change.Item{"zk": s("b"), "m": n("2"), "c": s("see"), "a": n("2.5")}
	third := change.Item{"zk": s("c"), "b": boolean(true)}
	e.run([]step{
		{
			name:  "create",
			batch: batch(t1, ups(tab, first), ups(hr, change.Item{"z": s("p"), "a": n("1"), "0": s("zero")})),
			types: map[string][]string{
				"T": {"zk VARCHAR key", "m BIGINT"},
				"R": {"z VARCHAR key", "a BIGINT key", "0 VARCHAR"},
			},
		},
		{
			name:  "two new attributes, ordered by name",
			batch: batch(t2, ups(tab, second)),
			types: map[string][]string{"T": {"zk VARCHAR key", "m BIGINT", "a " + dec(2, 1), "c VARCHAR"}},
			rows:  map[string][]want{"T": {live(t1, first), live(t2, second)}},
		},
		{
			name:  "a new attribute after the others, whatever its name",
			batch: batch(t3, ups(tab, third), ups(hr, change.Item{"z": s("p"), "a": n("2"), "-": n("1")})),
			types: map[string][]string{
				"T": {"zk VARCHAR key", "m BIGINT", "a " + dec(2, 1), "c VARCHAR", "b BOOLEAN"},
				"R": {"z VARCHAR key", "a BIGINT key", "0 VARCHAR", "- BIGINT"},
			},
			rows: map[string][]want{
				"T": {live(t1, first), live(t2, second), live(t3, third)},
				"R": {
					live(t1, change.Item{"z": s("p"), "a": n("1"), "0": s("zero")}),
					live(t3, change.Item{"z": s("p"), "a": n("2"), "-": n("1")}),
				},
			},
		},
		{
			name:  "new attribute in a deleted row's table",
			batch: batch(t4, dels(tab, del(change.Item{"zk": s("a")})), ups(tab, change.Item{"zk": s("d"), "d": l()})),
			types: map[string][]string{"T": {"zk VARCHAR key", "m BIGINT", "a " + dec(2, 1), "c VARCHAR", "b BOOLEAN", "d JSON"}},
			rows: map[string][]want{"T": {
				deleted(t4, false, first), live(t2, second), live(t3, third), live(t4, change.Item{"zk": s("d"), "d": l()}),
			}},
		},
	})
}

// resume: the state and the metadata survive a reopen, and batches go on.
func (su *suite) resume(t *testing.T) {
	e := su.start(t)
	tab := hashKey("T", "id", keyS)
	other := hashKey("Other", "id", keyN)
	st1 := []byte("{\"shards\":{\"shardId-000001\":\"49590338271490256608559692538361571095921575989136588898\"},\"é\":\"表 ' \\\" \\\\\"}\n\t ")
	st2 := []byte("second state")
	a := change.Item{"id": s("a"), "v": n("1"), "w": s("x")}
	bb := change.Item{"id": s("b"), "v": n("2.5"), "z": boolean(true)}
	c := change.Item{"id": s("c"), "v": n("3"), "new": m(attrs{"k": s("v")})}

	e.state(nil)
	e.apply(&change.Batch{Tables: []change.TableChanges{ups(tab, a), ups(other, change.Item{"id": n("1")})}, State: st1, SyncedAt: t1})
	_, before, _ := e.read("T")
	e.reopen()
	e.state(st1)
	if _, cols, _ := e.read("T"); !slices.Equal(cols, before) {
		t.Errorf("columns after reopen %s, before %s", colsText(cols), colsText(before))
	}
	e.rows("T", live(t1, a))

	// A batch without state keeps the previous state.
	e.apply(batch(t2, ups(tab, bb)))
	e.state(st1)
	e.reopen()
	e.state(st1)
	e.types("T", "id VARCHAR key", "v "+dec(20, 1), "w VARCHAR", "z BOOLEAN")
	e.rows("T", live(t1, a), live(t2, bb))

	e.apply(&change.Batch{Tables: []change.TableChanges{ups(tab, c), dels(other, del(change.Item{"id": n("1")}))}, State: st2, SyncedAt: t3})
	e.state(st2)
	e.reopen()
	e.state(st2)
	e.types("T", "id VARCHAR key", "v "+dec(20, 1), "w VARCHAR", "z BOOLEAN", "new JSON")
	e.rows("T", live(t1, a), live(t2, bb), live(t3, c))
	e.rows("Other", deleted(t3, false, change.Item{"id": n("1")}))
}

// failedBatch: a batch that fails leaves nothing behind, and the
// destination goes on.
func (su *suite) failedBatch(t *testing.T) {
	base := hashKey("A", "id", keyS)
	existing := hashKey("B", "id", keyS)
	fresh := hashKey("N", "id", keyS)
	st1, st2 := []byte("state 1"), []byte("state 2")
	seedA := []change.Item{{"id": s("a"), "v": n("1")}, {"id": s("b"), "v": n("2")}}
	seedB := []change.Item{{"id": s("x"), "v": s("x")}}
	// The changes to A each failing batch carries: a widening, a new
	// column, a replaced row, a new row and a delete.
	changesA := func() []change.TableChanges {
		return []change.TableChanges{
			ups(base, change.Item{"id": s("a"), "v": n("1.5"), "new": s("n")}, change.Item{"id": s("c"), "v": n("3")}),
			dels(base, ttlDel(change.Item{"id": s("b")})),
		}
	}
	tests := []struct {
		name   string
		tables []change.TableChanges
	}{
		{"second table item without its key", append(changesA(),
			ups(hashKey("B2", "id", keyS), change.Item{"id": s("ok")}, change.Item{"other": s("no key")}))},
		{"item without its key in an existing table", append(append([]change.TableChanges{ups(fresh, change.Item{"id": s("n")})}, changesA()...),
			ups(existing, change.Item{"id": s("y"), "v": s("y")}, change.Item{"v": s("no key")}))},
		{"key of another type", append(changesA(),
			ups(existing, change.Item{"id": n("1")}))},
		{"malformed number inside a map", append(append([]change.TableChanges{ups(fresh, change.Item{"id": s("n")})}, changesA()...),
			ups(existing, change.Item{"id": s("y"), "m": m(attrs{"k": n("not a number")})}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := su.start(t)
			e.apply(&change.Batch{Tables: []change.TableChanges{ups(base, seedA...), ups(existing, seedB...)}, State: st1, SyncedAt: t1})
			tables := e.tables()
			physA, physB := e.physicalColumns("A"), e.physicalColumns("B")
			check := func() {
				t.Helper()
				e.state(st1)
				if got := e.tables(); !slices.Equal(got, tables) {
					t.Errorf("tables %q, want %q", got, tables)
				}
				if got := e.physicalColumns("A"); !slices.Equal(got, physA) {
					t.Errorf("columns of A %q, want %q", got, physA)
				}
				if got := e.physicalColumns("B"); !slices.Equal(got, physB) {
					t.Errorf("columns of B %q, want %q", got, physB)
				}
				e.types("A", "id VARCHAR key", "v BIGINT")
				e.types("B", "id VARCHAR key", "v VARCHAR")
				e.rows("A", live(t1, seedA[0]), live(t1, seedA[1]))
				e.rows("B", live(t1, seedB[0]))
				for _, src := range []string{"N", "B2"} {
					if name, err := e.d.TableName(e.ctx, src); err == nil {
						t.Errorf("TableName(%q) = %q after a failed batch", src, name)
					}
					if _, _, _, err := ReadTable(e.ctx, e.reader(), e.schema(), src); !errors.Is(err, layout.ErrUnknownTable) {
						t.Errorf("ReadTable(%q) after a failed batch: %v, want ErrUnknownTable", src, err)
					}
				}
			}
			if err := e.d.Apply(e.ctx, &change.Batch{Tables: tt.tables, State: st2, SyncedAt: t2}); err == nil {
				t.Fatal("Apply succeeded, want an error")
			} else {
				t.Logf("Apply: %v", err)
			}
			check()
			e.reopen()
			check()

			// The destination goes on.
			e.apply(&change.Batch{Tables: append(changesA(), ups(fresh, change.Item{"id": s("n")})), State: st2, SyncedAt: t3})
			e.state(st2)
			e.types("A", "id VARCHAR key", "v "+dec(20, 1), "new VARCHAR")
			e.rows("A",
				live(t3, change.Item{"id": s("a"), "v": n("1.5"), "new": s("n")}),
				deleted(t3, true, seedA[1]),
				live(t3, change.Item{"id": s("c"), "v": n("3")}))
			e.rows("N", live(t3, change.Item{"id": s("n")}))
			e.rows("B", live(t1, seedB[0]))
		})
	}
}

// hostileNames: any DynamoDB name is a usable table or column name.
func (su *suite) hostileNames(t *testing.T) {
	e := su.start(t)
	maxBytes := su.h.MaxIdentifierBytes
	long := strings.Repeat("t", 199)
	longAttr := strings.Repeat("a", 199)
	sources := []string{
		"y", `x"; DROP TABLE y; --`, `x'); DROP TABLE y; --`, "it's", "Ünïcödé", "with space", "a.b-c", "select", "Y",
		long + "1", long + "2", strings.Repeat("Ü", 200),
	}
	b1 := batch(t1)
	for i, src := range sources {
		b1.Tables = append(b1.Tables, ups(hashKey(src, "id", keyS), change.Item{"id": s(src), "v": n(fmt.Sprint(i))}))
	}
	// A table whose attributes have hostile names, keys included.
	tab := hashRangeKey("attrs", longAttr+"k", keyS, "it's", keyN)
	items := []change.Item{
		{
			longAttr + "k": s("k1"), "it's": n("1"),
			`x"; DROP TABLE y; --`:    s(`'); DROP TABLE y; --`),
			longAttr + "1":            n("1"),
			longAttr + "2":            n("2"),
			"_fivetran_synced":        s("not the system column"),
			"_fivetran_deleted":       boolean(true),
			"_dynamosync_ttl_expired": boolean(true),
			"Name":                    s("upper"),
			"name":                    s("lower"),
			strings.Repeat("é", 200):  n("3"),
			"select":                  n("4"),
			"with space":              n("5"),
			"a.b-c":                   n("6"),
		},
		{longAttr + "k": s("k2"), "it's": n("-1"), "name": s("only lower"), longAttr + "2": n("22")},
	}
	b1.Tables = append(b1.Tables, ups(tab, items...))
	e.apply(b1)
	// A second batch adds a name equal to others ignoring case.
	third := change.Item{longAttr + "k": s("k3"), "it's": n("0"), "NAME": s("shout"), "_FIVETRAN_SYNCED": s("loud")}
	e.apply(batch(t2, ups(tab, third)))

	check := func() {
		t.Helper()
		names := map[string]string{} // destination name -> source
		for i, src := range append(slices.Clone(sources), "attrs") {
			name, err := e.d.TableName(e.ctx, src)
			if err != nil {
				t.Fatalf("TableName(%q): %v", src, err)
			}
			checkName(t, "table "+fmt.Sprintf("%q", src), name, maxBytes)
			if prev, dup := names[name]; dup {
				t.Errorf("tables %q and %q are both named %q", prev, src, name)
			}
			names[name] = src
			if slices.Contains([]string{layout.TablesTable, layout.ColumnsTable, layout.StateTable}, name) {
				t.Errorf("table %q is named as a metadata table", src)
			}
			if src != "attrs" {
				e.rows(src, live(t1, change.Item{"id": s(src), "v": n(fmt.Sprint(i))}))
			}
		}
		// No table was dropped.
		got := e.tables()
		for name, src := range names {
			if !slices.Contains(got, name) {
				t.Errorf("table %q of %q is missing from the schema", name, src)
			}
		}
		for _, meta := range []string{layout.TablesTable, layout.ColumnsTable, layout.StateTable} {
			if !slices.Contains(got, meta) {
				t.Errorf("metadata table %q is missing from the schema", meta)
			}
		}

		name, cols, _ := e.read("attrs")
		colNames := map[string]string{}
		for i, c := range cols {
			checkName(t, fmt.Sprintf("column of %q", c.Attribute), c.Name, maxBytes)
			if prev, dup := colNames[c.Name]; dup {
				t.Errorf("attributes %q and %q both have column %q", prev, c.Attribute, c.Name)
			}
			colNames[c.Name] = c.Attribute
			if slices.Contains(layout.SystemColumns, c.Name) {
				t.Errorf("attribute %q has system column name %q", c.Attribute, c.Name)
			}
			if (i < 2) != c.Key {
				t.Errorf("column %d (%q): key %t", i, c.Attribute, c.Key)
			}
			switch c.Attribute {
			case "_fivetran_synced", "_fivetran_deleted", "_dynamosync_ttl_expired":
				if want := c.Attribute + "_2"; c.Name != want {
					t.Errorf("attribute %q has column %q, want %q", c.Attribute, c.Name, want)
				}
			case `x"; DROP TABLE y; --`, "select", "with space", "a.b-c", "it's":
				if c.Name != c.Attribute {
					t.Errorf("attribute %q has column %q, want its name", c.Attribute, c.Name)
				}
			}
		}
		if len(cols) != 16 {
			t.Errorf("table attrs has %d columns, want 16: %s", len(cols), colsText(cols))
		}
		want := slices.Clone(layout.SystemColumns)
		for _, c := range cols {
			want = append(want, c.Name)
		}
		slices.Sort(want)
		if got := e.physicalColumns(name); !slices.Equal(got, want) {
			t.Errorf("table attrs has columns %q, want %q", got, want)
		}
		e.rows("attrs", live(t1, items[0]), live(t1, items[1]), live(t2, third))
	}
	check()
	e.reopen()
	check()
}

// checkName checks that a destination name is valid UTF-8 and, when maxBytes is
// set, at most maxBytes bytes long.
func checkName(t *testing.T, what, name string, maxBytes int) {
	t.Helper()
	if name == "" || !utf8.ValidString(name) {
		t.Errorf("%s is named %q", what, name)
	}
	if maxBytes > 0 && len(name) > maxBytes {
		t.Errorf("%s is named %q: %d bytes, more than %d", what, name, len(name), maxBytes)
	}
}

// stateOnly: a batch without changes stores its state.
func (su *suite) stateOnly(t *testing.T) {
	e := su.start(t)
	tab := hashKey("T", "id", keyS)
	e.state(nil)
	st1 := []byte(`{"phase":"snapshot","it's":"'); DROP TABLE y; --"}`)
	e.apply(&change.Batch{State: st1, SyncedAt: t1})
	e.state(st1)
	e.reopen()
	e.state(st1)

	e.apply(&change.Batch{Tables: []change.TableChanges{ups(tab, change.Item{"id": s("a")})}, State: []byte("2"), SyncedAt: t2})
	e.state([]byte("2"))
	e.apply(&change.Batch{State: []byte("3"), SyncedAt: t3})
	e.state([]byte("3"))
	e.rows("T", live(t2, change.Item{"id": s("a")}))
	if got := e.tables(); !slices.Equal(got, []string{"T", layout.ColumnsTable, layout.StateTable, layout.TablesTable}) {
		t.Errorf("tables %q", got)
	}
	e.reopen()
	e.state([]byte("3"))
	e.rows("T", live(t2, change.Item{"id": s("a")}))
}
