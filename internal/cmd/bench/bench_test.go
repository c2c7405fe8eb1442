package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseSummary(t *testing.T) {
	out := `            TABLE  SNAPSHOT ITEMS  SEGMENTS  UPSERTS  DELETES  LAG S  SECONDS  ITEMS/S  READ UNITS         STATUS
        bench_cdc               0         -    90000    10000    0.0     20.0     5000         0.0    ok (stream)
      bench_large         1000000        15        0        0    0.0    185.2     5399     61050.0  ok (snapshot)
       bench_odd               10         x        0        0    0.0      1.0       10         1.0  ok (snapshot)
 TOTAL (2 tables)         1000000              90000    10000            206.4     4673     61050.0
`
	for _, tc := range []struct {
		table string
		want  summaryRow
		err   bool
	}{
		{table: "bench_cdc", want: summaryRow{Upserts: 90000, Deletes: 10000, Seconds: 20, Status: "ok (stream)"}},
		{table: "bench_large", want: summaryRow{Items: 1000000, Segments: 15, Seconds: 185.2, ReadUnits: 61050, Status: "ok (snapshot)"}},
		{table: "bench_odd", err: true}, // SEGMENTS neither a number nor "-"
		{table: "other", err: true},
	} {
		row, err := parseSummary(out, tc.table)
		switch {
		case tc.err && err == nil:
			t.Errorf("%s: no error, row %+v", tc.table, row)
		case !tc.err && err != nil:
			t.Errorf("%s: %v", tc.table, err)
		case !tc.err && row != tc.want:
			t.Errorf("%s: got %+v, want %+v", tc.table, row, tc.want)
		}
	}
}

func TestParseSegmentList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		err  bool
	}{
		{in: "", want: nil},
		{in: "  ", want: nil},
		{in: "1,2,4,8,16,32", want: []int{1, 2, 4, 8, 16, 32}},
		{in: " 16, 4 ,1", want: []int{16, 4, 1}},
		{in: "7", want: []int{7}},
		{in: "1000000", want: []int{1000000}},
		{in: "0", err: true},
		{in: "-4", err: true},
		{in: "1000001", err: true},
		{in: "1,,2", err: true},
		{in: "1,2,", err: true},
		{in: "four", err: true},
		{in: "4,4", err: true},
	} {
		got, err := parseSegmentList(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("parseSegmentList(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseSegmentList(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if back := segmentList(got); back != strings.Join(strings.Fields(strings.ReplaceAll(tc.in, ",", " ")), ",") {
			t.Errorf("segmentList(%v) = %q", got, back)
		}
	}
}

func TestParseFlagsScale(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		sweep []int
		large int
		err   bool
	}{
		{args: nil, sweep: []int{1, 4, 16, 64}, large: 1000000},
		{args: []string{"-sweep", "", "-large-items", "0"}, sweep: nil, large: 0},
		{args: []string{"-sweep", "1,4,16", "-large-items", "60000"}, sweep: []int{1, 4, 16}, large: 60000},
		{args: []string{"-sweep", "1,0"}, err: true},
		{args: []string{"-large-items", "-1"}, err: true},
	} {
		o, err := parseFlags(append([]string{"-endpoint", "http://127.0.0.1:8000"}, tc.args...), io.Discard)
		if tc.err {
			if err == nil {
				t.Errorf("%v: no error", tc.args)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if !slices.Equal(o.sweep, tc.sweep) || o.largeItems != tc.large {
			t.Errorf("%v: sweep %v, large items %d; want %v, %d", tc.args, o.sweep, o.largeItems, tc.sweep, tc.large)
		}
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
	for _, want := range []string{"*PostgreSQL*", "`-postgres`", "on the same machine", "`SELECT version()`", "*PostgreSQL ÷ DuckDB*", "`scripts/ensure-postgres`",
		"measures four things", "`-sweep`", "`-large-items`", "**2. Snapshot at scale.**", "`TableSizeBytes`", "*peak RSS ÷ part 1*",
		"**Targets.**", "1 MB = 1,000,000 bytes", "*misses by*"} {
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

// TestBenchmarksIntro: BENCHMARKS.md starts with defaultIntro, so that a
// new file and the repository's read the same.
func TestBenchmarksIntro(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "BENCHMARKS.md"))
	if err != nil {
		t.Skip(err)
	}
	text := string(data)
	i := strings.Index(text, "\n"+resultsHeading+"\n")
	if i < 0 {
		t.Fatalf("BENCHMARKS.md has no %q heading", resultsHeading)
	}
	if got := text[:i+1]; got != defaultIntro {
		t.Errorf("the intro of BENCHMARKS.md differs from defaultIntro:\n%s", got)
	}
}

// testReport is a report of one snapshot round: bound 10,000 items/s,
// DuckDB 8,000, PostgreSQL 6,000 (when withPostgres); a segment sweep of 1,
// 4 and 16 segments (3,000, 10,000 and 15,000 items/s); and a snapshot at
// scale of 300,000 items: bound 5,000 items/s, sync 4,000, peak RSS 330 MiB
// against part 1's 300 MiB, read units ×1.02.
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
		}},
		Requests: 16,
		Sweep: []sweepScan{
			{Segments: 1, Scan: scanResult{Items: items, Duration: 20 * time.Second}},
			{Segments: 4, Scan: scanResult{Items: items, Duration: 6 * time.Second}},
			{Segments: 16, Scan: scanResult{Items: items, Duration: 4 * time.Second}},
		}}
	o.sweep, o.largeItems = []int{1, 4, 16}, 300000
	large := &largeResult{Items: 300000, ItemBytes: 150e6, DescribedBytes: 151e6, Segments: 5, MinUnits: 1000, Load: 30 * time.Second,
		Bound: scanResult{Items: 300000, Duration: time.Minute, CPU: time.Second},
		Sync: syncRun{Wall: 75 * time.Second, CPU: 2 * time.Second, MaxRSS: 330 << 20,
			Summary: summaryRow{Items: 300000, Segments: 5, Seconds: 74.5, ReadUnits: 1020, Status: "ok (snapshot)"}},
		Live: 300000}
	if withPostgres {
		o.postgres = "postgres://postgres:secret@127.0.0.1:5432/test?sslmode=disable"
		s.Postgres = "PostgreSQL 15.20"
		s.Rounds[0].PG, s.Rounds[0].PGLive = sync(10*time.Second, 120), items
	}
	return &report{opts: o, started: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), took: time.Minute,
		machine:  machine{CPUs: 2, Memory: "8.0 GiB", Model: "CPU", Commit: "abc", Go: "go1"},
		snapshot: s,
		large:    large,
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

func TestMarkdownSweep(t *testing.T) {
	md := testReport(false).markdown()
	for _, want := range []string{
		"-segments 4 -rounds 1 -sweep 1,4,16 -large-items 300000 -changes 100",
		"(at most 16 requests in flight, as dynamosync's `MAX_PARALLEL_REQUESTS` allows by default; ÷ bound divides by the mean of the rounds' bounds at 4 segments, 10,000 items/s):",
		"| segments | bare Scan | seconds | ÷ bound |",
		"| 1 | 3,000 items/s | 20.0 s | 0.30 |\n| 4 | 10,000 items/s | 6.0 s | 1.00 |\n| 16 | 15,000 items/s | 4.0 s | 1.50 |\n",
		"With `TOTAL_SEGMENTS` 0 dynamosync scans this table in 4 segments (one per 8 MiB of the items' 30 MB, at least 1 and at most 1,000).",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the markdown lacks %q:\n%s", want, md)
		}
	}

	r := testReport(false)
	r.opts.sweep, r.snapshot.Sweep = nil, nil
	md = r.markdown()
	if strings.Contains(md, "| segments |") || !strings.Contains(md, "-sweep '' -large-items") {
		t.Errorf("a run without a sweep:\n%s", md)
	}
}

func TestMarkdownLarge(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*report)
		want   []string
		not    []string
	}{
		{
			name: "described size, same segments",
			want: []string{
				"### 2. Snapshot at scale: 300,000 items, 150 MB, 5 segments (dynamosync's choice)",
				"| bound: bare Scan | sync: whole process | sync ÷ bound | sync: table (summary) | peak RSS | peak RSS ÷ part 1 | CPU: sync (bound) | read units (least 1,000.0) |",
				"| 5,000 items/s (60.0 s) | 4,000 items/s (75.0 s) | **0.80** | 4,026 items/s (74.5 s) | 330 MiB (346.0 MB) | **×1.10** | 2.0 s (1.0 s) | 1,020.0 (×1.02) |",
				"`DescribeTable` reports 151,000,000 bytes (`TableSizeBytes`; the items' own size is 150,000,000 bytes), so with `TOTAL_SEGMENTS` 0 dynamosync scans the table in 5 segments",
				"The sync, with `TOTAL_SEGMENTS` 0, chose the same 5.",
				"(300 MiB at 60,000 items)",
				"Loading the table took 30.0 s (10,000 items/s). The destination held exactly 300,000 live rows.",
				"### 3. Change capture from a backlog",
				"### 4. Follow-mode lag",
			},
			not: []string{"reports no size", "**The sync"},
		},
		{
			name: "no described size, other segments",
			change: func(r *report) {
				r.large.DescribedBytes, r.large.Sync.Summary.Segments = 0, 1
			},
			want: []string{
				"`DescribeTable` reports no size (`TableSizeBytes` 0), so the segment count comes from the items' own size, 150,000,000 bytes: 5 segments",
				"**The sync, with `TOTAL_SEGMENTS` 0, chose 1 segment, not 5.**",
			},
			not: []string{"chose the same"},
		},
		{
			name:   "one segment",
			change: func(r *report) { r.large.Segments, r.large.Sync.Summary.Segments = 1, 1 },
			want: []string{
				"### 2. Snapshot at scale: 300,000 items, 150 MB, 1 segment (dynamosync's choice)",
				"dynamosync scans the table in 1 segment (one per 8 MiB)",
				"The sync, with `TOTAL_SEGMENTS` 0, chose the same 1.",
			},
			not: []string{"1 segments"},
		},
		{
			name:   "skipped",
			change: func(r *report) { r.large, r.opts.largeItems = nil, 0 },
			want:   []string{"### 2. Snapshot at scale\n\nNot measured (`-large-items 0`).\n\n### 3. Change capture", "-large-items 0 -changes"},
			not:    []string{"peak RSS ÷ part 1"},
		},
	} {
		r := testReport(false)
		if tc.change != nil {
			tc.change(r)
		}
		md := r.markdown()
		for _, want := range tc.want {
			if !strings.Contains(md, want) {
				t.Errorf("%s: the markdown lacks %q:\n%s", tc.name, want, md)
			}
		}
		for _, not := range tc.not {
			if strings.Contains(md, not) {
				t.Errorf("%s: the markdown has %q:\n%s", tc.name, not, md)
			}
		}
	}
}

func TestTargets(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*report)
		want   []target
	}{
		{
			name: "test report",
			want: []target{
				{"snapshot into DuckDB ≥ 0.9 × bound (sync ÷ bound, whole process)", "lowest 0.80, mean 0.80 (1 round of 60,000 items); 0.80 at 300,000 items", "misses by 0.10"},
				{"peak RSS ≤ 200 MB at 300,000 items and ≤ 1.20 × at 60,000 items", "346.0 MB; ×1.10 of 314.6 MB", "misses by 146.0 MB"},
				{"read units ≤ 1.05 × the least (table bytes ÷ 4 KB × 0.5)", "largest ×1.02 (2 DuckDB snapshot syncs)", "holds"},
			},
		},
		{
			name: "all hold",
			change: func(r *report) {
				r.snapshot.Rounds[0].Sync.Wall = 6500 * time.Millisecond
				r.snapshot.Rounds[0].Sync.MaxRSS = 140e6
				r.large.Sync.Wall, r.large.Sync.MaxRSS = 65*time.Second, 150e6
			},
			want: []target{
				{"snapshot into DuckDB ≥ 0.9 × bound (sync ÷ bound, whole process)", "lowest 0.92, mean 0.92 (1 round of 60,000 items); 0.92 at 300,000 items", "holds"},
				{"peak RSS ≤ 200 MB at 300,000 items and ≤ 1.20 × at 60,000 items", "150.0 MB; ×1.07 of 140.0 MB", "holds"},
				{"read units ≤ 1.05 × the least (table bytes ÷ 4 KB × 0.5)", "largest ×1.02 (2 DuckDB snapshot syncs)", "holds"},
			},
		},
		{
			name: "the scale part misses",
			change: func(r *report) {
				r.snapshot.Rounds[0].Sync.Wall = 6500 * time.Millisecond
				r.snapshot.Rounds[0].Sync.MaxRSS = 100e6
				r.large.Sync.MaxRSS, r.large.Sync.Summary.ReadUnits = 190e6, 1100
			},
			want: []target{
				{"snapshot into DuckDB ≥ 0.9 × bound (sync ÷ bound, whole process)", "lowest 0.92, mean 0.92 (1 round of 60,000 items); 0.80 at 300,000 items", "misses by 0.10"},
				{"peak RSS ≤ 200 MB at 300,000 items and ≤ 1.20 × at 60,000 items", "190.0 MB; ×1.90 of 100.0 MB", "misses by 0.70 in the ratio"},
				{"read units ≤ 1.05 × the least (table bytes ÷ 4 KB × 0.5)", "largest ×1.10 (2 DuckDB snapshot syncs)", "misses by 0.05"},
			},
		},
		{
			name: "memory misses twice, barely slower",
			change: func(r *report) {
				r.snapshot.Rounds[0].Sync.Wall = 6670 * time.Millisecond
				r.snapshot.Rounds[0].Sync.MaxRSS = 100e6
				r.large.Sync.Wall, r.large.Sync.MaxRSS = 65*time.Second, 300e6
			},
			want: []target{
				{"snapshot into DuckDB ≥ 0.9 × bound (sync ÷ bound, whole process)", "lowest 0.90, mean 0.90 (1 round of 60,000 items); 0.92 at 300,000 items", "misses by 0.0004"},
				{"peak RSS ≤ 200 MB at 300,000 items and ≤ 1.20 × at 60,000 items", "300.0 MB; ×3.00 of 100.0 MB", "misses by 100.0 MB and by 1.80 in the ratio"},
				{"read units ≤ 1.05 × the least (table bytes ÷ 4 KB × 0.5)", "largest ×1.02 (2 DuckDB snapshot syncs)", "holds"},
			},
		},
		{
			name:   "no scale part",
			change: func(r *report) { r.large = nil },
			want: []target{
				{"snapshot into DuckDB ≥ 0.9 × bound (sync ÷ bound, whole process)", "lowest 0.80, mean 0.80 (1 round of 60,000 items)", "misses by 0.10"},
				{"peak RSS ≤ 200 MB at the large size and ≤ 1.20 × at 60,000 items", "not measured (`-large-items 0`)", "–"},
				{"read units ≤ 1.05 × the least (table bytes ÷ 4 KB × 0.5)", "largest ×1.00 (1 DuckDB snapshot sync)", "holds"},
			},
		},
	} {
		r := testReport(false)
		if tc.change != nil {
			tc.change(r)
		}
		got := r.targets()
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s:\ngot  %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestMarkdownTargets(t *testing.T) {
	md := testReport(false).markdown()
	want := "-follow-commit-interval 200ms`.\n\nTargets (MB = 1,000,000 bytes):\n\n| target | measured | verdict |\n|---|---|---|\n" +
		"| snapshot into DuckDB ≥ 0.9 × bound (sync ÷ bound, whole process) | lowest 0.80, mean 0.80 (1 round of 60,000 items); 0.80 at 300,000 items | misses by 0.10 |\n" +
		"| peak RSS ≤ 200 MB at 300,000 items and ≤ 1.20 × at 60,000 items | 346.0 MB; ×1.10 of 314.6 MB | misses by 146.0 MB |\n" +
		"| read units ≤ 1.05 × the least (table bytes ÷ 4 KB × 0.5) | largest ×1.02 (2 DuckDB snapshot syncs) | holds |\n\n### 1. Snapshot"
	if !strings.Contains(md, want) {
		t.Errorf("the markdown lacks the targets after the flags:\n%s", md)
	}
}
