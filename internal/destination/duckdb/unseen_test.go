package duckdb

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dynamosync/dynamosync/internal/change"
)

// synced returns each row of a DynamoDB table's destination table as
// "id=<id> <flags> <label>", ordered by id, where label names the row's
// _fivetran_synced among times, or is the time itself.
func synced(t testing.TB, d *Destination, source string, times map[string]time.Time) []string {
	t.Helper()
	ctx := context.Background()
	name, err := d.TableName(ctx, source)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := d.conn.QueryContext(ctx, "SELECT id, "+ident(deletedColumn)+", "+ident(ttlColumn)+", "+ident(syncedColumn)+
		" FROM "+ident(testSchema)+"."+ident(name)+" ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		var deleted, ttl bool
		var at time.Time
		if err := rows.Scan(&id, &deleted, &ttl, &at); err != nil {
			t.Fatal(err)
		}
		label := at.UTC().Format(time.RFC3339Nano)
		for l, tm := range times {
			if tm.Truncate(time.Microsecond).Equal(at) {
				label = l
			}
		}
		line := "id=" + id
		if deleted {
			line += " deleted"
		}
		if ttl {
			line += " ttl"
		}
		out = append(out, line+" "+label)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDeleteUnseenBefore(t *testing.T) {
	tab := keyS("T")
	// t0: the first snapshot; start: a re-snapshot starts; t1: a change
	// written during it; t2: the re-snapshot completes.
	start := t0.Add(time.Hour)
	t1, t2 := start.Add(time.Minute), start.Add(2*time.Minute)
	times := map[string]time.Time{"t0": t0, "start": start, "t1": t1, "t2": t2}
	at := func(tm time.Time, tcs ...change.TableChanges) *change.Batch {
		return &change.Batch{SyncedAt: tm, Tables: tcs}
	}
	items := func(ids ...string) []change.Item {
		out := make([]change.Item, len(ids))
		for i, id := range ids {
			out[i] = change.Item{"id": s(id), "v": s(id)}
		}
		return out
	}
	// Live a, b, c, e; d deleted by TTL, f deleted by a user, all at t0.
	seed := at(t0, change.TableChanges{Table: tab, Upserts: items("a", "b", "c", "e"),
		Deletes: []change.Delete{ttlDel(change.Item{"id": s("d")}), del(change.Item{"id": s("f")})}})
	tests := []struct {
		name    string
		batches []*change.Batch
		want    []string
	}{
		{
			name: "rows older than T are marked, newer and deleted ones untouched",
			batches: []*change.Batch{
				seed,
				at(t1, change.TableChanges{Table: tab, Upserts: items("c")}),
				at(t2, change.TableChanges{Table: tab, Upserts: items("a"), DeleteUnseenBefore: &start}),
			},
			want: []string{
				"id=a t2",
				"id=b deleted t2",
				"id=c t1",
				"id=d deleted ttl t0",
				"id=e deleted t2",
				"id=f deleted t0",
			},
		},
		{
			name: "only DeleteUnseenBefore",
			batches: []*change.Batch{
				seed,
				at(t1, change.TableChanges{Table: tab, Upserts: items("a", "b")}),
				at(t2, change.TableChanges{Table: tab, DeleteUnseenBefore: &start}),
			},
			want: []string{
				"id=a t1",
				"id=b t1",
				"id=c deleted t2",
				"id=d deleted ttl t0",
				"id=e deleted t2",
				"id=f deleted t0",
			},
		},
		{
			name: "after the upserts and deletes of its TableChanges",
			batches: []*change.Batch{
				seed,
				at(t2, change.TableChanges{Table: tab, Upserts: items("b", "g"),
					Deletes:            []change.Delete{ttlDel(change.Item{"id": s("c")}), del(change.Item{"id": s("h")})},
					DeleteUnseenBefore: &start}),
			},
			want: []string{
				"id=a deleted t2",
				"id=b t2",
				"id=c deleted ttl t2",
				"id=d deleted ttl t0",
				"id=e deleted t2",
				"id=f deleted t0",
				"id=g t2",
				"id=h deleted t2",
			},
		},
		{
			name: "in batch order",
			batches: []*change.Batch{
				seed,
				at(t2,
					change.TableChanges{Table: tab, DeleteUnseenBefore: &start},
					change.TableChanges{Table: tab, Upserts: items("a")},
				),
			},
			want: []string{
				"id=a t2",
				"id=b deleted t2",
				"id=c deleted t2",
				"id=d deleted ttl t0",
				"id=e deleted t2",
				"id=f deleted t0",
			},
		},
		{
			// The batch first inserts rows, meets key a and is applied again
			// replacing rows.
			name: "with a replace retry",
			batches: []*change.Batch{
				seed,
				at(t2, change.TableChanges{Table: tab, Upserts: items("g", "a"), DeleteUnseenBefore: &start}),
			},
			want: []string{
				"id=a t2",
				"id=b deleted t2",
				"id=c deleted t2",
				"id=d deleted ttl t0",
				"id=e deleted t2",
				"id=f deleted t0",
				"id=g t2",
			},
		},
		{
			// Times are stored to the microsecond: a row written within the
			// microsecond in which the re-snapshot started was written after
			// it started.
			name: "same microsecond as T",
			batches: []*change.Batch{
				at(start.Add(100*time.Nanosecond), change.TableChanges{Table: tab, Upserts: items("a")}),
				at(start.Add(-time.Microsecond), change.TableChanges{Table: tab, Upserts: items("b")}),
				at(t2, change.TableChanges{Table: tab, DeleteUnseenBefore: new(start.Add(500 * time.Nanosecond))}),
			},
			want: []string{"id=a start", "id=b deleted t2"},
		},
		{
			name:    "table never written",
			batches: []*change.Batch{at(t2, change.TableChanges{Table: tab, DeleteUnseenBefore: &start})},
			want:    nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, path := openTest(t)
			for _, b := range tt.batches {
				apply(t, d, b)
			}
			equal(t, "rows", synced(t, d, "T", times), tt.want)
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			equal(t, "rows after reopen", synced(t, reopen(t, path), "T", times), tt.want)
		})
	}
}

// TestDeleteUnseenBeforeRollback checks that the rows DeleteUnseenBefore
// marks are kept only when its batch commits.
func TestDeleteUnseenBeforeRollback(t *testing.T) {
	ctx := context.Background()
	start := t0.Add(time.Hour)
	t2 := start.Add(time.Minute)
	times := map[string]time.Time{"t0": t0, "t2": t2}
	tab := keyS("T")
	d, _ := openTest(t)
	seed := upserts(tab, change.Item{"id": s("a")}, change.Item{"id": s("b")})
	seed.State = []byte("1")
	apply(t, d, seed)

	failing := &change.Batch{SyncedAt: t2, State: []byte("2"), Tables: []change.TableChanges{
		{Table: tab, Upserts: []change.Item{{"id": s("a")}}, DeleteUnseenBefore: &start},
		{Table: keyS("Other"), Upserts: []change.Item{{"id": n("1")}}}, // wrong key type
	}}
	if err := d.Apply(ctx, failing); err == nil {
		t.Fatal("Apply succeeded")
	}
	equal(t, "rows after the failed batch", synced(t, d, "T", times), []string{"id=a t0", "id=b t0"})
	if st, err := d.LoadState(ctx); err != nil || string(st) != "1" {
		t.Errorf("state = %q, %v; want 1", st, err)
	}
	if _, err := d.TableName(ctx, "Other"); !errors.Is(err, ErrUnknownTable) {
		t.Errorf("TableName(Other) error = %v, want ErrUnknownTable", err)
	}

	failing.Tables = failing.Tables[:1]
	apply(t, d, failing)
	equal(t, "rows after the batch", synced(t, d, "T", times), []string{"id=a t2", "id=b deleted t2"})
	if st, err := d.LoadState(ctx); err != nil || string(st) != "2" {
		t.Errorf("state = %q, %v; want 2", st, err)
	}
}
