// Package engine runs a sync: it plans each table from the saved state, scans
// the tables' segments in parallel and hands their pages, through a bounded
// queue, to a single writer that commits rows and state together.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
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

// Engine syncs DynamoDB tables into a destination.
type Engine struct {
	Client      source.CheckAPI
	Destination Destination
	Log         *slog.Logger
	Progress    Progress
	// Selects filters table names; nil selects all.
	Selects func(string) bool
	// TotalSegments fixes the segments of new snapshots; 0 chooses from size.
	TotalSegments  int
	ConsistentRead bool
	// MaxRequests bounds DynamoDB requests in flight across all tables.
	MaxRequests int
	// MaxTables bounds tables scanned at once.
	MaxTables int
	// BatchItems is the most items one destination transaction takes.
	BatchItems int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// TableResult is the outcome of one table in a sync.
type TableResult struct {
	Table    string
	Items    int64
	Segments int
	// Resumed is set when the table continued a snapshot of an earlier run.
	Resumed  bool
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

type tableRun struct {
	info     source.TableInfo
	snap     *state.Snapshot // the plan: segments and where each starts
	resumed  bool
	progress TableProgress

	started   time.Time
	committed atomic.Int64
	capacity  atomic.Uint64 // float64 bits of capacity units, added with CAS

	once     sync.Once
	finished time.Time
	err      error
}

// finish records the end of the table, once: on its last commit or its
// failure, whichever comes first.
func (t *tableRun) finish(err error, at time.Time) {
	t.once.Do(func() {
		t.err, t.finished = err, at
		if t.progress != nil {
			t.progress.Done(err)
		}
	})
}

func (t *tableRun) addCapacity(c float64) {
	for {
		old := t.capacity.Load()
		if t.capacity.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+c)) {
			return
		}
	}
}

type pageMsg struct {
	run  *tableRun
	page source.Page
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Sync discovers the selected tables and snapshots each into the
// destination, resuming snapshots that an earlier run left unfinished.
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
	if err := e.run(ctx, st, runs); err != nil {
		return nil, err
	}
	for _, r := range runs {
		if r.finished.IsZero() {
			r.finish(fmt.Errorf("snapshot incomplete: %w", context.Cause(ctx)), e.now())
		}
		summary.Tables = append(summary.Tables, TableResult{
			Table:    r.info.Name,
			Items:    r.committed.Load(),
			Segments: r.snap.TotalSegments,
			Resumed:  r.resumed,
			Duration: r.finished.Sub(r.started),
			Capacity: math.Float64frombits(r.capacity.Load()),
			Err:      r.err,
		})
	}
	if f := summary.Failed(); len(f) > 0 {
		return summary, fmt.Errorf("%d of %d tables: %w", len(f), len(summary.Tables), ErrTablesFailed)
	}
	return summary, nil
}

// plan decides, for each table, whether to resume its unfinished snapshot or
// to start a new one, and records new snapshots in st.
func (e *Engine) plan(st *state.State, infos []source.TableInfo) []*tableRun {
	runs := make([]*tableRun, 0, len(infos))
	for _, info := range infos {
		r := &tableRun{info: info}
		t := st.Table(info.Name)
		if t.Snapshot != nil && !t.Snapshot.Done() {
			r.resumed = true
			e.Log.Info("resuming snapshot", "table", info.Name, "segments", t.Snapshot.TotalSegments, "items_done", t.Snapshot.Items())
		} else {
			n := e.TotalSegments
			if n == 0 {
				n = source.Segments(info.SizeBytes)
			}
			t.Snapshot = state.NewSnapshot(n, e.now())
		}
		r.snap = t.Snapshot
		runs = append(runs, r)
	}
	return runs
}

func (e *Engine) run(ctx context.Context, st *state.State, runs []*tableRun) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	maxReq := max(e.MaxRequests, 1)
	queue := make(chan pageMsg, maxReq)
	scanner := &source.Scanner{
		Client:         e.Client,
		Requests:       semaphore.NewWeighted(int64(maxReq)),
		ConsistentRead: e.ConsistentRead,
	}
	// Scanners take their start keys from the plan before the writer runs:
	// the writer then updates st's snapshots in place.
	starts := make([][]segmentPlan, len(runs))
	for i, r := range runs {
		starts[i] = pendingSegments(r.snap)
	}
	w := &writer{engine: e, state: st, queue: queue}
	var writerErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := w.loop(ctx); err != nil {
			writerErr = err
			cancel(err)
		}
	}()

	g := new(errgroup.Group)
	g.SetLimit(max(e.MaxTables, 1))
	for i, r := range runs {
		g.Go(func() error {
			e.scanTable(ctx, scanner, queue, r, starts[i])
			return nil
		})
	}
	_ = g.Wait()
	close(queue)
	wg.Wait()
	if writerErr != nil {
		return writerErr
	}
	return context.Cause(ctx)
}

type segmentPlan struct {
	segment int
	start   state.Key
}

func pendingSegments(snap *state.Snapshot) []segmentPlan {
	var out []segmentPlan
	for i, seg := range snap.Segments {
		if !seg.Done {
			out = append(out, segmentPlan{segment: i, start: seg.LastKey})
		}
	}
	return out
}

func (e *Engine) scanTable(ctx context.Context, scanner *source.Scanner, queue chan<- pageMsg, r *tableRun, segments []segmentPlan) {
	log := e.Log.With("table", r.info.Name)
	r.started = e.now()
	if e.Progress != nil {
		r.progress = e.Progress.Table(r.info.Name, r.info.ItemCount)
		if r.resumed {
			r.progress.Add(int(r.snap.Items()))
		}
	}
	log.Info("snapshot started", "segments", r.snap.TotalSegments, "pending_segments", len(segments), "estimated_items", r.info.ItemCount, "size_bytes", r.info.SizeBytes)
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(tctx)
	g.SetLimit(max(e.MaxRequests, 1))
	for _, sp := range segments {
		g.Go(func() error {
			return scanner.Segment(gctx, r.info.Name, sp.segment, r.snap.TotalSegments, sp.start, func(ctx context.Context, p source.Page) error {
				r.addCapacity(p.Capacity)
				select {
				case queue <- pageMsg{run: r, page: p}:
					return nil
				case <-ctx.Done():
					return context.Cause(ctx)
				}
			})
		})
	}
	if err := g.Wait(); err != nil && ctx.Err() == nil {
		r.finish(err, e.now())
		log.Error("snapshot failed", "error", err)
	}
}
