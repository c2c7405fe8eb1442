package duckdb

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynamosync/dynamosync/internal/change"
)

// crashImage copies the database file at path and its write-ahead log, as
// a kill -9 right after a commit leaves them, to a new directory and opens
// the copy.
func crashImage(t *testing.T, path string) *Destination {
	t.Helper()
	cp := filepath.Join(t.TempDir(), "image.duckdb")
	for _, suffix := range []string{"", ".wal"} {
		in, err := os.Open(path + suffix)
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(cp + suffix)
		if err == nil {
			_, err = io.Copy(out, in)
			err = errors.Join(err, out.Close())
		}
		in.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return reopen(t, cp)
}

// TestCrashImages applies random batches of upserts and deletes, some
// adding columns, some marking rows not written lately deleted, to a table reopened (and so checkpointed) every few
// batches, and after each batch checks that a crash image of the file
// holds exactly the rows the live destination holds. With rows replaced by
// INSERT OR REPLACE, DuckDB 2.0's replay of the write-ahead log lost the
// new string values of some replaced rows in every one of these seeds.
func TestCrashImages(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	for _, seed := range []uint64{2, 3, 4} {
		t.Run("seed "+strconv.FormatUint(seed, 10), func(t *testing.T) {
			crashImages(t, seed)
		})
	}
}

func crashImages(t *testing.T, seed uint64) {
	const (
		keys    = 2000
		batches = 10
	)
	rng := rand.New(rand.NewPCG(seed, 1))
	unseen := rand.New(rand.NewPCG(seed, 2)) // apart, so rng's seeds still find the bug
	d, path := openTest(t)
	tab := keyN("T")
	var first []change.Item
	for k := range keys {
		first = append(first, change.Item{"id": n(strconv.Itoa(k)), "num": n("1"), "s": s(strings.Repeat("p", 600)), "l": list(n("1"))})
	}
	apply(t, d, upserts(tab, first...))

	for batch := range batches {
		if batch%4 == 0 {
			d.Close()
			d = reopen(t, path)
		}
		var tcs []change.TableChanges
		for range 1 + rng.IntN(3) {
			tc := change.TableChanges{Table: tab}
			used := map[int]bool{}
			for range rng.IntN(100) {
				k := rng.IntN(keys + keys/5)
				if used[k] {
					continue
				}
				used[k] = true
				if rng.IntN(3) == 0 {
					tc.Deletes = append(tc.Deletes, del(change.Item{"id": n(strconv.Itoa(k))}))
					continue
				}
				it := change.Item{"id": n(strconv.Itoa(k)), "num": n(strconv.Itoa(rng.IntN(1000)))}
				if rng.IntN(4) > 0 {
					it["s"] = s("s" + strconv.Itoa(rng.IntN(1000)) + strings.Repeat("q", rng.IntN(700)))
				}
				if rng.IntN(4) > 0 {
					it["l"] = list(n(strconv.Itoa(rng.IntN(10))), s("x"))
				}
				if rng.IntN(4) > 0 {
					it["b"] = boolean(rng.IntN(2) == 0)
				}
				if rng.IntN(25) == 0 {
					it["c"+strconv.Itoa(batch)] = n(strconv.Itoa(k))
				}
				tc.Upserts = append(tc.Upserts, it)
			}
			tcs = append(tcs, tc)
		}
		synced := t0.Add(time.Duration(batch+1) * time.Second)
		if unseen.IntN(4) == 0 {
			before := synced.Add(-2 * time.Second)
			tcs[len(tcs)-1].DeleteUnseenBefore = &before
		}
		apply(t, d, &change.Batch{Tables: tcs, SyncedAt: synced, State: []byte(strconv.Itoa(batch))})
		image := crashImage(t, path)
		equal(t, "batch "+strconv.Itoa(batch)+": rows after a crash", dump(t, image, "T"), dump(t, d, "T"))
		image.Close()
		if t.Failed() {
			return
		}
	}
}
