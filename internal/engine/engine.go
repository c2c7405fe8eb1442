// Package engine runs a sync: it plans each table from the saved state,
// snapshots tables with parallel segment scans, replays their DynamoDB
// streams, and hands everything, through one bounded queue, to a single
// writer that commits rows and state together.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"golang.org/x/sync/semaphore"

	"github.com/dynamosync/dynamosync/internal/change"
	source "github.com/dynamosync/dynamosync/internal/source/dynamodb"
	"github.com/dynamosync/dynamosync/internal/state"
)

// Destination is where batches land.
type Destination interface {
	LoadState(ctx context.Context) ([]byte, error)
	Apply(ctx context.Context, b *change.Batch) error
}

// Progress shows a sync's advance; see package progress.
type Progress interface {
	Table(name string, estimate int64) TableProgress
}

// TableProgress is the advance of one table.
type TableProgress interface {
	// Add counts items committed.
	Add(items int)
	// Done marks the table finished; err is nil on success.
	Done(err error)
}

// Client is what the engine needs from a DynamoDB client.
type Client interface {
	source.CheckAPI
	source.BatchGetAPI
}

// Metrics observes a sync as it goes; see package metrics.
type Metrics interface {
	// SnapshotItems counts items committed by a table's snapshot.
	SnapshotItems(table string, n int)
	// Changes counts stream changes committed for a table.
	Changes(table string, upserts, deletes int)
	// Lag is how old the newest committed change of a table was.
	Lag(table string, lag time.Duration)
	// TableError counts a table that failed.
	TableError(table string)
	// Committed marks a successful destination commit.
	Committed(at time.Time)
	// Unhealthy reports that the sync cannot go on.
	Unhealthy(reason string)
}

// Engine syncs DynamoDB tables into a destination.
type Engine struct {
	Client Client
	// Streams reads DynamoDB Streams; nil treats every table as one without
	// a stream.
	Streams     source.StreamAPI
	Destination Destination
	Log         *slog.Logger
	Progress    Progress
	// Metrics, when set, is told of every commit and failure.
	Metrics Metrics
	// Selects filters table names; nil selects all.
	Selects func(string) bool
	// TotalSegments fixes the segments of new snapshots; 0 chooses from size.
	TotalSegments  int
	ConsistentRead bool
	// ReadCapacityPercent is the percent (1 to 100) of a provisioned
	// table's read capacity its snapshot may consume per second; 0 sets no
	// limit from the provisioned capacity.
	ReadCapacityPercent int
	// MaxReadUnitsPerSecond caps the read units per second of each table's
	// snapshot; for provisioned tables the smaller of the two limits
	// applies, for on-demand tables it is the only one. 0 is no cap.
	MaxReadUnitsPerSecond float64
	// MaxRequests bounds DynamoDB requests in flight across all tables.
	MaxRequests int
	// MaxTables bounds tables synced at once.
	MaxTables int
	// BatchItems is the most items one destination transaction takes.
	BatchItems int
	// Follow keeps reading the streams after catching up, picking up new
	// shards and new tables, until the context ends.
	Follow bool
	// FlushInterval is how long the writer gathers changes before it
	// commits (with Follow; 0 commits as soon as the queue is empty).
	FlushInterval time.Duration
	// DescribeInterval is how often a followed stream is checked for new
	// shards; 0 means 10 s.
	DescribeInterval time.Duration
	// DiscoverInterval is how often Follow looks for new tables; 0 means
	// one minute.
	DiscoverInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Retention is how long DynamoDB Streams keeps a record. A stream position
// older than this may have lost records.
const Retention = 24 * time.Hour

// TableResult is the outcome of one table in a sync.
type TableResult struct {
	Table string
	// Items counts items copied by a snapshot in this run.
	Items    int64
	Segments int
	// Resumed is set when the table continued a snapshot of an earlier run.
	Resumed bool
	// Snapshot is set when the table was snapshotted in this run.
	Snapshot bool
	// Upserts and Deletes count changes applied from the table's stream.
	Upserts, Deletes int64
	// Lag is how old the newest change applied was when it was committed.
	Lag      time.Duration
	Duration time.Duration
	Capacity float64
	Err      error
}

// Summary is the outcome of a sync.
type Summary struct {
	Tables []TableResult
}

// Failed returns the tables that failed.
func (s *Summary) Failed() []TableResult {
	var out []TableResult
	for _, t := range s.Tables {
		if t.Err != nil {
			out = append(out, t)
		}
	}
	return out
}

// ErrTablesFailed is returned (wrapped) when some tables failed while the
// others completed.
var ErrTablesFailed = errors.New("some tables failed")

// tableRun is one table's work in a sync.
type tableRun struct {
	info source.TableInfo
	log  *slog.Logger

	// Set by plan, read by the table's goroutine.
	snap         *state.Snapshot // snapshot to take or resume; nil: stream only
	resumed      bool
	deleteUnseen bool          // mark rows the snapshot does not see as deleted
	stream       *state.Stream // stream position to continue from (a copy)

	progress TableProgress
	metrics  Metrics

	started   time.Time
	committed atomic.Int64 // snapshot items committed
	upserts   atomic.Int64
	deletes   atomic.Int64
	lag       atomic.Int64 // nanoseconds
	capacity  atomic.Uint64
	snapshots atomic.Int32

	once     sync.Once
	finished time.Time
	err      error
}

func (t *tableRun) addCapacity(c float64) {
	for {
		old := t.capacity.Load()
		if t.capacity.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+c)) {
			return
		}
	}
}

// finish records the end of the table, once.
func (t *tableRun) finish(err error, at time.Time) {
	t.once.Do(func() {
		t.err, t.finished = err, at
		if t.progress != nil {
			t.progress.Done(err)
		}
		if err != nil && t.metrics != nil {
			t.metrics.TableError(t.info.Name)
		}
	})
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// incomplete is the error of a table the sync stopped before it finished:
// canceled with cause, or stopped by runErr.
func incomplete(cause, runErr error) error {
	switch {
	case cause != nil:
		return fmt.Errorf("incomplete: %w", cause)
	case runErr != nil:
		return fmt.Errorf("incomplete: the sync stopped: %w", runErr)
	default:
		return errors.New("incomplete")
	}
}

// Sync discovers the selected tables and brings each up to date: a
// snapshot where the table has none (or its stream position is lost), then
// the changes from its stream.
func (e *Engine) Sync(ctx context.Context) (*Summary, error) {
	raw, err := e.Destination.LoadState(ctx)
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	st, err := state.Decode(raw)
	if err != nil {
		return nil, err
	}
	infos, failed, err := source.Discover(ctx, e.Client, e.Selects, max(e.MaxRequests, 1))
	if err != nil {
		return nil, err
	}
	summary := &Summary{}
	for _, f := range failed {
		e.Log.Error("table cannot be described", "table", f.Table, "error", f.Err)
		summary.Tables = append(summary.Tables, TableResult{Table: f.Table, Err: f.Err})
	}
	runs := e.plan(st, infos)
	runs, runErr := e.run(ctx, st, runs)
	for _, r := range runs {
		if r.finished.IsZero() {
			if e.Follow && runErr == nil {
				r.finish(nil, e.now()) // stopped following
			} else {
				r.finish(incomplete(context.Cause(ctx), runErr), e.now())
			}
		}
		res := TableResult{
			Table:    r.info.Name,
			Items:    r.committed.Load(),
			Resumed:  r.resumed,
			Snapshot: r.snapshots.Load() > 0,
			Upserts:  r.upserts.Load(),
			Deletes:  r.deletes.Load(),
			Lag:      time.Duration(r.lag.Load()),
			Duration: r.finished.Sub(r.started),
			Capacity: math.Float64frombits(r.capacity.Load()),
			Err:      r.err,
		}
		if t := st.Tables[r.info.Name]; t != nil && t.Snapshot != nil {
			res.Segments = t.Snapshot.TotalSegments
		}
		summary.Tables = append(summary.Tables, res)
	}
	if runErr != nil {
		return summary, runErr
	}
	if f := summary.Failed(); len(f) > 0 {
		names := make([]string, len(f))
		for i, t := range f {
			names[i] = t.Table
		}
		sort.Strings(names)
		return summary, fmt.Errorf("%w: %d of %d tables: %s", ErrTablesFailed, len(f), len(summary.Tables), strings.Join(names, ", "))
	}
	return summary, nil
}

// plan decides, for each table, what this sync does: resume an unfinished
// snapshot, read only the stream, or take a new snapshot (marking rows it
// does not see as deleted when the table was copied before). New snapshots
// are recorded in st before the writer starts.
func (e *Engine) plan(st *state.State, infos []source.TableInfo) []*tableRun {
	runs := make([]*tableRun, 0, len(infos))
	var noStream []string
	now := e.now()
	for _, info := range infos {
		r := &tableRun{info: info, log: e.Log.With("table", info.Name), metrics: e.Metrics}
		t := st.Table(info.Name)
		hasStream := info.StreamARN != "" && e.Streams != nil
		if !hasStream {
			noStream = append(noStream, info.Name)
		}
		// Why the saved stream position cannot be continued, if it cannot.
		lost := ""
		if hasStream && t.Stream != nil {
			lost = streamLost(t.Stream, info, now)
		}
		switch {
		case t.Snapshot != nil && !t.Snapshot.Done() && (!hasStream || (t.Stream != nil && lost == "")):
			r.snap, r.resumed = t.Snapshot, true
			r.deleteUnseen = t.Snapshot.DeleteUnseen
			if hasStream {
				r.stream = t.Stream.Clone()
			}
			r.log.Info("resuming snapshot", "segments", t.Snapshot.TotalSegments, "items_done", t.Snapshot.Items())
		case hasStream && t.Snapshot != nil && t.Stream != nil && lost == "":
			r.stream = t.Stream.Clone()
		case lost != "":
			r.log.Warn("stream position lost: taking a new snapshot and marking rows it does not see as deleted", "reason", lost)
			r.snap = e.newSnapshot(t, info, now, true)
			r.deleteUnseen = true
		default:
			if t.Stream != nil && !hasStream {
				r.log.Warn("stream disabled: taking a new snapshot and marking rows it does not see as deleted")
			}
			// A table copied before is snapshotted again; rows its new
			// snapshot does not see are items deleted since.
			r.deleteUnseen = t.Snapshot != nil
			r.snap = e.newSnapshot(t, info, now, r.deleteUnseen)
		}
		runs = append(runs, r)
	}
	if len(noStream) > 0 && e.Streams != nil {
		e.Log.Warn("tables without a stream are copied in full on every sync; enable a stream (NEW_AND_OLD_IMAGES) to make their syncs incremental",
			"tables", strings.Join(noStream, ","))
	}
	return runs
}

// streamLost says why a saved stream position can no longer be continued,
// or "" when it can.
func streamLost(s *state.Stream, info source.TableInfo, now time.Time) string {
	switch {
	case s.ARN != info.StreamARN:
		return "the stream was disabled and enabled again (new stream ARN)"
	case now.Sub(s.CheckedAt) > Retention:
		return fmt.Sprintf("the saved stream position is %s old, past the stream's 24-hour retention", now.Sub(s.CheckedAt).Round(time.Minute))
	}
	return ""
}

// newSnapshot records a new snapshot of a table in its state entry and
// drops the table's stream position (a new one is taken before the scan).
func (e *Engine) newSnapshot(t *state.Table, info source.TableInfo, now time.Time, deleteUnseen bool) *state.Snapshot {
	n := e.TotalSegments
	if n == 0 {
		n = source.Segments(info.SizeBytes)
	}
	snap := state.NewSnapshot(n, now)
	snap.DeleteUnseen = deleteUnseen
	t.Snapshot = snap
	t.Stream = nil
	return snap
}

// run syncs the planned tables (and, with Follow, tables that appear
// later) and returns every table run. Snapshots run at most MaxTables at a
// time; streams are read concurrently.
func (e *Engine) run(ctx context.Context, st *state.State, runs []*tableRun) ([]*tableRun, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	maxReq := max(e.MaxRequests, 1)
	q := &queue{ch: make(chan msg, min(maxReq, queuedPages))}
	scanner := &source.Scanner{
		Client:         e.Client,
		Requests:       semaphore.NewWeighted(int64(maxReq)),
		ConsistentRead: e.ConsistentRead,
	}
	snapshots := semaphore.NewWeighted(int64(max(e.MaxTables, 1)))
	// Table goroutines take their start positions from the plan before the
	// writer runs; from then on only the writer changes st.
	starts := make([][]segmentPlan, len(runs))
	for i, r := range runs {
		if r.snap != nil {
			starts[i] = pendingSegments(r.snap)
		}
	}
	w := &writer{engine: e, state: st, queue: q.ch}
	var writerErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := w.loop(ctx); err != nil {
			writerErr = err
			if e.Metrics != nil {
				e.Metrics.Unhealthy(err.Error())
			}
			cancel(err)
		}
	}()

	var tables sync.WaitGroup
	var mu sync.Mutex // guards runs after the start
	start := func(r *tableRun, segments []segmentPlan) {
		tables.Add(1)
		go func() {
			defer tables.Done()
			e.syncTable(ctx, scanner, snapshots, q, r, segments)
		}()
	}
	for i, r := range runs {
		start(r, starts[i])
	}
	if e.Follow {
		known := map[string]bool{}
		for _, r := range runs {
			known[r.info.Name] = true
		}
		tables.Add(1)
		go func() {
			defer tables.Done()
			e.discoverNew(ctx, q, known, func(r *tableRun) {
				mu.Lock()
				runs = append(runs, r)
				mu.Unlock()
				start(r, pendingSegments(r.snap))
			})
		}()
	}
	tables.Wait()
	close(q.ch)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if writerErr != nil {
		return runs, writerErr
	}
	if e.Follow {
		return runs, nil // stopped following: everything read is committed
	}
	return runs, context.Cause(ctx)
}

// discoverNew looks for new tables every DiscoverInterval until ctx ends
// and starts a snapshot (then the stream) of each.
func (e *Engine) discoverNew(ctx context.Context, q *queue, known map[string]bool, startTable func(*tableRun)) {
	every := e.DiscoverInterval
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		infos, failed, err := source.Discover(ctx, e.Client, e.Selects, max(e.MaxRequests, 1))
		if err != nil {
			if ctx.Err() == nil {
				e.Log.Warn("looking for new tables failed", "error", err)
			}
			continue
		}
		for _, f := range failed {
			if !known[f.Table] {
				e.Log.Warn("new table cannot be described", "table", f.Table, "error", f.Err)
			}
		}
		for _, info := range infos {
			if known[info.Name] {
				continue
			}
			known[info.Name] = true
			r := &tableRun{info: info, log: e.Log.With("table", info.Name), metrics: e.Metrics}
			r.snap = state.NewSnapshot(e.segmentsFor(info), e.now())
			r.log.Info("new table found")
			if err := q.send(ctx, msg{run: r, snapshot: r.snap}); err != nil {
				return
			}
			startTable(r)
		}
	}
}

// resnapshot starts a new snapshot of r's table that marks the rows it
// does not see deleted: it records the snapshot and returns the segments
// to scan; false when ctx ended first.
func (e *Engine) resnapshot(ctx context.Context, q *queue, r *tableRun) ([]segmentPlan, bool) {
	snap := state.NewSnapshot(e.segmentsFor(r.info), e.now())
	snap.DeleteUnseen = true
	if err := q.send(ctx, msg{run: r, snapshot: snap}); err != nil {
		return nil, false
	}
	r.snap, r.stream, r.deleteUnseen = snap, nil, true
	return pendingSegments(snap), true
}

// syncTable runs one table's plan: snapshot (if planned), then stream.
// A lost stream position found on the way turns into a new snapshot.
func (e *Engine) syncTable(ctx context.Context, scanner *source.Scanner, snapshots *semaphore.Weighted, q *queue, r *tableRun, segments []segmentPlan) {
	r.started = e.now()
	if e.Progress != nil {
		r.progress = e.Progress.Table(r.info.Name, r.info.ItemCount)
		if r.resumed {
			r.progress.Add(int(r.snap.Items()))
		}
	}
	hasStream := r.info.StreamARN != "" && e.Streams != nil
	budgeted := false // scanner draws on the table's read capacity budget
	for attempt := 0; ; attempt++ {
		if r.snap != nil {
			if !budgeted {
				scanner, budgeted = e.tableScanner(scanner, r), true
			}
			if hasStream && r.stream == nil {
				s, err := e.recordStream(ctx, r)
				if err != nil {
					r.finish(err, e.now())
					return
				}
				r.stream = s
				if err := q.send(ctx, msg{run: r, stream: s.Clone()}); err != nil {
					return
				}
			}
			if err := snapshots.Acquire(ctx, 1); err != nil {
				return
			}
			err := e.snapshot(ctx, scanner, q, r, segments)
			snapshots.Release(1)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Error("snapshot failed", "error", err)
					r.finish(err, e.now())
				}
				return
			}
		}
		if !hasStream {
			if err := q.send(ctx, msg{run: r, end: true}); err != nil {
				return
			}
			return
		}
		err := e.replay(ctx, q, r)
		var disabled *streamDisabledError
		if errors.As(err, &disabled) {
			// Changes made since the stream was disabled are in no stream:
			// a new snapshot brings the table up to date. Without a new
			// stream the table is then done, as a table without a stream.
			info, err := source.Describe(ctx, e.Client, r.info.Name)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Error("stream disabled and the table cannot be described", "error", err)
					r.finish(fmt.Errorf("stream disabled, then: %w", err), e.now())
				}
				return
			}
			reason := disabled.Error()
			if info.StreamARN != "" {
				reason = "the stream was disabled and enabled again (new stream ARN)"
				r.log.Warn("stream position lost: taking a new snapshot and marking rows it does not see as deleted", "reason", reason)
			} else {
				r.log.Warn("stream disabled: taking a new snapshot and marking rows it does not see as deleted; the table is no longer followed", "reason", reason)
				hasStream = false
			}
			r.info.StreamARN = info.StreamARN // only this goroutine reads it
			var ok bool
			if segments, ok = e.resnapshot(ctx, q, r); !ok {
				return
			}
			continue
		}
		var lost *streamLostError
		if errors.As(err, &lost) && attempt == 0 {
			r.log.Warn("stream position lost: taking a new snapshot and marking rows it does not see as deleted", "reason", lost.reason)
			var ok bool
			if segments, ok = e.resnapshot(ctx, q, r); !ok {
				return
			}
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				r.log.Error("stream failed", "error", err)
				r.finish(err, e.now())
			}
			return
		}
		_ = q.send(ctx, msg{run: r, end: true})
		return
	}
}

// tableScanner returns the scanner of r's snapshots: scanner with the
// table's read capacity budget, or scanner itself when no limit applies
// (an on-demand table without MaxReadUnitsPerSecond).
func (e *Engine) tableScanner(scanner *source.Scanner, r *tableRun) *source.Scanner {
	units := source.BudgetRate(r.info.ReadCapacity, e.ReadCapacityPercent, e.MaxReadUnitsPerSecond)
	b := source.NewBudget(units, e.ConsistentRead)
	if b == nil {
		return scanner
	}
	r.log.Info("read capacity budget", "units_per_second", units, "read_capacity", r.info.ReadCapacity)
	return scanner.WithBudget(b)
}

func (e *Engine) segmentsFor(info source.TableInfo) int {
	if e.TotalSegments > 0 {
		return e.TotalSegments
	}
	return source.Segments(info.SizeBytes)
}

// recordStream takes the stream position a new snapshot starts from: every
// shard of the stream, from its start. Replaying from there after the scan
// misses no change made during or after it.
func (e *Engine) recordStream(ctx context.Context, r *tableRun) (*state.Stream, error) {
	info, err := source.DescribeShards(ctx, e.Streams, r.info.StreamARN)
	if err != nil {
		return nil, fmt.Errorf("record stream position: %w", err)
	}
	s := &state.Stream{ARN: r.info.StreamARN, Shards: map[string]*state.Shard{}, CheckedAt: e.now().UTC()}
	for _, sh := range info.Shards {
		s.Shards[sh.ID] = &state.Shard{Parent: sh.Parent}
	}
	return s, nil
}

// queuedPages is the most pages (or stream batches) the queue holds: with
// the pages of requests in flight (at most MaxRequests) and the batch the
// writer applies, it bounds the items in memory. A short queue is enough to
// keep the writer busy; a longer one only adds memory.
const queuedPages = 4

// queue carries work to the writer.
type queue struct{ ch chan msg }

func (q *queue) send(ctx context.Context, m msg) error {
	select {
	case q.ch <- m:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var _ Client = (*dynamodb.Client)(nil)
