package engine

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamosync/dynamosync/internal/change"
	source "github.com/dynamosync/dynamosync/internal/source/dynamodb"
	"github.com/dynamosync/dynamosync/internal/state"
)

const defaultBatchItems = 20000

// msg is one unit of work for the writer; exactly one of its parts is set.
type msg struct {
	run *tableRun

	page     *source.Page    // a snapshot page
	snapshot *state.Snapshot // a new snapshot replaces the table's position
	stream   *state.Stream   // the stream position a new snapshot starts from

	shard     source.Shard    // the shard of changes, shardDone
	changes   []source.Change // a page of stream changes up to last
	last      string
	shardDone bool     // the shard is closed and fully read
	checked   []string // the stream was read to its end; its current shards
	end       bool     // the table is finished for this sync
}

func (m *msg) items() int { return len(m.changes) + pageLen(m.page) }

func pageLen(p *source.Page) int {
	if p == nil {
		return 0
	}
	return len(p.Items)
}

// writer is the only goroutine that applies batches and advances the state:
// a position in st moves only together with the rows it covers, in one
// destination transaction.
type writer struct {
	engine *Engine
	state  *state.State
	queue  <-chan msg
}

// loop commits what the queue brings until it is closed. Commits run
// under a context that ignores cancellation, so what was queued before a
// shutdown is still committed with its state.
func (w *writer) loop(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	limit := w.engine.BatchItems
	if limit <= 0 {
		limit = defaultBatchItems
	}
	var flush time.Duration
	if w.engine.Follow {
		flush = w.engine.FlushInterval
	}
	for {
		first, ok := <-w.queue
		if !ok {
			return nil
		}
		msgs := []msg{first}
		items := first.items()
		var deadline <-chan time.Time
		var timer *time.Timer
		if flush > 0 {
			timer = time.NewTimer(flush)
			deadline = timer.C
		}
		closed := false
	gather:
		for items < limit {
			if deadline == nil {
				select {
				case m, ok := <-w.queue:
					if !ok {
						closed = true
						break gather
					}
					msgs = append(msgs, m)
					items += m.items()
				default:
					break gather
				}
				continue
			}
			select {
			case m, ok := <-w.queue:
				if !ok {
					closed = true
					break gather
				}
				msgs = append(msgs, m)
				items += m.items()
			case <-deadline:
				break gather
			}
		}
		if timer != nil {
			timer.Stop()
		}
		if err := w.commit(ctx, msgs); err != nil {
			return err
		}
		if closed {
			return nil
		}
	}
}

// pending collects one table's changes in a batch, one final change per key.
type pending struct {
	run     *tableRun
	order   []string
	upserts map[string]change.Item
	deletes map[string]change.Delete
	unseen  *time.Time
	ups     int64 // stream upserts
	dels    int64 // stream deletes
	lag     time.Duration
	done    bool // snapshot completed in this batch
	end     bool
}

func (p *pending) upsert(key string, item change.Item) {
	if _, ok := p.upserts[key]; !ok {
		if _, ok := p.deletes[key]; !ok {
			p.order = append(p.order, key)
		}
	}
	delete(p.deletes, key)
	p.upserts[key] = item
}

func (p *pending) remove(key string, d change.Delete) {
	if _, ok := p.deletes[key]; !ok {
		if _, ok := p.upserts[key]; !ok {
			p.order = append(p.order, key)
		}
	}
	delete(p.upserts, key)
	p.deletes[key] = d
}

func (w *writer) commit(ctx context.Context, msgs []msg) error {
	now := w.engine.now().UTC()
	var tables []*pending
	index := map[*tableRun]*pending{}
	for _, m := range msgs {
		p, ok := index[m.run]
		if !ok {
			p = &pending{run: m.run, upserts: map[string]change.Item{}, deletes: map[string]change.Delete{}}
			index[m.run] = p
			tables = append(tables, p)
		}
		if err := w.apply(p, &m, now); err != nil {
			return err
		}
	}
	batch := &change.Batch{SyncedAt: now}
	for _, p := range tables {
		tc := change.TableChanges{Table: p.run.info.Table, DeleteUnseenBefore: p.unseen}
		for _, key := range p.order {
			if item, ok := p.upserts[key]; ok {
				tc.Upserts = append(tc.Upserts, item)
			} else if d, ok := p.deletes[key]; ok {
				tc.Deletes = append(tc.Deletes, d)
			}
		}
		batch.Tables = append(batch.Tables, tc)
	}
	encoded, err := w.state.Encode()
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	batch.State = encoded
	if err := w.engine.Destination.Apply(ctx, batch); err != nil {
		return fmt.Errorf("write batch of %d changes: %w", batch.Len(), err)
	}
	metrics := w.engine.Metrics
	if metrics != nil {
		metrics.Committed(now)
	}
	for _, m := range msgs {
		if n := pageLen(m.page); n > 0 {
			m.run.committed.Add(int64(n))
			if m.run.progress != nil {
				m.run.progress.Add(n)
			}
			if metrics != nil {
				metrics.SnapshotItems(m.run.info.Name, n)
			}
		}
	}
	for _, p := range tables {
		r := p.run
		r.upserts.Add(p.ups)
		r.deletes.Add(p.dels)
		if p.ups+p.dels > 0 {
			r.lag.Store(int64(p.lag))
			if metrics != nil {
				metrics.Changes(r.info.Name, int(p.ups), int(p.dels))
				metrics.Lag(r.info.Name, p.lag)
			}
		}
		if p.done {
			r.log.Info("snapshot completed", "items", r.committed.Load(), "seconds", w.engine.now().Sub(r.started).Seconds())
		}
		if p.end {
			r.finish(nil, w.engine.now())
		}
	}
	return nil
}

// apply folds one message into the table's pending changes and advances
// the state to match.
func (w *writer) apply(p *pending, m *msg, now time.Time) error {
	t := w.state.Table(m.run.info.Name)
	key := m.run.info.Key
	switch {
	case m.snapshot != nil:
		t.Snapshot, t.Stream = m.snapshot, nil
	case m.stream != nil:
		t.Stream = m.stream
	case m.page != nil:
		snap := t.Snapshot
		for _, item := range m.page.Items {
			p.upsert(keyString(key, item), item)
		}
		seg := &snap.Segments[m.page.Segment]
		seg.Items += int64(len(m.page.Items))
		if m.page.LastKey == nil {
			seg.LastKey, seg.Done = nil, true
		} else {
			seg.LastKey = m.page.LastKey
		}
		if snap.CompletedAt == nil && snap.Done() {
			at := now
			snap.CompletedAt = &at
			p.done = true
			if snap.DeleteUnseen {
				started := snap.StartedAt
				p.unseen = &started
			}
		}
	case m.changes != nil || m.last != "":
		if t.Stream == nil {
			return fmt.Errorf("table %s: stream changes without a stream position", m.run.info.Name)
		}
		for _, c := range m.changes {
			switch c.Kind {
			case source.Upsert:
				p.upsert(keyString(key, c.Keys), c.NewImage)
				p.ups++
			case source.Delete:
				p.remove(keyString(key, c.Keys), change.Delete{Key: c.Keys, TTLExpired: c.TTLExpired})
				p.dels++
			}
		}
		p.lag = lagOf(m.changes, now)
		sh := t.Stream.Shards[m.shard.ID]
		if sh == nil {
			sh = &state.Shard{Parent: m.shard.Parent}
			t.Stream.Shards[m.shard.ID] = sh
		}
		sh.Seq = m.last
	case m.shardDone:
		sh := t.Stream.Shards[m.shard.ID]
		if sh == nil {
			sh = &state.Shard{Parent: m.shard.Parent}
			t.Stream.Shards[m.shard.ID] = sh
		}
		sh.Done = true
	case m.checked != nil:
		t.Stream.CheckedAt = now
		present := map[string]bool{}
		for _, id := range m.checked {
			present[id] = true
		}
		// Shards the stream has dropped are no longer needed once done.
		for id, sh := range t.Stream.Shards {
			if sh.Done && !present[id] {
				delete(t.Stream.Shards, id)
			}
		}
	case m.end:
		p.end = true
	}
	return nil
}

// keyString renders an item's primary key so that equal keys render equal.
func keyString(key []change.KeyAttribute, item change.Item) string {
	var b strings.Builder
	for i, k := range key {
		if i > 0 {
			b.WriteByte(0)
		}
		switch v := item[k.Name].(type) {
		case *types.AttributeValueMemberS:
			b.WriteString("S")
			b.WriteString(v.Value)
		case *types.AttributeValueMemberN:
			b.WriteString("N")
			b.WriteString(v.Value)
		case *types.AttributeValueMemberB:
			b.WriteString("B")
			b.WriteString(base64.StdEncoding.EncodeToString(v.Value))
		}
	}
	return b.String()
}
