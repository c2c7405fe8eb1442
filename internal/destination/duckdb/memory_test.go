package duckdb

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dynamosync/dynamosync/internal/change"
)

// TestMemoryLimitRaised starts DuckDB at a memory limit too small for the
// batches' primary-key index: the batch that fails for want of memory is
// applied again with the limit doubled, until it fits, and every row and the
// state arrive.
func TestMemoryLimitRaised(t *testing.T) {
	ctx := context.Background()
	d, _ := openTest(t)
	if d.memoryLimit != startMemoryLimit {
		t.Fatalf("memory limit at open = %d, want %d", d.memoryLimit, startMemoryLimit)
	}
	const small = 1 << 20
	if _, err := d.conn.ExecContext(ctx, "SET GLOBAL memory_limit = '1MiB'"); err != nil {
		t.Fatal(err)
	}
	d.memoryLimit = small
	tab := change.Table{Name: "big", Key: []change.KeyAttribute{{Name: "id", Type: change.KeyString}}}
	const batches, per = 4, 10000
	for i := range batches {
		items := make([]change.Item, per)
		for j := range items {
			k := i*per + j
			items[j] = change.Item{"id": s(fmt.Sprintf("item-%09d-%s", k, strings.Repeat("k", 40))), "v": n(fmt.Sprint(k))}
		}
		b := &change.Batch{Tables: []change.TableChanges{{Table: tab, Upserts: items}}, SyncedAt: t0, State: []byte(fmt.Sprintf(`{"batch":%d}`, i))}
		if err := d.Apply(ctx, b); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	if d.memoryLimit <= small {
		t.Fatalf("memory limit stayed at %d bytes: the batches never ran out of memory, make them larger", d.memoryLimit)
	}
	t.Logf("memory limit raised from %d MiB to %d MiB", small>>20, d.memoryLimit>>20)
	var rows, sum int64
	if err := d.conn.QueryRowContext(ctx, `SELECT count(*), sum(v) FROM "dynamo"."big"`).Scan(&rows, &sum); err != nil {
		t.Fatal(err)
	}
	if want := int64(batches * per); rows != want || sum != want*(want-1)/2 {
		t.Errorf("rows = %d, sum = %d; want %d rows summing to %d", rows, sum, want, want*(want-1)/2)
	}
	state, err := d.LoadState(ctx)
	if err != nil || string(state) != fmt.Sprintf(`{"batch":%d}`, batches-1) {
		t.Errorf("state = %s, %v", state, err)
	}
}

func TestOutOfMemory(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{fmt.Errorf("apply batch: %w", fmt.Errorf("commit: TransactionContext Error: Failed to commit: could not allocate block of size 256.0 KiB (45.6 MiB/45.7 MiB used)")), true},
		{fmt.Errorf("Out of Memory Error: failed to pin block of size 256.0 KiB"), true},
		{fmt.Errorf("could not close appender: Failed to append: failed to allocate data of size 32.0 KiB (16.0 MiB/16.0 MiB used)"), true},
		{fmt.Errorf("Constraint Error: Duplicate key"), false},
	} {
		if got := outOfMemory(tc.err); got != tc.want {
			t.Errorf("outOfMemory(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
