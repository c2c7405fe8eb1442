// Package desttest is the test suite every destination runs: it drives a
// destination through change batches and checks, by reading the database
// with plain SQL, that tables, columns, rows, metadata and state follow the
// data contract written down in package duckdb. Its reading helpers
// (ReadTable, Canonical, Expect) serve end-to-end tests too.
package desttest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/destination/layout"
	"github.com/dynamosync/dynamosync/internal/value"
)

// Destination is what the suite drives.
type Destination interface {
	LoadState(ctx context.Context) ([]byte, error)
	Apply(ctx context.Context, b *change.Batch) error
	Close() error
	Columns(ctx context.Context, table string) ([]layout.Column, error) // attribute columns, keys first
	TableName(ctx context.Context, table string) (string, error)
}

// Harness is how the suite gets at one kind of destination.
type Harness struct {
	// Open returns a function that opens one new, empty destination for test t;
	// calling it again (after Close of the previous one) reopens the same destination.
	Open func(t *testing.T) func(t *testing.T) Destination
	// Reader returns something to read d's database with plain SQL ($1-style parameters work in both DuckDB and PostgreSQL); it may be d's own connection.
	Reader func(t *testing.T, d Destination) layout.Queryer
	// Schema is the schema name the destination writes to, for test t (as given to Open).
	Schema func(t *testing.T) string
	// MaxIdentifierBytes is the longest identifier the database holds (0: no limit). PostgreSQL: 63.
	MaxIdentifierBytes int
}

// Run runs every case of the suite as subtests.
func Run(t *testing.T, h Harness) {
	if h.Open == nil || h.Reader == nil || h.Schema == nil {
		t.Fatal("desttest: Harness needs Open, Reader and Schema")
	}
	su := &suite{h: h}
	for _, c := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"create", su.create},
		{"upsert", su.upsert},
		{"delete", su.delete},
		{"widen", su.widen},
		{"add_column", su.addColumn},
		{"resume", su.resume},
		{"failed_batch", su.failedBatch},
		{"hostile_names", su.hostileNames},
		{"state_only", su.stateOnly},
	} {
		t.Run(c.name, c.run)
	}
}

type suite struct{ h Harness }

// env is the destination one test drives.
type env struct {
	t    *testing.T
	h    Harness
	ctx  context.Context
	open func(*testing.T) Destination
	d    Destination
}

// start opens a new, empty destination for t.
func (su *suite) start(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, h: su.h, ctx: t.Context()}
	e.open = su.h.Open(t)
	e.d = e.open(t)
	return e
}

// reopen closes the destination and opens it again.
func (e *env) reopen() {
	e.t.Helper()
	if err := e.d.Close(); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	e.d = e.open(e.t)
}

func (e *env) schema() string { return e.h.Schema(e.t) }

func (e *env) reader() layout.Queryer { return e.h.Reader(e.t, e.d) }

// apply applies b, which must succeed.
func (e *env) apply(b *change.Batch) {
	e.t.Helper()
	if err := e.d.Apply(e.ctx, b); err != nil {
		e.t.Fatalf("Apply: %v", err)
	}
}

// state checks that LoadState returns want (nil: no state).
func (e *env) state(want []byte) {
	e.t.Helper()
	got, err := e.d.LoadState(e.ctx)
	if err != nil {
		e.t.Fatalf("LoadState: %v", err)
	}
	if want == nil && len(got) != 0 || want != nil && string(got) != string(want) {
		e.t.Errorf("LoadState = %q, want %q", got, want)
	}
}

// read reads a table with ReadTable and checks that the destination's
// Columns and TableName agree with the metadata it wrote.
func (e *env) read(source string) (string, []layout.Column, []Row) {
	e.t.Helper()
	name, cols, rows, err := ReadTable(e.ctx, e.reader(), e.schema(), source)
	if err != nil {
		e.t.Fatalf("ReadTable(%q): %v", source, err)
	}
	got, err := e.d.TableName(e.ctx, source)
	if err != nil {
		e.t.Fatalf("TableName(%q): %v", source, err)
	}
	if got != name {
		e.t.Errorf("TableName(%q) = %q, metadata says %q", source, got, name)
	}
	dcols, err := e.d.Columns(e.ctx, source)
	if err != nil {
		e.t.Fatalf("Columns(%q): %v", source, err)
	}
	if !slices.Equal(dcols, cols) {
		e.t.Errorf("Columns(%q) differ from the metadata:\nColumns:  %s\nmetadata: %s", source, colsText(dcols), colsText(cols))
	}
	return name, cols, rows
}

func colsText(cols []layout.Column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		key := ""
		if c.Key {
			key = " key"
		}
		parts[i] = fmt.Sprintf("%q->%q %s%s", c.Attribute, c.Name, c.Type, key)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// types checks the attribute columns of a table: want holds "attr TYPE" in
// column order, TYPE as value.Type.String renders it, the key columns
// marked "attr TYPE key".
func (e *env) types(source string, want ...string) {
	e.t.Helper()
	_, cols, _ := e.read(source)
	got := make([]string, len(cols))
	for i, c := range cols {
		got[i] = c.Attribute + " " + c.Type.String()
		if c.Key {
			got[i] += " key"
		}
	}
	if !slices.Equal(got, want) {
		e.t.Errorf("columns of %q:\ngot:  %q\nwant: %q", source, got, want)
	}
}

// want is what one row must hold: the values of item (Expect), the flags
// and _fivetran_synced.
type want struct {
	item    change.Item
	deleted bool
	ttl     bool
	synced  time.Time
}

// live is the row of an item upserted at synced.
func live(synced time.Time, item change.Item) want { return want{item: item, synced: synced} }

// deleted is the row of an item deleted at synced.
func deleted(synced time.Time, ttl bool, item change.Item) want {
	return want{item: item, deleted: true, ttl: ttl, synced: synced}
}

// rows checks every row of a table against wants, in any order.
func (e *env) rows(source string, wants ...want) {
	e.t.Helper()
	_, cols, got := e.read(source)
	exp := make([]Row, len(wants))
	for i, w := range wants {
		vals, err := Expect(cols, w.item)
		if err != nil {
			e.t.Fatalf("table %q: expected row %d: %v", source, i, err)
		}
		exp[i] = Row{Values: vals, Deleted: w.deleted, TTLExpired: w.ttl, Synced: w.synced}
	}
	sortRows(cols, exp)
	gotLines, wantLines := rowLines(got), rowLines(exp)
	if !slices.Equal(gotLines, wantLines) {
		var b strings.Builder
		fmt.Fprintf(&b, "rows of %q, columns %s:\n", source, colsText(cols))
		for i := range max(len(gotLines), len(wantLines)) {
			g, w := "(none)", "(none)"
			if i < len(gotLines) {
				g = gotLines[i]
			}
			if i < len(wantLines) {
				w = wantLines[i]
			}
			mark := "  "
			if g != w {
				mark = "! "
			}
			fmt.Fprintf(&b, "%sgot:  %s\n%swant: %s\n", mark, g, mark, w)
		}
		e.t.Error(b.String())
	}
}

// rowLines renders rows one line each, _fivetran_synced at microsecond
// precision in UTC.
func rowLines(rows []Row) []string {
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = fmt.Sprintf("%s | deleted=%t ttl=%t synced=%s", strings.Join(r.Values, " | "), r.Deleted, r.TTLExpired,
			r.Synced.UTC().Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z"))
	}
	return lines
}

// tables lists the tables of the destination's schema.
func (e *env) tables() []string {
	e.t.Helper()
	rows, err := e.reader().QueryContext(e.ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", e.schema())
	if err != nil {
		e.t.Fatalf("list tables: %v", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			e.t.Fatalf("list tables: %v", err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatalf("list tables: %v", err)
	}
	slices.Sort(names)
	return names
}

// physicalColumns lists the columns of a table of the destination's
// schema, sorted by name.
func (e *env) physicalColumns(table string) []string {
	e.t.Helper()
	rows, err := e.reader().QueryContext(e.ctx, "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
		e.schema(), table)
	if err != nil {
		e.t.Fatalf("list columns: %v", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			e.t.Fatalf("list columns: %v", err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatalf("list columns: %v", err)
	}
	slices.Sort(names)
	return names
}

// Times batches are synced at: whole microseconds, as every destination
// stores them.
var (
	t1 = time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	t2 = t1.Add(time.Hour + time.Microsecond)
	t3 = t2.Add(time.Hour + time.Microsecond)
	t4 = t3.Add(time.Hour + time.Microsecond)
	t5 = t4.Add(time.Hour + time.Microsecond)
)

// Key schemas.

func hashKey(table, attr string, typ change.KeyType) change.Table {
	return change.Table{Name: table, Key: []change.KeyAttribute{{Name: attr, Type: typ}}}
}

func hashRangeKey(table, hash string, htyp change.KeyType, rng string, rtyp change.KeyType) change.Table {
	return change.Table{Name: table, Key: []change.KeyAttribute{{Name: hash, Type: htyp}, {Name: rng, Type: rtyp}}}
}

// batch is a batch of the given table changes synced at at.
func batch(at time.Time, tables ...change.TableChanges) *change.Batch {
	return &change.Batch{Tables: tables, SyncedAt: at}
}

// ups is a TableChanges of upserts.
func ups(tab change.Table, items ...change.Item) change.TableChanges {
	return change.TableChanges{Table: tab, Upserts: items}
}

// dels is a TableChanges of deletes.
func dels(tab change.Table, d ...change.Delete) change.TableChanges {
	return change.TableChanges{Table: tab, Deletes: d}
}

func del(key change.Item) change.Delete    { return change.Delete{Key: key} }
func ttlDel(key change.Item) change.Delete { return change.Delete{Key: key, TTLExpired: true} }

// typeName renders a Decimal type as value.Type.String does.
func dec(p, s int) string { return value.Type{Kind: value.Decimal, Precision: p, Scale: s}.String() }
