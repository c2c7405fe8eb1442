package engine

import (
	"context"
	"fmt"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/state"
)

const defaultBatchItems = 20000

// writer is the only goroutine that applies batches and advances the state:
// a position in st moves only together with the rows it covers, in one
// destination transaction.
type writer struct {
	engine *Engine
	state  *state.State
	queue  <-chan pageMsg
}

func (w *writer) loop(ctx context.Context) error {
	limit := w.engine.BatchItems
	if limit <= 0 {
		limit = defaultBatchItems
	}
	for {
		first, ok := <-w.queue
		if !ok {
			return nil
		}
		msgs := []pageMsg{first}
		items := len(first.page.Items)
	drain:
		for items < limit {
			select {
			case m, ok := <-w.queue:
				if !ok {
					break drain
				}
				msgs = append(msgs, m)
				items += len(m.page.Items)
			default:
				break drain
			}
		}
		if err := w.commit(ctx, msgs); err != nil {
			return err
		}
	}
}

func (w *writer) commit(ctx context.Context, msgs []pageMsg) error {
	now := w.engine.now().UTC()
	batch := &change.Batch{SyncedAt: now}
	index := map[*tableRun]int{}
	for _, m := range msgs {
		i, ok := index[m.run]
		if !ok {
			i = len(batch.Tables)
			index[m.run] = i
			batch.Tables = append(batch.Tables, change.TableChanges{Table: m.run.info.Table})
		}
		batch.Tables[i].Upserts = append(batch.Tables[i].Upserts, m.page.Items...)
		seg := &m.run.snap.Segments[m.page.Segment]
		seg.Items += int64(len(m.page.Items))
		if m.page.LastKey == nil {
			seg.LastKey, seg.Done = nil, true
		} else {
			seg.LastKey = m.page.LastKey
		}
	}
	var completed []*tableRun
	for run := range index {
		if run.snap.CompletedAt == nil && run.snap.Done() {
			at := now
			run.snap.CompletedAt = &at
			completed = append(completed, run)
		}
	}
	encoded, err := w.state.Encode()
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	batch.State = encoded
	if err := w.engine.Destination.Apply(ctx, batch); err != nil {
		return fmt.Errorf("write batch of %d items: %w", batch.Len(), err)
	}
	for _, m := range msgs {
		n := len(m.page.Items)
		m.run.committed.Add(int64(n))
		if m.run.progress != nil && n > 0 {
			m.run.progress.Add(n)
		}
	}
	for _, run := range completed {
		run.finish(nil, w.engine.now())
		w.engine.Log.Info("snapshot completed", "table", run.info.Name, "items", run.committed.Load(),
			"seconds", run.finished.Sub(run.started).Seconds())
	}
	return nil
}
