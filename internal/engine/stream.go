package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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

// streamDisabledError ends the following of a stream that was disabled:
// every shard is read to its end and no new records will come.
type streamDisabledError struct {
	status string // the stream's status: DISABLING or DISABLED
}

func (e *streamDisabledError) Error() string {
	return fmt.Sprintf("the stream was disabled (stream status %s)", e.status)
}

// replayMargin is how long after a replay without Follow starts the
// changes it applies may have been made: stream records carry DynamoDB's
// time rounded down (to the second; DynamoDB Local, to the minute), and
// clocks differ a little.
const replayMargin = 5 * time.Second

// replay applies the table's stream from r.stream: shard by shard, a
// parent fully before its children, each shard in sequence order. Without
// Follow it returns once every shard is read to its end, or to a record
// made more than replayMargin after the replay began (later changes are the
// next sync's: a table written without pause would never let it end); with
// Follow it keeps reading, picking up new shards, until ctx ends, or until
// every shard of a stream that was disabled is read (a *streamDisabledError).
func (e *Engine) replay(ctx context.Context, q *queue, r *tableRun) error {
	pos := r.stream
	done := map[string]bool{}
	for id, sh := range pos.Shards {
		if sh.Done {
			done[id] = true
		}
	}
	// Shards being read, and (without Follow) open shards read to their end.
	busy := map[string]bool{}
	type result struct {
		shard    source.Shard
		finished bool
		err      error
	}
	results := make(chan result)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	running := 0
	// stop cancels the readers and waits for them.
	stop := func() {
		cancel()
		for ; running > 0; running-- {
			<-results
		}
	}
	var tick <-chan time.Time
	if e.Follow {
		t := time.NewTicker(e.describeEvery())
		defer t.Stop()
		tick = t.C
	}
	var until time.Time
	if !e.Follow {
		until = e.now().Add(replayMargin)
	}
	var shards []source.Shard
	for {
		info, err := source.DescribeShards(rctx, e.Streams, pos.ARN)
		if err != nil {
			stop()
			if ctx.Err() != nil {
				return nil
			}
			return classifyStream(err)
		}
		shards = info.Shards
		present := map[string]bool{}
		for _, sh := range info.Shards {
			present[sh.ID] = true
		}
		// A shard we were reading that the stream no longer lists was
		// trimmed with records we never applied.
		for _, id := range sortedKeys(pos.Shards) {
			if sh := pos.Shards[id]; !done[id] && !sh.Done && !present[id] {
				stop()
				return &streamLostError{reason: fmt.Sprintf("shard %s was trimmed from the stream before it was fully read", id)}
			}
		}
		for _, sh := range source.ReadyShards(info.Shards, func(id string) bool { return done[id] }) {
			if busy[sh.ID] {
				continue
			}
			busy[sh.ID] = true
			running++
			after := ""
			if p := pos.Shards[sh.ID]; p != nil {
				after = p.Seq
			}
			go func() {
				reader := &source.ShardReader{Client: e.Streams, StreamARN: pos.ARN, Shard: sh, After: after, Follow: e.Follow, Until: until}
				err := reader.Read(rctx, func(ctx context.Context, page []source.Change, last string) error {
					changes, err := e.resolve(ctx, r, page)
					if err != nil {
						return err
					}
					return q.send(ctx, msg{run: r, shard: sh, changes: changes, last: last})
				})
				finished := err == nil && reader.Finished()
				if finished {
					err = q.send(rctx, msg{run: r, shard: sh, shardDone: true})
				}
				results <- result{shard: sh, finished: finished, err: err}
			}()
		}
		if running == 0 {
			if !e.Follow {
				break
			}
			if !info.Enabled() {
				return &streamDisabledError{status: info.Status}
			}
			// Every listed shard is read and the stream is still enabled:
			// its next shards are listed at the next check.
		}
		select {
		case res := <-results:
			running--
			if res.err != nil {
				stop()
				if ctx.Err() != nil {
					return nil
				}
				return classifyStream(res.err)
			}
			if res.finished {
				done[res.shard.ID] = true
				delete(busy, res.shard.ID)
			}
			// An open shard read to its end stays busy: this run is done
			// with it.
		case <-tick:
			if err := q.send(ctx, msg{run: r, checked: shardIDs(info.Shards)}); err != nil {
				stop()
				return nil
			}
		case <-ctx.Done():
			stop()
			return nil
		}
	}
	return q.send(ctx, msg{run: r, checked: shardIDs(shards)})
}

func shardIDs(shards []source.Shard) []string {
	ids := make([]string, len(shards))
	for i, sh := range shards {
		ids[i] = sh.ID
	}
	return ids
}

func (e *Engine) describeEvery() time.Duration {
	if e.DescribeInterval > 0 {
		return e.DescribeInterval
	}
	return 10 * time.Second
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
