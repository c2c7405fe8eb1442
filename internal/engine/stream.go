package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	source "github.com/dynamosync/dynamosync/internal/source/dynamodb"
)

// streamLostError is a stream position that cannot be continued: the
// table must be snapshotted again.
type streamLostError struct {
	reason string
	err    error
}

func (e *streamLostError) Error() string { return e.reason }
func (e *streamLostError) Unwrap() error { return e.err }

// replay applies the table's stream from r.stream up to its end: shard by
// shard, a parent fully before its children, each shard in sequence order.
func (e *Engine) replay(ctx context.Context, q *queue, r *tableRun) error {
	pos := r.stream
	done := map[string]bool{}
	for id, sh := range pos.Shards {
		if sh.Done {
			done[id] = true
		}
	}
	caughtUp := map[string]bool{}
	var mu sync.Mutex // guards done and caughtUp
	var shards []source.Shard
	for {
		info, err := source.DescribeShards(ctx, e.Streams, pos.ARN)
		if err != nil {
			return classifyStream(err)
		}
		shards = info.Shards
		present := map[string]bool{}
		for _, sh := range shards {
			present[sh.ID] = true
		}
		// A shard we were reading that the stream no longer lists was
		// trimmed with records we never applied.
		for _, id := range sortedKeys(pos.Shards) {
			if sh := pos.Shards[id]; !sh.Done && !present[id] {
				return &streamLostError{reason: fmt.Sprintf("shard %s was trimmed from the stream before it was fully read", id)}
			}
		}
		mu.Lock()
		ready := source.ReadyShards(shards, func(id string) bool { return done[id] || caughtUp[id] })
		mu.Unlock()
		if len(ready) == 0 {
			break
		}
		g, gctx := errgroup.WithContext(ctx)
		for _, sh := range ready {
			after := ""
			if p := pos.Shards[sh.ID]; p != nil {
				after = p.Seq
			}
			g.Go(func() error {
				reader := &source.ShardReader{Client: e.Streams, StreamARN: pos.ARN, Shard: sh, After: after}
				err := reader.Read(gctx, func(ctx context.Context, page []source.Change, last string) error {
					changes, err := e.resolve(ctx, r, page)
					if err != nil {
						return err
					}
					return q.send(ctx, msg{run: r, shard: sh, changes: changes, last: last})
				})
				if err != nil {
					return err
				}
				finished := reader.Finished()
				if finished {
					if err := q.send(gctx, msg{run: r, shard: sh, shardDone: true}); err != nil {
						return err
					}
				}
				mu.Lock()
				defer mu.Unlock()
				if finished {
					done[sh.ID] = true
				} else {
					caughtUp[sh.ID] = true
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return classifyStream(err)
		}
	}
	ids := make([]string, len(shards))
	for i, sh := range shards {
		ids[i] = sh.ID
	}
	return q.send(ctx, msg{run: r, checked: ids})
}

// classifyStream turns the reader's "position lost" errors into a
// streamLostError.
func classifyStream(err error) error {
	var trimmed *source.TrimmedError
	if errors.As(err, &trimmed) {
		return &streamLostError{reason: "the saved stream position was trimmed (" + trimmed.Error() + ")", err: err}
	}
	var gone *source.GoneError
	if errors.As(err, &gone) {
		return &streamLostError{reason: "the stream is gone (" + gone.Error() + ")", err: err}
	}
	return err
}

// resolve turns stream records into item changes. With the NEW_IMAGE and
// NEW_AND_OLD_IMAGES view types an insert or modify carries its new image;
// with KEYS_ONLY and OLD_IMAGE the current item is fetched by key, and an
// item that no longer exists is a delete.
func (e *Engine) resolve(ctx context.Context, r *tableRun, page []source.Change) ([]source.Change, error) {
	var missing []map[string]types.AttributeValue
	for _, c := range page {
		if c.Kind == source.Upsert && c.NewImage == nil {
			missing = append(missing, c.Keys)
		}
	}
	if len(missing) == 0 {
		return page, nil
	}
	items, err := source.GetItems(ctx, e.Client, r.info.Name, missing)
	if err != nil {
		return nil, err
	}
	current := map[string]map[string]types.AttributeValue{}
	for _, item := range items {
		current[keyString(r.info.Key, item)] = item
	}
	out := make([]source.Change, len(page))
	for i, c := range page {
		out[i] = c
		if c.Kind != source.Upsert || c.NewImage != nil {
			continue
		}
		if item, ok := current[keyString(r.info.Key, c.Keys)]; ok {
			out[i].NewImage = item
		} else {
			out[i].Kind = source.Delete
		}
	}
	return out, nil
}

// lagOf is how old the newest change of a page is at t.
func lagOf(page []source.Change, t time.Time) time.Duration {
	var newest time.Time
	for _, c := range page {
		if c.At.After(newest) {
			newest = c.At
		}
	}
	if newest.IsZero() {
		return 0
	}
	return max(t.Sub(newest), 0)
}
