package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/dynamosync/dynamosync/internal/fixture"
	source "github.com/dynamosync/dynamosync/internal/source/dynamodb"
)

const snapshotTable = "bench_snapshot"

// snapshotResult is part 1.
type snapshotResult struct {
	Items      int
	TableBytes int64
	// MinUnits is the least read capacity an eventually consistent scan of
	// the table consumes: TableBytes / 4 KB × 0.5.
	MinUnits float64
	Load     time.Duration
	// Requests is the bound's MAX_PARALLEL_REQUESTS: the most Scan
	// requests in flight, whatever the segment count.
	Requests int
	// Postgres is the version of the PostgreSQL server (the first two words
	// of version()) the rounds also synced into; "": not measured.
	Postgres string
	Rounds   []snapshotRound
	// Sweep is the bare Scans after the rounds, one for each segment count
	// of -sweep, in its order.
	Sweep []sweepScan
}

// sweepScan is one bare Scan of the segment sweep.
type sweepScan struct {
	Segments int
	Scan     scanResult
}

// BoundRate is the mean of the rounds' bound rates, items/s.
func (s *snapshotResult) BoundRate() float64 {
	var sum float64
	for _, rd := range s.Rounds {
		sum += rate(rd.Bound.Items, rd.Bound.Duration)
	}
	return sum / float64(max(len(s.Rounds), 1))
}

// MaxRSS is the largest peak resident memory of the rounds' DuckDB syncs,
// bytes.
func (s *snapshotResult) MaxRSS() int64 {
	var m int64
	for _, rd := range s.Rounds {
		m = max(m, rd.Sync.MaxRSS)
	}
	return m
}

type snapshotRound struct {
	Bound      scanResult
	Sync       syncRun // into DuckDB
	Live, Dead int64   // rows in the destination after the sync
	// PG is the sync into PostgreSQL (when snapshotResult.Postgres is set)
	// and PGLive, PGDead the rows it left.
	PG             syncRun
	PGLive, PGDead int64
}

// scanResult is a bare parallel scan.
type scanResult struct {
	Items    int64
	Duration time.Duration
	CPU      time.Duration // of this process while it scanned
	Units    float64
}

func (b *bench) snapshot(ctx context.Context) (*snapshotResult, error) {
	o := b.opts
	res := &snapshotResult{Items: o.items, Requests: b.cfg.MaxParallelRequests}
	if o.postgres != "" {
		// Before the load, so that a server that does not answer stops
		// the benchmark at once.
		var err error
		if res.Postgres, err = postgresVersion(ctx, o.postgres); err != nil {
			return nil, err
		}
		b.log.Info("PostgreSQL", "version", res.Postgres, "url", redactURL(o.postgres))
	}
	start := time.Now()
	if err := fixture.LoadBulk(ctx, b.client, snapshotTable, o.items, o.itemBytes, o.workers); err != nil {
		return nil, err
	}
	res.Load = time.Since(start)
	b.log.Info("table loaded", "table", snapshotTable, "items", o.items, "seconds", res.Load.Seconds())
	res.TableBytes = bulkBytes(o.items, o.itemBytes)
	res.MinUnits = leastUnits(res.TableBytes)
	// One scan that is not measured, so that the first round does not pay
	// for DynamoDB Local settling after the load.
	if _, err := b.bareScan(ctx, snapshotTable, o.segments); err != nil {
		return nil, fmt.Errorf("warm-up scan: %w", err)
	}

	for round := 1; round <= o.rounds; round++ {
		var r snapshotRound
		var err error
		if r.Bound, err = b.bareScan(ctx, snapshotTable, o.segments); err != nil {
			return nil, fmt.Errorf("bare scan: %w", err)
		}
		if r.Bound.Items != int64(o.items) {
			return nil, fmt.Errorf("bare scan read %d items, want %d", r.Bound.Items, o.items)
		}
		b.log.Info("bare scan", "round", round, "items_per_s", rate(r.Bound.Items, r.Bound.Duration))

		dest := filepath.Join(o.work, fmt.Sprintf("snapshot-%d.duckdb", round))
		removeDuckDB(dest)
		if r.Sync, r.Live, r.Dead, err = b.syncDuckDB(ctx, fmt.Sprintf("snapshot-%d", round), snapshotTable, dest, o.segments, o.items); err != nil {
			return nil, err
		}
		removeDuckDB(dest)
		b.log.Info("sync", "round", round, "items_per_s", rate(r.Sync.Summary.Items, r.Sync.Wall),
			"max_rss_mib", r.Sync.MaxRSS>>20)

		if o.postgres != "" {
			if r.PG, r.PGLive, r.PGDead, err = b.snapshotPostgres(ctx, round); err != nil {
				return nil, fmt.Errorf("PostgreSQL: %w", err)
			}
			b.log.Info("sync into PostgreSQL", "round", round, "items_per_s", rate(r.PG.Summary.Items, r.PG.Wall),
				"max_rss_mib", r.PG.MaxRSS>>20)
		}
		res.Rounds = append(res.Rounds, r)
	}

	for _, n := range o.sweep {
		scan, err := b.bareScan(ctx, snapshotTable, n)
		if err != nil {
			return nil, fmt.Errorf("bare scan of %d segments: %w", n, err)
		}
		if scan.Items != int64(o.items) {
			return nil, fmt.Errorf("bare scan of %d segments read %d items, want %d", n, scan.Items, o.items)
		}
		b.log.Info("segment sweep", "segments", n, "items_per_s", rate(scan.Items, scan.Duration))
		res.Sweep = append(res.Sweep, sweepScan{Segments: n, Scan: scan})
	}
	return res, b.deleteTable(ctx, snapshotTable)
}

// bulkBytes is the size of the first n bulk items of itemBytes, the way
// DynamoDB counts it.
func bulkBytes(n, itemBytes int) int64 {
	var sum int64
	for i := range n {
		sum += int64(fixture.ItemSize(fixture.BulkItem(i, itemBytes)))
	}
	return sum
}

// leastUnits is the least read capacity an eventually consistent scan of
// a table of tableBytes consumes: tableBytes / 4 KB × 0.5.
func leastUnits(tableBytes int64) float64 {
	return math.Ceil(float64(tableBytes)/4096) * 0.5
}

// syncDuckDB runs `dynamosync sync` of table into the DuckDB file dest with
// TOTAL_SEGMENTS segments (0: dynamosync's choice), its configuration and
// log named after name, and checks that it copied items items and left
// exactly items live rows and no deleted ones.
func (b *bench) syncDuckDB(ctx context.Context, name, table, dest string, segments, items int) (run syncRun, live, dead int64, err error) {
	cfg, err := b.writeSchemaConfig(name, table, dest, "", segments)
	if err != nil {
		return syncRun{}, 0, 0, err
	}
	if run, err = b.runSync(ctx, cfg, table, filepath.Join(b.opts.work, name+".log")); err != nil {
		return syncRun{}, 0, 0, err
	}
	if run.Summary.Items != int64(items) {
		return syncRun{}, 0, 0, fmt.Errorf("sync copied %d items, want %d", run.Summary.Items, items)
	}
	if live, dead, err = countRows(ctx, dest, table); err != nil {
		return syncRun{}, 0, 0, err
	}
	if live != int64(items) || dead != 0 {
		return syncRun{}, 0, 0, fmt.Errorf("destination holds %d live and %d deleted rows, want %d live", live, dead, items)
	}
	return run, live, dead, nil
}

// snapshotPostgres runs the round's `dynamosync sync` of the snapshot table
// into a new schema of the PostgreSQL server, checks the rows it left and
// drops the schema again.
func (b *bench) snapshotPostgres(ctx context.Context, round int) (run syncRun, live, dead int64, err error) {
	o := b.opts
	schema := fmt.Sprintf("%s_%d", snapshotTable, round)
	if err := dropSchema(ctx, o.postgres, schema); err != nil {
		return syncRun{}, 0, 0, err
	}
	defer func() {
		// The context may be canceled; the schema is dropped regardless.
		if derr := dropSchema(context.WithoutCancel(ctx), o.postgres, schema); derr != nil && err == nil {
			err = derr
		}
	}()
	name := fmt.Sprintf("snapshot-%d-postgres", round)
	cfg, err := b.writeSchemaConfig(name, snapshotTable, o.postgres, schema, o.segments)
	if err != nil {
		return syncRun{}, 0, 0, err
	}
	if run, err = b.runSync(ctx, cfg, snapshotTable, filepath.Join(o.work, name+".log")); err != nil {
		return syncRun{}, 0, 0, err
	}
	if run.Summary.Items != int64(o.items) {
		return syncRun{}, 0, 0, fmt.Errorf("sync copied %d items, want %d", run.Summary.Items, o.items)
	}
	if live, dead, err = countPostgresRows(ctx, o.postgres, schema, snapshotTable); err != nil {
		return syncRun{}, 0, 0, err
	}
	if live != int64(o.items) || dead != 0 {
		return syncRun{}, 0, 0, fmt.Errorf("schema %s holds %d live and %d deleted rows, want %d live", schema, live, dead, o.items)
	}
	return run, live, dead, nil
}

// bareScan reads every item of table with a parallel Scan of segments
// segments through the same Scanner dynamosync uses (eventually
// consistent, requests bounded like MAX_PARALLEL_REQUESTS), and discards
// the items.
func (b *bench) bareScan(ctx context.Context, table string, segments int) (scanResult, error) {
	scanner := &source.Scanner{
		Client:   b.client,
		Requests: semaphore.NewWeighted(int64(b.cfg.MaxParallelRequests)),
	}
	var items atomic.Int64
	var mu sync.Mutex
	var units float64
	start, cpu := time.Now(), selfCPU()
	g, gctx := errgroup.WithContext(ctx)
	for seg := range segments {
		g.Go(func() error {
			return scanner.Segment(gctx, table, seg, segments, nil, func(_ context.Context, p source.Page) error {
				items.Add(int64(len(p.Items)))
				mu.Lock()
				units += p.Capacity
				mu.Unlock()
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		return scanResult{}, err
	}
	return scanResult{Items: items.Load(), Duration: time.Since(start), CPU: selfCPU() - cpu, Units: units}, nil
}

// rate is n per second of d.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
