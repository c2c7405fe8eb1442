// Package progress shows a sync's advance: live bars per table on a
// terminal, periodic log lines otherwise.
package progress

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/dynamosync/dynamosync/internal/engine"
)

// Bars draws one bar per table: items committed against DynamoDB's item
// count estimate, and items per second. It is also an io.Writer that prints
// log lines above the bars while they run.
//
// A bar is completed (or aborted) only in Wait, not when its table ends:
// mpb flushes a written line at its next render, and a line written after
// the last bar's final render would never be drawn.
type Bars struct {
	p   *mpb.Progress
	out io.Writer

	mu     sync.Mutex
	done   bool
	tables []*barTable
}

var _ engine.Progress = (*Bars)(nil)

// NewBars draws on out, which should be a terminal.
func NewBars(ctx context.Context, out io.Writer) *Bars {
	return &Bars{p: mpb.NewWithContext(ctx, mpb.WithOutput(out), mpb.WithAutoRefresh(), mpb.WithWidth(32), mpb.WithRefreshRate(200*time.Millisecond)), out: out}
}

// Table adds a bar.
func (b *Bars) Table(name string, estimate int64) engine.TableProgress {
	t := &barTable{estimate: max(estimate, 1)}
	// Created with total 0 so that reaching the estimate does not
	// complete the bar; the estimate is only shown.
	bar := b.p.AddBar(0,
		mpb.PrependDecorators(
			decor.Name(name, decor.WCSyncSpaceR),
			decor.CountersNoUnit("%d / %d", decor.WCSyncSpace),
		),
		mpb.AppendDecorators(
			decor.EwmaSpeed(nil, "%.0f items/s", 30, decor.WCSyncSpace),
			decor.Any(func(decor.Statistics) string { return t.status() }),
		),
	)
	t.bar = bar
	bar.SetTotal(t.estimate, false)
	b.mu.Lock()
	b.tables = append(b.tables, t)
	b.mu.Unlock()
	return t
}

// Write prints p above the bars, or straight to the output once they stopped.
func (b *Bars) Write(p []byte) (int, error) {
	b.mu.Lock()
	done := b.done
	b.mu.Unlock()
	if !done {
		if n, err := b.p.Write(p); err == nil {
			return n, nil
		}
	}
	return b.out.Write(p)
}

// Wait completes every bar (aborting those whose table failed) and stops
// drawing.
func (b *Bars) Wait() {
	b.mu.Lock()
	tables := b.tables
	b.mu.Unlock()
	for _, t := range tables {
		t.finish()
	}
	b.p.Wait()
	b.mu.Lock()
	b.done = true
	b.mu.Unlock()
}

type barTable struct {
	bar      *mpb.Bar
	mu       sync.Mutex
	current  int64
	estimate int64
	last     time.Time
	ended    bool
	err      error
	// shown is read by the bar's decorator, which mpb runs on its own
	// goroutine while Add may wait on that goroutine holding mu.
	shown atomic.Value // string
}

func (t *barTable) Add(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.current += int64(n)
	if t.current >= t.estimate {
		// DynamoDB's item count is refreshed about every six hours: grow
		// the total rather than completing early.
		t.estimate = t.current + t.current/10 + 1
		t.bar.SetTotal(t.estimate, false)
	}
	now := time.Now()
	if t.last.IsZero() {
		t.last = now
	}
	t.bar.EwmaIncrBy(n, now.Sub(t.last))
	t.last = now
}

// Done shows the table as ended; the bar itself completes in Bars.Wait.
func (t *barTable) Done(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ended, t.err = true, err
	if err != nil {
		t.shown.Store(" failed")
	} else {
		t.shown.Store(" done")
		t.estimate = t.current
		t.bar.SetTotal(max(t.current, 1), false)
	}
}

func (t *barTable) status() string {
	s, _ := t.shown.Load().(string)
	return s
}

func (t *barTable) finish() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended && t.err == nil {
		t.bar.SetTotal(-1, true)
		return
	}
	t.bar.Abort(false)
}

// Log reports progress as a log line per running table at a fixed interval.
type Log struct {
	log      *slog.Logger
	interval time.Duration

	mu     sync.Mutex
	tables map[string]*logTable
	stop   chan struct{}
	wg     sync.WaitGroup
}

var _ engine.Progress = (*Log)(nil)

// NewLog starts reporting every interval until Wait.
func NewLog(log *slog.Logger, interval time.Duration) *Log {
	l := &Log{log: log, interval: interval, tables: map[string]*logTable{}, stop: make(chan struct{})}
	l.wg.Add(1)
	go l.run()
	return l
}

type logTable struct {
	estimate int64
	items    atomic.Int64
	started  time.Time
	done     atomic.Bool
}

func (t *logTable) Add(n int)      { t.items.Add(int64(n)) }
func (t *logTable) Done(err error) { t.done.Store(true) }

// Table registers a table.
func (l *Log) Table(name string, estimate int64) engine.TableProgress {
	t := &logTable{estimate: estimate, started: time.Now()}
	l.mu.Lock()
	l.tables[name] = t
	l.mu.Unlock()
	return t
}

func (l *Log) run() {
	defer l.wg.Done()
	tick := time.NewTicker(l.interval)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
			l.report()
		}
	}
}

func (l *Log) report() {
	l.mu.Lock()
	names := make([]string, 0, len(l.tables))
	for name, t := range l.tables {
		if !t.done.Load() {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	tables := make([]*logTable, len(names))
	for i, name := range names {
		tables[i] = l.tables[name]
	}
	l.mu.Unlock()
	for i, t := range tables {
		items := t.items.Load()
		secs := time.Since(t.started).Seconds()
		l.log.Info("progress", "table", names[i], "items", items, "estimated_items", t.estimate,
			"items_per_second", int64(float64(items)/max(secs, 0.001)))
	}
}

// Wait stops reporting.
func (l *Log) Wait() {
	close(l.stop)
	l.wg.Wait()
}
