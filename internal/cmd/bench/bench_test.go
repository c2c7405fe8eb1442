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

// TestWriteResultsIntro: a new file starts with defaultIntro, which
// describes the PostgreSQL part, and then the results.
func TestWriteResultsIntro(t *testing.T) {
	intro := strings.Join(strings.Fields(defaultIntro), " ")
	for _, want := range []string{"*PostgreSQL*", "`-postgres`", "on the same machine", "`SELECT version()`", "*PostgreSQL ÷ DuckDB*", "`scripts/ensure-postgres`"} {
		if !strings.Contains(intro, want) {
			t.Errorf("defaultIntro does not mention %q", want)
		}
	}

	// The results a run writes come after the intro, with the PostgreSQL
	// table.
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := writeResults(path, testReport(true).markdown()); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if got := string(data); !strings.HasPrefix(got, defaultIntro+resultsHeading+"\n") || !strings.Contains(got, "PostgreSQL ÷ DuckDB |") {
		t.Fatalf("unexpected file:\n%s", got)
	}
}

// testReport is a report of one snapshot round: bound 10,000 items/s,
// DuckDB 8,000, PostgreSQL 6,000 (when withPostgres).
func testReport(withPostgres bool) *report {
	const items = 60000
	o := &options{items: items, itemBytes: 500, segments: 4, rounds: 1, changes: 100, cdcItems: 50,
		followRate: 100, followDuration: 30 * time.Second, followFlush: 200 * time.Millisecond, source: "DynamoDB Local"}
	sync := func(wall time.Duration, rss int64) syncRun {
		return syncRun{Wall: wall, CPU: 2 * time.Second, MaxRSS: rss << 20,
			Summary: summaryRow{Items: items, Seconds: wall.Seconds() - 0.5, ReadUnits: 100, Status: "ok"}}
	}
	s := &snapshotResult{Items: items, TableBytes: 30e6, MinUnits: 100, Load: 10 * time.Second,
		Rounds: []snapshotRound{{
			Bound: scanResult{Items: items, Duration: 6 * time.Second, CPU: time.Second, Units: 100},
			Sync:  sync(7500*time.Millisecond, 300), Live: items,
		}}}
	if withPostgres {
		o.postgres = "postgres://postgres:secret@127.0.0.1:5432/test?sslmode=disable"
		s.Postgres = "PostgreSQL 15.20"
		s.Rounds[0].PG, s.Rounds[0].PGLive = sync(10*time.Second, 120), items
	}
	return &report{opts: o, started: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), took: time.Minute,
		machine:  machine{CPUs: 2, Memory: "8.0 GiB", Model: "CPU", Commit: "abc", Go: "go1"},
		snapshot: s,
		backlog: &backlogResult{Items: 50, Changes: 100, Deletes: 10, Inserts: 40, Load: time.Second,
			Snapshot: sync(time.Second, 100), Write: time.Second,
			Rounds: []backlogRound{{
				Bound: streamRead{Records: 100, Shards: 1, Pages: 2, Duration: time.Second, PacedFloor: time.Second},
				Sync:  syncRun{Wall: 2 * time.Second, Summary: summaryRow{Upserts: 90, Deletes: 10, Seconds: 1, Status: "ok"}},
			}}},
		follow: &followResult{Rate: 100, Written: 3000, Writing: 30 * time.Second, Flush: 200 * time.Millisecond,
			Lag: latencies{N: 3000, P50: 300 * time.Millisecond, P95: 600 * time.Millisecond, Max: time.Second}},
	}
}

func TestMarkdownSnapshot(t *testing.T) {
	md := testReport(true).markdown()
	for _, want := range []string{
		// The DuckDB figures stay as they were.
		"| round | bound: bare Scan | sync: whole process | sync ÷ bound | sync: table (summary) | peak RSS | CPU: sync (bound) | read units (least 100.0) |",
		"| 1 | 10,000 items/s (6.0 s) | 8,000 items/s (7.5 s) | **0.80** | 8,571 items/s (7.0 s) | 300 MiB | 2.0 s (1.0 s) | 100.0 (×1.00) |",
		// PostgreSQL: items/s, ÷ bound, ÷ DuckDB, peak RSS.
		"The same rounds into PostgreSQL (PostgreSQL 15.20 on the same machine, a new schema each):",
		"| round | bound: bare Scan | PostgreSQL: whole process | PostgreSQL ÷ bound | PostgreSQL ÷ DuckDB | PostgreSQL: table (summary) | peak RSS | CPU: PostgreSQL sync | read units |",
		"| 1 | 10,000 items/s (6.0 s) | 6,000 items/s (10.0 s) | **0.60** | **0.75** | 6,315 items/s (9.5 s) | 120 MiB | 2.0 s | 100.0 (×1.00) |",
		"; PostgreSQL 15.20 (on the same machine).",
		"-postgres postgres://postgres:xxxxx@127.0.0.1:5432/test?sslmode=disable`",
		"(DuckDB file and PostgreSQL schema) held exactly 60,000 live rows.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "secret") {
		t.Error("the markdown shows the password")
	}

	md = testReport(false).markdown()
	if strings.Contains(md, "PostgreSQL") || strings.Contains(md, "-postgres") {
		t.Errorf("PostgreSQL in the markdown of a run without it:\n%s", md)
	}
	if !strings.Contains(md, "| 1 | 10,000 items/s (6.0 s) | 8,000 items/s (7.5 s) | **0.80** |") {
		t.Errorf("the DuckDB row is missing:\n%s", md)
	}
}

func TestVersionWords(t *testing.T) {
	for in, want := range map[string]string{
		"PostgreSQL 15.20 (Debian 15.20-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc": "PostgreSQL 15.20",
		"PostgreSQL 17.2": "PostgreSQL 17.2",
		"odd":             "odd",
		"":                "",
	} {
		if got := versionWords(in); got != want {
			t.Errorf("versionWords(%q) = %q, want %q", in, got, want)
		}
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
