package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseSummary(t *testing.T) {
	out := `            TABLE  SNAPSHOT ITEMS  SEGMENTS  UPSERTS  DELETES  LAG S  SECONDS  ITEMS/S  READ UNITS         STATUS
        bench_cdc               0         -    90000    10000    0.0     20.0     5000         0.0    ok (stream)
 TOTAL (1 tables)               0              90000    10000             21.4     4673         0.0
`
	row, err := parseSummary(out, "bench_cdc")
	if err != nil {
		t.Fatal(err)
	}
	want := summaryRow{Upserts: 90000, Deletes: 10000, Seconds: 20, Status: "ok (stream)"}
	if row != want {
		t.Fatalf("got %+v, want %+v", row, want)
	}
	if _, err := parseSummary(out, "other"); err == nil {
		t.Fatal("a missing table is not an error")
	}
}

// Every BatchWriteItem request must name distinct keys, deletes must
// remove distinct items that exist, and the counts must match.
func TestChanges(t *testing.T) {
	const items, changes = 1000, 5003
	deleted := map[int]bool{}
	inserts := 0
	for first := 0; first < changes; first += 25 {
		keys := map[int]bool{}
		for j := first; j < min(first+25, changes); j++ {
			idx, del := changeAt(j, items, changes)
			if keys[idx] {
				t.Fatalf("change %d: key %d twice in one request", j, idx)
			}
			keys[idx] = true
			switch {
			case del:
				if idx >= items || deleted[idx] {
					t.Fatalf("change %d deletes item %d", j, idx)
				}
				deleted[idx] = true
			case idx >= items:
				inserts++
			case deleted[idx] || idx < deletesOf(changes):
				t.Fatalf("change %d puts item %d, which is deleted", j, idx)
			}
		}
	}
	if len(deleted) != deletesOf(changes) || inserts != insertsOf(changes) {
		t.Fatalf("%d deletes, %d inserts; want %d, %d", len(deleted), inserts, deletesOf(changes), insertsOf(changes))
	}
}

func TestWriteResults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := writeResults(path, resultsHeading+"\n\nRESULTS-ONE\n"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), defaultIntro) {
		t.Fatal("a new file does not start with the intro")
	}
	edited := strings.Replace(string(data), "# Benchmarks", "# Benchmarks (edited)", 1)
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeResults(path, resultsHeading+"\n\nRESULTS-TWO\n"); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	got := string(data)
	if !strings.HasPrefix(got, "# Benchmarks (edited)") || strings.Contains(got, "RESULTS-ONE") || !strings.HasSuffix(got, "RESULTS-TWO\n") {
		t.Fatalf("results not replaced, intro not kept:\n%s", got)
	}
}

func TestSummarise(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := summarise(ds)
	if l.N != 100 || l.P50 != 50*time.Millisecond || l.P95 != 95*time.Millisecond || l.Max != 100*time.Millisecond {
		t.Fatalf("got %+v", l)
	}
	if thousands(1234567) != "1,234,567" || thousands(999) != "999" || decimal(12215, 1) != "12,215.0" {
		t.Fatal("number formatting")
	}
}
