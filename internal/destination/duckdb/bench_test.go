package duckdb

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamosync/dynamosync/internal/change"
)

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
		"prefs": object(map[string]types.AttributeValue{
			"lang": s("en"), "tz": s("Europe/Oslo"), "score": n("12.5"), "tags": list(s("a"), s("b")),
		}),
	}
}

// BenchmarkApply applies batches of 2,000 items of about 500 bytes each.
// "insert" writes new keys, as a snapshot does; "replace" rewrites keys
// already present, as change capture does; "delete" deletes keys already
// present, every other one by TTL.
func BenchmarkApply(b *testing.B) {
	for _, mode := range []string{"insert", "replace", "delete"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			d, err := Open(ctx, filepath.Join(b.TempDir(), "bench.duckdb"), testSchema, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			tab := keyS("Customers")
			batch := func(i int) *change.Batch {
				items := make([]change.Item, benchBatch)
				for j := range items {
					k := i*benchBatch + j
					if mode != "insert" {
						k %= 10 * benchBatch
					}
					items[j] = benchItem(k)
				}
				bt := upserts(tab, items...)
				if mode == "delete" {
					bt.Tables[0].Upserts = nil
					for j, item := range items {
						bt.Tables[0].Deletes = append(bt.Tables[0].Deletes,
							change.Delete{Key: change.Item{"id": item["id"]}, TTLExpired: j%2 == 0})
					}
				}
				bt.State = []byte(`{"segment":` + strconv.Itoa(i) + `}`)
				return bt
			}
			// Create the table first; "replace" and "delete" start with 10
			// batches of keys.
			if mode != "insert" {
				for i := range 10 {
					bt := batch(i)
					bt.Tables[0].Deletes = nil
					bt.Tables[0].Upserts = make([]change.Item, benchBatch)
					for j := range benchBatch {
						bt.Tables[0].Upserts[j] = benchItem(i*benchBatch + j)
					}
					apply(b, d, bt)
				}
			} else {
				apply(b, d, upserts(tab, benchItem(1<<40)))
			}
			batches := make([]*change.Batch, 0, b.N)
			for i := range b.N {
				batches = append(batches, batch(i))
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
