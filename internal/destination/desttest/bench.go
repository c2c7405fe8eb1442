package desttest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamosync/dynamosync/internal/change"
)

// benchBatch is the items of one benchmark batch.
const benchBatch = 2000

// benchItem is an item of about 500 bytes: a few strings, numbers, a
// decimal and a small map.
func benchItem(k int) change.Item {
	return change.Item{
		"id":      s(fmt.Sprintf("customer#%012d", k)),
		"name":    s("Customer " + strconv.Itoa(k) + " " + strings.Repeat("n", 40)),
		"email":   s("customer" + strconv.Itoa(k) + "@example.com"),
		"address": s(strings.Repeat("street ", 12) + strconv.Itoa(k)),
		"notes":   s(strings.Repeat("lorem ipsum ", 10)),
		"age":     n(strconv.Itoa(18 + k%60)),
		"visits":  n(strconv.Itoa(k * 7)),
		"created": n(strconv.Itoa(1700000000 + k)),
		"balance": n(strconv.Itoa(k%100000) + "." + fmt.Sprintf("%02d", k%100)),
		"active":  boolean(k%2 == 0),
		"prefs": m(map[string]types.AttributeValue{
			"lang": s("en"), "tz": s("Europe/Oslo"), "score": n("12.5"), "tags": l(s("a"), s("b")),
		}),
	}
}

// BenchmarkApply applies batches of 2,000 items of about 500 bytes each to
// a destination open returns (a new, empty one for each sub-benchmark).
// "insert" writes new keys, as a snapshot does; "replace" rewrites keys
// already present, as change capture does; "delete" deletes keys already
// present, every other one by TTL. It reports items/s.
func BenchmarkApply(b *testing.B, open func(b *testing.B) Destination) {
	tab := change.Table{Name: "Customers", Key: []change.KeyAttribute{{Name: "id", Type: change.KeyString}}}
	for _, mode := range []string{"insert", "replace", "delete"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			d := open(b)
			at := time.Now()
			batch := func(i int, items []change.Item) *change.Batch {
				tc := change.TableChanges{Table: tab, Upserts: items}
				if mode == "delete" && items == nil {
					for j := range benchBatch {
						k := (i*benchBatch + j) % (10 * benchBatch)
						tc.Deletes = append(tc.Deletes, change.Delete{Key: change.Item{"id": benchItem(k)["id"]}, TTLExpired: j%2 == 0})
					}
				}
				return &change.Batch{Tables: []change.TableChanges{tc}, SyncedAt: at, State: []byte(`{"segment":` + strconv.Itoa(i) + `}`)}
			}
			items := func(i int) []change.Item {
				out := make([]change.Item, benchBatch)
				for j := range out {
					k := i*benchBatch + j
					if mode != "insert" {
						k %= 10 * benchBatch
					}
					out[j] = benchItem(k)
				}
				return out
			}
			// Create the table first; "replace" and "delete" start with 10
			// batches of keys.
			setup := []*change.Batch{batch(0, []change.Item{benchItem(1 << 40)})}
			if mode != "insert" {
				setup = setup[:0]
				for i := range 10 {
					setup = append(setup, batch(i, items(i)))
				}
			}
			for _, bt := range setup {
				if err := d.Apply(ctx, bt); err != nil {
					b.Fatal(err)
				}
			}
			batches := make([]*change.Batch, 0, b.N)
			for i := range b.N {
				if mode == "delete" {
					batches = append(batches, batch(i, nil))
				} else {
					batches = append(batches, batch(i, items(i)))
				}
			}
			b.ResetTimer()
			for _, bt := range batches {
				if err := d.Apply(ctx, bt); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
