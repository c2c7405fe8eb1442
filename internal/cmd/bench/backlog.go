package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"golang.org/x/sync/errgroup"

	"github.com/dynamosync/dynamosync/internal/fixture"
	source "github.com/dynamosync/dynamosync/internal/source/dynamodb"
)

const backlogTable = "bench_cdc"

// backlogResult is part 3.
type backlogResult struct {
	Items   int // items before the changes
	Changes int
	Deletes int // of Changes
	Inserts int // of Changes: puts of new keys; the rest are puts of existing keys
	Load    time.Duration
	// Snapshot is the first sync, before the changes.
	Snapshot syncRun
	Write    time.Duration // writing the changes
	Rounds   []backlogRound
}

type backlogRound struct {
	Bound      streamRead
	Sync       syncRun
	Live, Dead int64
}

// streamRead is a bare read of a whole stream.
type streamRead struct {
	Records  int64
	Shards   int
	Pages    int64 // GetRecords calls
	Duration time.Duration
	CPU      time.Duration // of this process while it read
	// PacedFloor is the least time the GetRecords calls take at
	// source.ShardRate calls a second per shard, the shards one after
	// another.
	PacedFloor time.Duration
}

// The changes: of every ten, one deletes an existing item, four put new
// items and five put existing items (changing their "rev").
func deletesOf(changes int) int { return (changes + 9) / 10 }

func insertsOf(changes int) int {
	n := 0
	for j := range changes {
		if r := j % 10; r >= 1 && r <= 4 {
			n++
		}
	}
	return n
}

// changeAt returns change j of a table of items items: the item index it
// touches and whether it deletes.
func changeAt(j, items, changes int) (index int, del bool) {
	deletes := deletesOf(changes)
	r, group := j%10, j/10
	switch {
	case r == 0:
		return group, true // items 0 .. deletes-1, each once
	case r <= 4:
		return items + group*4 + r - 1, false // new items
	default:
		return deletes + (group*5+r-5)%(items-deletes), false // existing, never deleted
	}
}

func (b *bench) backlog(ctx context.Context) (*backlogResult, error) {
	o := b.opts
	res := &backlogResult{Items: o.cdcItems, Changes: o.changes, Deletes: deletesOf(o.changes), Inserts: insertsOf(o.changes)}
	start := time.Now()
	if err := fixture.LoadBulk(ctx, b.client, backlogTable, o.cdcItems, o.itemBytes, o.workers); err != nil {
		return nil, err
	}
	res.Load = time.Since(start)
	b.log.Info("table loaded", "table", backlogTable, "items", o.cdcItems, "seconds", res.Load.Seconds())
	// The stream is enabled after the load, so it holds the changes alone.
	arn, err := b.enableStream(ctx, backlogTable)
	if err != nil {
		return nil, err
	}

	base := filepath.Join(o.work, "cdc-base.duckdb")
	removeDuckDB(base)
	cfg, err := b.writeConfig("cdc-base", backlogTable, base)
	if err != nil {
		return nil, err
	}
	if res.Snapshot, err = b.runSync(ctx, cfg, backlogTable, filepath.Join(o.work, "cdc-base.log")); err != nil {
		return nil, err
	}
	if res.Snapshot.Summary.Items != int64(o.cdcItems) {
		return nil, fmt.Errorf("first sync copied %d items, want %d", res.Snapshot.Summary.Items, o.cdcItems)
	}
	b.log.Info("table snapshotted", "table", backlogTable, "seconds", res.Snapshot.Summary.Seconds)

	start = time.Now()
	if err := b.writeChanges(ctx, backlogTable, o.cdcItems, o.changes); err != nil {
		return nil, err
	}
	res.Write = time.Since(start)
	b.log.Info("changes written", "changes", o.changes, "seconds", res.Write.Seconds())

	wantLive := int64(o.cdcItems - res.Deletes + res.Inserts)
	for round := 1; round <= o.rounds; round++ {
		var r backlogRound
		if r.Bound, err = b.bareStreamRead(ctx, arn); err != nil {
			return nil, fmt.Errorf("bare stream read: %w", err)
		}
		if r.Bound.Records != int64(o.changes) {
			return nil, fmt.Errorf("bare stream read found %d records, want %d", r.Bound.Records, o.changes)
		}
		b.log.Info("bare stream read", "round", round, "records_per_s", rate(r.Bound.Records, r.Bound.Duration),
			"shards", r.Bound.Shards, "pages", r.Bound.Pages)

		// Every round applies the same backlog to its own copy of the
		// destination as the first sync left it.
		name := fmt.Sprintf("cdc-%d", round)
		dest := filepath.Join(o.work, name+".duckdb")
		removeDuckDB(dest)
		if err := copyDuckDB(base, dest); err != nil {
			return nil, err
		}
		cfg, err := b.writeConfig(name, backlogTable, dest)
		if err != nil {
			return nil, err
		}
		if r.Sync, err = b.runSync(ctx, cfg, backlogTable, filepath.Join(o.work, name+".log")); err != nil {
			return nil, err
		}
		if s := r.Sync.Summary; s.Items != 0 || s.Changes() != int64(o.changes) {
			return nil, fmt.Errorf("backlog sync: %d snapshot items and %d changes, want 0 and %d (%s)", s.Items, s.Changes(), o.changes, s.Status)
		}
		if r.Live, r.Dead, err = countRows(ctx, dest, backlogTable); err != nil {
			return nil, err
		}
		if r.Live != wantLive || r.Dead != int64(res.Deletes) {
			return nil, fmt.Errorf("destination holds %d live and %d deleted rows, want %d and %d", r.Live, r.Dead, wantLive, res.Deletes)
		}
		removeDuckDB(dest)
		b.log.Info("backlog sync", "round", round, "changes_per_s", float64(r.Sync.Summary.Changes())/r.Sync.Summary.Seconds)
		res.Rounds = append(res.Rounds, r)
	}
	removeDuckDB(base)
	return res, b.deleteTable(ctx, backlogTable)
}

// enableStream turns on a NEW_AND_OLD_IMAGES stream and returns its ARN.
func (b *bench) enableStream(ctx context.Context, table string) (string, error) {
	out, err := b.client.UpdateTable(ctx, &dynamodb.UpdateTableInput{
		TableName: aws.String(table),
		StreamSpecification: &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: types.StreamViewTypeNewAndOldImages,
		},
	})
	if err != nil {
		return "", fmt.Errorf("enable the stream of %s: %w", table, err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		d, err := b.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			return "", err
		}
		arn := aws.ToString(d.Table.LatestStreamArn)
		if arn == "" {
			arn = aws.ToString(out.TableDescription.LatestStreamArn)
		}
		if arn != "" {
			info, err := source.DescribeShards(ctx, b.streams, arn)
			if err == nil && info.Status == string(streamtypes.StreamStatusEnabled) {
				return arn, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("the stream of %s is not enabled after a minute", table)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeChanges writes the changes to table with concurrent BatchWriteItem
// requests of 25 changes.
func (b *bench) writeChanges(ctx context.Context, table string, items, changes int) error {
	g, gctx := errgroup.WithContext(ctx)
	batches := make(chan []types.WriteRequest, b.opts.workers)
	g.Go(func() error {
		defer close(batches)
		for first := 0; first < changes; first += fixture.BatchSize {
			reqs := make([]types.WriteRequest, 0, fixture.BatchSize)
			for j := first; j < min(first+fixture.BatchSize, changes); j++ {
				idx, del := changeAt(j, items, changes)
				if del {
					key := map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: fixture.BulkID(idx)}}
					reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: key}})
					continue
				}
				item := fixture.BulkItem(idx, b.opts.itemBytes)
				item["rev"] = &types.AttributeValueMemberN{Value: strconv.Itoa(j)}
				reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
			}
			select {
			case batches <- reqs:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range b.opts.workers {
		g.Go(func() error {
			for reqs := range batches {
				if err := b.batchWrite(gctx, table, reqs); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// batchWrite sends one BatchWriteItem request and resends what comes back
// unprocessed.
func (b *bench) batchWrite(ctx context.Context, table string, reqs []types.WriteRequest) error {
	pending := map[string][]types.WriteRequest{table: reqs}
	delay := 50 * time.Millisecond
	for round := 0; round < 30; round++ {
		out, err := b.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
		if err != nil {
			return fmt.Errorf("write %d changes to %s: %w", len(pending[table]), table, err)
		}
		if len(out.UnprocessedItems[table]) == 0 {
			return nil
		}
		pending = out.UnprocessedItems
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
		delay = min(2*delay, 5*time.Second)
	}
	return errors.New("changes still unprocessed after 30 rounds")
}

// bareStreamRead reads every record of the stream from TRIM_HORIZON, all
// shards at once and as fast as the endpoint answers, and discards them: an
// open shard is read up to its first empty page, as a sync that does not
// follow reads it.
func (b *bench) bareStreamRead(ctx context.Context, arn string) (streamRead, error) {
	start, cpu := time.Now(), selfCPU()
	info, err := source.DescribeShards(ctx, b.streams, arn)
	if err != nil {
		return streamRead{}, err
	}
	var records, pages atomic.Int64
	var floor atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for _, sh := range info.Shards {
		g.Go(func() error {
			it, err := b.streams.GetShardIterator(gctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn:         aws.String(arn),
				ShardId:           aws.String(sh.ID),
				ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
			})
			if err != nil {
				return err
			}
			iter := it.ShardIterator
			calls := int64(0)
			for iter != nil {
				out, err := b.streams.GetRecords(gctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
				if err != nil {
					return err
				}
				calls++
				records.Add(int64(len(out.Records)))
				iter = out.NextShardIterator
				if len(out.Records) == 0 && sh.Open() {
					break
				}
			}
			pages.Add(calls)
			floor.Add(int64(time.Duration(max(calls-1, 0)) * time.Second / source.ShardRate))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return streamRead{}, err
	}
	return streamRead{Records: records.Load(), Shards: len(info.Shards), Pages: pages.Load(),
		Duration: time.Since(start), CPU: selfCPU() - cpu, PacedFloor: time.Duration(floor.Load())}, nil
}
