package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	source "github.com/dynamosync/dynamosync/internal/source/dynamodb"
)

// resultsHeading starts the section of BENCHMARKS.md that every run
// replaces; everything above it is kept.
const resultsHeading = "## Results"

// defaultIntro is the text above the results when BENCHMARKS.md does not
// exist yet (§ stands for a backquote).
var defaultIntro = strings.ReplaceAll(`# Benchmarks

§make bench§ builds §./dynamosync§, makes sure a PostgreSQL server answers
(§scripts/ensure-postgres§), starts DynamoDB Local (in memory, two instances)
and runs §go run ./internal/cmd/bench§, which measures four things and
rewrites the results section below. Every figure stands next to a bound
measured in the same run against the same DynamoDB Local, so compare the
ratios: absolute numbers depend on the machine and on DynamoDB Local, which is
far slower than DynamoDB and shares the CPUs with dynamosync. Scale it with
flags, e.g.
§make bench BENCH_FLAGS='-items 1000000 -changes 300000'§
(§go run ./internal/cmd/bench -h§ lists them).

**1. Snapshot.** A table of §-items§ items of about 500 bytes is loaded with
§BatchWriteItem§ and scanned once unmeasured. Then, twice, one after
another:

- *bound*: a bare parallel Scan of the table with the same segment count
  (§-segments§; eventually consistent, through the scanner dynamosync uses)
  that discards the items;
- *sync*: §dynamosync sync§ (the built binary, §TOTAL_SEGMENTS§ the same) into
  a new DuckDB file. *Whole process* is items ÷ the wall time of the process
  (start, discovery, scan, every commit, exit); *table* is the summary's own
  figure (the table's time only). *sync ÷ bound* divides the whole-process
  rate by the bound's. *Peak RSS* is the process's maximum resident set
  (§getrusage§); *CPU* is its user + system time, and in brackets the
  benchmark's own while it ran the bound (requests and decoding, nothing
  else). *Read units* is the capacity the summary reports, against the least
  a scan of the table consumes: table bytes ÷ 4 KB × 0.5 (eventually
  consistent).
- *PostgreSQL*: the same §dynamosync sync§ (§TOTAL_SEGMENTS§ the same) into a
  new schema, §bench_snapshot_<round>§ (dropped before and after), of the
  PostgreSQL server at §-postgres§. §make bench§ passes
  §$DYNAMOSYNC_POSTGRES_URL§, by default
  §postgres://postgres@127.0.0.1:5432/test?sslmode=disable§, the server that
  §scripts/ensure-postgres§ finds, starts or installs; it runs on the same
  machine and shares its CPUs with DynamoDB Local and dynamosync. The
  results name its version (the first two words of §SELECT version()§).
  *Whole process*, *table*, *peak RSS*, *CPU* and *read units* are as for
  the DuckDB sync; the server's own CPU and memory are not in them.
  *PostgreSQL ÷ bound* divides its whole-process rate by the bound's,
  *PostgreSQL ÷ DuckDB* by the DuckDB sync's of the same round. Without
  §-postgres§ this is not measured.

After each sync the benchmark counts the rows of the destination table (in
PostgreSQL the one §_dynamosync_tables§ names): exactly §-items§ live rows
and no deleted ones.

After the rounds, while the table still exists, the bound's bare Scan runs
once with each segment count of §-sweep§ (1, 4, 16 and 64 by default;
empty skips it). Like dynamosync, it keeps at most §MAX_PARALLEL_REQUESTS§
(8 by default) requests in flight whatever the segment count. *÷ bound*
divides each rate by the mean of the rounds' bounds. The figures show how
Scan throughput against this endpoint grows with the segment count, next to
the count dynamosync chooses with §TOTAL_SEGMENTS§ 0: one segment per 8 MiB
of the table's size, at least 1 and at most 1,000.

**2. Snapshot at scale.** A table of §-large-items§ items (1,000,000 by
default; 0 skips this part) like part 1's is loaded the same way. Its size
is §TableSizeBytes§ from §DescribeTable§ (when DynamoDB Local reports 0, the
items' own size, and the results say so), and from it the benchmark computes
the segment count dynamosync chooses with §TOTAL_SEGMENTS§ 0. After one
unmeasured scan, as in part 1, once each:

- *bound*: a bare parallel Scan with that segment count, as in part 1;
- *sync*: §dynamosync sync§ with §TOTAL_SEGMENTS§ 0, so that it chooses the
  count itself, into a new DuckDB file. The results say whether its summary
  shows the computed count. The columns are as in part 1; *peak RSS ÷ part 1*
  divides its peak RSS by the largest of part 1's DuckDB syncs.

The benchmark counts the rows as in part 1: exactly §-large-items§ live rows
and no deleted ones. DynamoDB Local serves each page of a large table more
slowly than one of a small table, so this part takes minutes.

**3. Change capture from a backlog.** A table of §-cdc-items§ items gets a
§NEW_AND_OLD_IMAGES§ stream and is snapshotted with §dynamosync sync§. Then
§-changes§ changes are written with parallel §BatchWriteItem§: of every ten,
four put new items, five put existing items and one deletes an existing item.
Then, twice, alternately:

- *bound*: a bare read of the stream (§DescribeStream§, then §GetRecords§ over
  every shard from §TRIM_HORIZON§ as fast as DynamoDB Local answers,
  discarding the records);
- *sync*: §dynamosync sync§ applying the backlog, each time to its own copy of
  the destination as the snapshot left it. *Changes/s* is the summary's
  upserts + deletes ÷ its SECONDS for the table; *whole process*, *peak RSS*
  and *CPU* are as in part 1.

dynamosync paces §GetRecords§ at 5 calls a second per shard (the rate its
code takes to be DynamoDB Streams' limit); *paced floor* is the least time
the bound's §GetRecords§ calls take at that pace (shards one after another),
so *changes ÷ paced floor* is the most a sync can reach here.

**4. Follow-mode lag.** The engine runs in the benchmark's process, built as
§dynamosync sync --follow§ builds it, with a commit interval (§FlushInterval§)
of §-follow-commit-interval§ (200 ms by default) and the DuckDB destination
wrapped in a recorder that notes, after each successful commit, the commit
time of every upserted item and how long the commit took. A writer puts items
at a steady rate (§-follow-rate§ a second for §-follow-duration§), each
carrying §written_at§ (Unix nanoseconds, set just before its §PutItem§). *Lag*
is commit time − §written_at§. DynamoDB Local is the stream source, so the lag
includes its delivery delay; *bare poller* is the time from §written_at§ until
the record first shows up to a §GetRecords§ loop polling every 50 ms at the
same time: the part of the lag that is DynamoDB Local's.

Part 4 runs against a DynamoDB Local of its own (§-follow-endpoint§): DynamoDB
Local's stream calls (§DescribeStream§, §GetRecords§, writes to a table with a
stream) slow down with every stream record it holds, so the backlog of part 3
would otherwise dominate the lag of part 4.

**Targets.** The results open with dynamosync's targets, each checked
against the figures of the run:

- a snapshot into DuckDB runs at 0.9 × the bound or faster (whole process;
  every round of part 1 and part 2);
- peak memory at part 2's size is at most 200 MB (1 MB = 1,000,000 bytes) and
  at most 1.20 × part 1's (the largest of its DuckDB syncs);
- read units are within 5% of the least (every DuckDB sync of parts 1 and 2).

A target holds when every figure it covers does; otherwise *misses by* is
the distance of the worst figure from it.

`, "§", "`")

// machine describes where the benchmark ran.
type machine struct {
	CPUs   int
	Memory string
	Model  string
	Commit string
	Go     string
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Memory: "unknown", Model: "unknown", Commit: "unknown"}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if f := strings.Fields(s.Text()); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				}
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
			m.Commit += " (with uncommitted changes)"
		}
	}
	return m
}

// report is everything one run measured.
type report struct {
	opts     *options
	started  time.Time
	took     time.Duration
	machine  machine
	snapshot *snapshotResult
	large    *largeResult // nil: not measured
	backlog  *backlogResult
	follow   *followResult
}

func (r *report) markdown() string {
	var b strings.Builder
	o, m := r.opts, r.machine
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("%s\n\n", resultsHeading)
	s := r.snapshot
	server := ""
	if s.Postgres != "" {
		server = "; " + s.Postgres + " (on the same machine)"
	}
	p("Run %s UTC at commit `%s`, in %s. Machine: %d CPUs (`nproc`), %s of memory, %s; %s; %s%s.\n\n",
		r.started.UTC().Format("2006-01-02 15:04"), m.Commit, r.took.Round(time.Second), m.CPUs, m.Memory, m.Model, m.Go, o.source, server)
	pgFlag := ""
	if o.postgres != "" {
		pgFlag = " -postgres " + redactURL(o.postgres)
	}
	sweep := segmentList(o.sweep)
	if sweep == "" {
		sweep = "''"
	}
	p("Flags: `-items %d -item-bytes %d -segments %d -rounds %d -sweep %s -large-items %d -changes %d -cdc-items %d -follow-rate %d -follow-duration %s -follow-commit-interval %s%s`.\n\n",
		o.items, o.itemBytes, o.segments, o.rounds, sweep, o.largeItems, o.changes, o.cdcItems, o.followRate, o.followDuration, o.followFlush, pgFlag)

	p("Targets (MB = 1,000,000 bytes):\n\n")
	p("| target | measured | verdict |\n")
	p("|---|---|---|\n")
	for _, t := range r.targets() {
		p("| %s | %s | %s |\n", t.Name, t.Measured, t.Verdict)
	}
	p("\n")

	p("### 1. Snapshot: %s items, %s MB, %d segments\n\n", thousands(int64(s.Items)), mb(s.TableBytes), o.segments)
	if s.Postgres != "" {
		p("Into DuckDB (a new file each round):\n\n")
	}
	p("| round | bound: bare Scan | sync: whole process | sync ÷ bound | sync: table (summary) | peak RSS | CPU: sync (bound) | read units (least %s) |\n", decimal(s.MinUnits, 1))
	p("|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, rd := range s.Rounds {
		bound := rate(rd.Bound.Items, rd.Bound.Duration)
		whole := rate(rd.Sync.Summary.Items, rd.Sync.Wall)
		table := float64(rd.Sync.Summary.Items) / rd.Sync.Summary.Seconds
		p("| %d | %s items/s (%.1f s) | %s items/s (%.1f s) | **%.2f** | %s items/s (%.1f s) | %s MiB | %.1f s (%.1f s) | %s (×%.2f) |\n",
			i+1, thousands(int64(bound)), rd.Bound.Duration.Seconds(), thousands(int64(whole)), rd.Sync.Wall.Seconds(),
			whole/bound, thousands(int64(table)), rd.Sync.Summary.Seconds, thousands(rd.Sync.MaxRSS>>20),
			rd.Sync.CPU.Seconds(), rd.Bound.CPU.Seconds(), decimal(rd.Sync.Summary.ReadUnits, 1), rd.Sync.Summary.ReadUnits/s.MinUnits)
	}
	if s.Postgres != "" {
		p("\nThe same rounds into PostgreSQL (%s on the same machine, a new schema each):\n\n", s.Postgres)
		p("| round | bound: bare Scan | PostgreSQL: whole process | PostgreSQL ÷ bound | PostgreSQL ÷ DuckDB | PostgreSQL: table (summary) | peak RSS | CPU: PostgreSQL sync | read units |\n")
		p("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for i, rd := range s.Rounds {
			bound := rate(rd.Bound.Items, rd.Bound.Duration)
			duck := rate(rd.Sync.Summary.Items, rd.Sync.Wall)
			whole := rate(rd.PG.Summary.Items, rd.PG.Wall)
			table := float64(rd.PG.Summary.Items) / rd.PG.Summary.Seconds
			p("| %d | %s items/s (%.1f s) | %s items/s (%.1f s) | **%.2f** | **%.2f** | %s items/s (%.1f s) | %s MiB | %.1f s | %s (×%.2f) |\n",
				i+1, thousands(int64(bound)), rd.Bound.Duration.Seconds(), thousands(int64(whole)), rd.PG.Wall.Seconds(),
				whole/bound, whole/duck, thousands(int64(table)), rd.PG.Summary.Seconds, thousands(rd.PG.MaxRSS>>20),
				rd.PG.CPU.Seconds(), decimal(rd.PG.Summary.ReadUnits, 1), rd.PG.Summary.ReadUnits/s.MinUnits)
		}
	}
	held := "Every sync's destination"
	if s.Postgres != "" {
		held = "Every sync's destination (DuckDB file and PostgreSQL schema)"
	}
	p("\nLoading the table took %.1f s (%s items/s). %s held exactly %s live rows.\n\n",
		s.Load.Seconds(), thousands(int64(rate(int64(s.Items), s.Load))), held, thousands(int64(s.Items)))
	r.sweepMarkdown(&b)
	r.largeMarkdown(&b)

	c := r.backlog
	p("### 3. Change capture from a backlog: %s changes on a table of %s items\n\n", thousands(int64(c.Changes)), thousands(int64(c.Items)))
	p("| round | bound: bare stream read | sync: changes/s (summary) | sync ÷ bound | changes ÷ paced floor | sync ÷ paced ceiling | whole process | peak RSS | CPU: sync (bound) |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, rd := range c.Rounds {
		bound := rate(rd.Bound.Records, rd.Bound.Duration)
		sum := rd.Sync.Summary
		changes := float64(sum.Changes()) / sum.Seconds
		ceiling := rate(rd.Bound.Records, rd.Bound.PacedFloor)
		p("| %d | %s records/s (%.1f s; %d shard%s, %s pages) | %s changes/s (%.1f s; %s upserts, %s deletes) | **%.2f** | %s changes/s (%.1f s) | %.2f | %.1f s | %s MiB | %.1f s (%.1f s) |\n",
			i+1, thousands(int64(bound)), rd.Bound.Duration.Seconds(), rd.Bound.Shards, plural(rd.Bound.Shards), thousands(rd.Bound.Pages),
			thousands(int64(changes)), sum.Seconds, thousands(sum.Upserts), thousands(sum.Deletes),
			changes/bound, thousands(int64(ceiling)), rd.Bound.PacedFloor.Seconds(), changes/ceiling,
			rd.Sync.Wall.Seconds(), thousands(rd.Sync.MaxRSS>>20), rd.Sync.CPU.Seconds(), rd.Bound.CPU.Seconds())
	}
	p("\nLoading the table took %.1f s, its snapshot sync %.1f s (%s items/s whole process); writing the changes took %.1f s (%s changes/s). Every backlog sync left exactly %s live and %s deleted rows.\n\n",
		c.Load.Seconds(), c.Snapshot.Wall.Seconds(), thousands(int64(rate(int64(c.Items), c.Snapshot.Wall))),
		c.Write.Seconds(), thousands(int64(rate(int64(c.Changes), c.Write))),
		thousands(int64(c.Items-c.Deletes+c.Inserts)), thousands(int64(c.Deletes)))

	f := r.follow
	p("### 4. Follow-mode lag: %d items/s for %s, commit interval %s\n\n", f.Rate, o.followDuration, f.Flush)
	p("| | count | p50 | p95 | max |\n")
	p("|---|---:|---:|---:|---:|\n")
	p("| lag: PutItem → committed in DuckDB | %s | %s | %s | %s |\n", thousands(int64(f.Lag.N)), ms(f.Lag.P50), ms(f.Lag.P95), ms(f.Lag.Max))
	if f.Probed {
		p("| bare poller: PutItem → first GetRecords that returns it | %s | %s | %s | %s |\n", thousands(int64(f.Probe.N)), ms(f.Probe.P50), ms(f.Probe.P95), ms(f.Probe.Max))
		p("| lag ÷ bare poller | | %.1f | %.1f | %.1f |\n", ratio(f.Lag.P50, f.Probe.P50), ratio(f.Lag.P95, f.Probe.P95), ratio(f.Lag.Max, f.Probe.Max))
	}
	p("| destination transactions (Apply) | %s | %s | %s | %s |\n", thousands(int64(f.Apply.N)), ms(f.Apply.P50), ms(f.Apply.P95), ms(f.Apply.Max))
	p("\n%s items were written in %.1f s (%.0f/s); the engine committed them in %d transactions of %.1f changes on average. DynamoDB Local is the stream source: the lag includes its delivery delay (the bare poller's figures). dynamosync reads each shard at most %d times a second and then gathers changes for the commit interval before it commits.\n",
		thousands(int64(f.Written)), f.Writing.Seconds(), rate(int64(f.Written), f.Writing), f.Batches,
		float64(f.BatchChanges)/float64(max(f.Batches, 1)), source.ShardRate)
	return b.String()
}

// sweepMarkdown writes part 1's segment sweep, if it ran.
func (r *report) sweepMarkdown(b *strings.Builder) {
	s := r.snapshot
	if len(s.Sweep) == 0 {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	bound := s.BoundRate()
	p("The bare Scan of the same table once with each segment count, after the rounds (at most %d requests in flight, as dynamosync's `MAX_PARALLEL_REQUESTS` allows by default; ÷ bound divides by the mean of the rounds' bounds at %d segments, %s items/s):\n\n",
		s.Requests, r.opts.segments, thousands(int64(bound)))
	p("| segments | bare Scan | seconds | ÷ bound |\n")
	p("|---:|---:|---:|---:|\n")
	for _, w := range s.Sweep {
		v := rate(w.Scan.Items, w.Scan.Duration)
		p("| %d | %s items/s | %.1f s | %.2f |\n", w.Segments, thousands(int64(v)), w.Scan.Duration.Seconds(), v/bound)
	}
	n := source.Segments(s.TableBytes)
	p("\nWith `TOTAL_SEGMENTS` 0 dynamosync scans this table in %d segment%s (one per 8 MiB of the items' %s MB, at least 1 and at most 1,000).\n\n",
		n, plural(n), mb(s.TableBytes))
}

// largeMarkdown writes part 2.
func (r *report) largeMarkdown(b *strings.Builder) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	l := r.large
	if l == nil {
		p("### 2. Snapshot at scale\n\nNot measured (`-large-items 0`).\n\n")
		return
	}
	p("### 2. Snapshot at scale: %s items, %s MB, %d segment%s (dynamosync's choice)\n\n", thousands(int64(l.Items)), mb(l.ItemBytes), l.Segments, plural(l.Segments))
	p("| bound: bare Scan | sync: whole process | sync ÷ bound | sync: table (summary) | peak RSS | peak RSS ÷ part 1 | CPU: sync (bound) | read units (least %s) |\n", decimal(l.MinUnits, 1))
	p("|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	bound := rate(l.Bound.Items, l.Bound.Duration)
	whole := rate(l.Sync.Summary.Items, l.Sync.Wall)
	table := float64(l.Sync.Summary.Items) / l.Sync.Summary.Seconds
	p("| %s items/s (%.1f s) | %s items/s (%.1f s) | **%.2f** | %s items/s (%.1f s) | %s MiB (%s MB) | **×%.2f** | %.1f s (%.1f s) | %s (×%.2f) |\n",
		thousands(int64(bound)), l.Bound.Duration.Seconds(), thousands(int64(whole)), l.Sync.Wall.Seconds(),
		whole/bound, thousands(int64(table)), l.Sync.Summary.Seconds, thousands(l.Sync.MaxRSS>>20), decimal(float64(l.Sync.MaxRSS)/1e6, 1),
		r.rssGrowth(), l.Sync.CPU.Seconds(), l.Bound.CPU.Seconds(), decimal(l.Sync.Summary.ReadUnits, 1), l.Sync.Summary.ReadUnits/l.MinUnits)
	if l.DescribedBytes > 0 {
		p("\n`DescribeTable` reports %s bytes (`TableSizeBytes`; the items' own size is %s bytes), so with `TOTAL_SEGMENTS` 0 dynamosync scans the table in %d segment%s (one per 8 MiB); the bound used that count. ",
			thousands(l.DescribedBytes), thousands(l.ItemBytes), l.Segments, plural(l.Segments))
	} else {
		p("\n`DescribeTable` reports no size (`TableSizeBytes` 0), so the segment count comes from the items' own size, %s bytes: %d segment%s (one per 8 MiB); the bound used that count. ",
			thousands(l.ItemBytes), l.Segments, plural(l.Segments))
	}
	if got := l.Sync.Summary.Segments; got == l.Segments {
		p("The sync, with `TOTAL_SEGMENTS` 0, chose the same %d.", got)
	} else {
		p("**The sync, with `TOTAL_SEGMENTS` 0, chose %d segment%s, not %d.**", got, plural(got), l.Segments)
	}
	p(" *Peak RSS ÷ part 1* divides by the largest peak RSS of part 1's DuckDB syncs (%s MiB at %s items).\n\n",
		thousands(r.snapshot.MaxRSS()>>20), thousands(int64(r.snapshot.Items)))
	p("Loading the table took %.1f s (%s items/s). The destination held exactly %s live rows.\n\n",
		l.Load.Seconds(), thousands(int64(rate(int64(l.Items), l.Load))), thousands(int64(l.Items)))
}

// rssGrowth is part 2's peak RSS ÷ the largest of part 1's DuckDB syncs.
func (r *report) rssGrowth() float64 {
	if r.large == nil {
		return 0
	}
	base := r.snapshot.MaxRSS()
	if base <= 0 {
		return 0
	}
	return float64(r.large.Sync.MaxRSS) / float64(base)
}

// The product's targets the results check.
const (
	// targetBound: a snapshot into DuckDB runs at least this fraction of
	// the bound (whole process).
	targetBound = 0.9
	// targetRSS: peak RSS at part 2's size, at most (MB = 10^6 bytes).
	targetRSS = 200e6
	// targetRSSGrowth: part 2's peak RSS ÷ part 1's, at most.
	targetRSSGrowth = 1.20
	// targetUnits: read units ÷ the least, at most.
	targetUnits = 1.05
)

// target is one row of the targets table.
type target struct {
	Name, Measured, Verdict string
}

// targets checks the product's targets against the figures: each holds
// when every figure it covers does, and otherwise misses by the distance
// of the worst.
func (r *report) targets() []target {
	s, l := r.snapshot, r.large

	// Snapshot into DuckDB against the bound.
	lowest, sum := math.Inf(1), 0.0
	for _, rd := range s.Rounds {
		v := rate(rd.Sync.Summary.Items, rd.Sync.Wall) / rate(rd.Bound.Items, rd.Bound.Duration)
		lowest = min(lowest, v)
		sum += v
	}
	speed := target{Name: fmt.Sprintf("snapshot into DuckDB ≥ %.1f × bound (sync ÷ bound, whole process)", targetBound)}
	speed.Measured = fmt.Sprintf("lowest %.2f, mean %.2f (%d round%s of %s items)",
		lowest, sum/float64(len(s.Rounds)), len(s.Rounds), plural(len(s.Rounds)), thousands(int64(s.Items)))
	worst := lowest
	if l != nil {
		v := rate(l.Sync.Summary.Items, l.Sync.Wall) / rate(l.Bound.Items, l.Bound.Duration)
		speed.Measured += fmt.Sprintf("; %.2f at %s items", v, thousands(int64(l.Items)))
		worst = min(worst, v)
	}
	speed.Verdict = verdict(targetBound - worst)

	// Memory at scale.
	memory := target{Name: fmt.Sprintf("peak RSS ≤ %.0f MB at the large size and ≤ %.2f × at %s items", targetRSS/1e6, targetRSSGrowth, thousands(int64(s.Items)))}
	if l == nil {
		memory.Measured, memory.Verdict = "not measured (`-large-items 0`)", "–"
	} else {
		memory.Name = fmt.Sprintf("peak RSS ≤ %.0f MB at %s items and ≤ %.2f × at %s items", targetRSS/1e6, thousands(int64(l.Items)), targetRSSGrowth, thousands(int64(s.Items)))
		growth := r.rssGrowth()
		memory.Measured = fmt.Sprintf("%s MB; ×%.2f of %s MB", decimal(float64(l.Sync.MaxRSS)/1e6, 1), growth, decimal(float64(s.MaxRSS())/1e6, 1))
		var misses []string
		if over := float64(l.Sync.MaxRSS) - targetRSS; over > 0 {
			misses = append(misses, "by "+decimal(over/1e6, 1)+" MB")
		}
		if over := growth - targetRSSGrowth; over > 0 {
			misses = append(misses, "by "+small(over)+" in the ratio")
		}
		memory.Verdict = "holds"
		if len(misses) > 0 {
			memory.Verdict = "misses " + strings.Join(misses, " and ")
		}
	}

	// Read units against the least.
	most, syncs := 0.0, 0
	for _, rd := range s.Rounds {
		most = max(most, rd.Sync.Summary.ReadUnits/s.MinUnits)
		syncs++
	}
	if l != nil {
		most = max(most, l.Sync.Summary.ReadUnits/l.MinUnits)
		syncs++
	}
	units := target{
		Name:     fmt.Sprintf("read units ≤ %.2f × the least (table bytes ÷ 4 KB × 0.5)", targetUnits),
		Measured: fmt.Sprintf("largest ×%.2f (%d DuckDB snapshot sync%s)", most, syncs, plural(syncs)),
		Verdict:  verdict(most - targetUnits),
	}
	return []target{speed, memory, units}
}

// verdict is "holds" when over ≤ 0 and otherwise "misses by over".
func verdict(over float64) string {
	if over <= 0 {
		return "holds"
	}
	return "misses by " + small(over)
}

// small formats a small positive difference with two decimals, or one
// significant digit when it is below 0.005.
func small(v float64) string {
	if v < 0.005 {
		return strconv.FormatFloat(v, 'g', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// writeResults replaces the results section of the Markdown file at path
// (from resultsHeading to the end) with md, keeping what is above it; a
// missing file starts with defaultIntro.
func writeResults(path, md string) error {
	intro := defaultIntro
	if data, err := os.ReadFile(path); err == nil {
		text := string(data)
		if i := strings.Index(text, "\n"+resultsHeading+"\n"); i >= 0 {
			intro = text[:i+1]
		} else if strings.HasPrefix(text, resultsHeading+"\n") {
			intro = ""
		} else {
			intro = strings.TrimRight(text, "\n") + "\n\n"
		}
	} else if !os.IsNotExist(err) {
		return err
	}
	return os.WriteFile(path, []byte(intro+md), 0o644)
}

// thousands formats n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// decimal formats v with places decimals and commas in its integer part.
func decimal(v float64, places int) string {
	s := strconv.FormatFloat(v, 'f', places, 64)
	whole, frac, _ := strings.Cut(s, ".")
	n, _ := strconv.ParseInt(whole, 10, 64)
	if frac == "" {
		return thousands(n)
	}
	return thousands(n) + "." + frac
}

func mb(bytes int64) string { return fmt.Sprintf("%.0f", float64(bytes)/1e6) }

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
