package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"golang.org/x/sync/errgroup"

	"github.com/dynamosync/dynamosync/internal/awssession"
	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/config"
	"github.com/dynamosync/dynamosync/internal/destination/duckdb"
	"github.com/dynamosync/dynamosync/internal/engine"
	"github.com/dynamosync/dynamosync/internal/fixture"
	source "github.com/dynamosync/dynamosync/internal/source/dynamodb"
)

const (
	followTable = "bench_follow"
	// writtenAt is the attribute holding when the writer put the item, in
	// Unix nanoseconds.
	writtenAt = "written_at"
	// followWriters put the items of the steady load concurrently, so that
	// one slow PutItem does not hold the others back.
	followWriters = 8
	// probeEvery is the pause between two GetRecords calls of the bare
	// poller.
	probeEvery = 50 * time.Millisecond
	// settleTimeout bounds the wait for the last items once writing stops.
	settleTimeout = time.Minute
)

// followResult is part 4.
type followResult struct {
	Rate         int
	Written      int
	Writing      time.Duration // from the first PutItem to the last
	Flush        time.Duration
	Lag          latencies // PutItem to commit, items committed
	Probe        latencies // PutItem to first seen by the bare poller
	Probed       bool
	Batches      int       // destination transactions while the steady load ran
	BatchChanges int       // changes in them
	Apply        latencies // how long those transactions took
}

// latencies summarises a set of delays.
type latencies struct {
	N             int
	P50, P95, Max time.Duration
}

func summarise(ds []time.Duration) latencies {
	if len(ds) == 0 {
		return latencies{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(p float64) time.Duration { // nearest rank
		i := int(float64(len(ds))*p+0.999999) - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	return latencies{N: len(ds), P50: at(0.50), P95: at(0.95), Max: ds[len(ds)-1]}
}

// commitRecorder is a destination that notes, after every successful
// Apply, when each upserted item was committed.
type commitRecorder struct {
	engine.Destination

	mu        sync.Mutex
	committed map[string]time.Time // by id, first commit
	written   map[string]int64     // by id, the item's written_at
	applies   []time.Duration      // how long each Apply took
	changes   int                  // changes in all batches
}

func (r *commitRecorder) Apply(ctx context.Context, b *change.Batch) error {
	start := time.Now()
	if err := r.Destination.Apply(ctx, b); err != nil {
		return err
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applies = append(r.applies, now.Sub(start))
	r.changes += b.Len()
	for _, t := range b.Tables {
		for _, item := range t.Upserts {
			id, ok := item["id"].(*types.AttributeValueMemberS)
			if !ok {
				continue
			}
			if _, seen := r.committed[id.Value]; seen {
				continue
			}
			r.committed[id.Value] = now
			if w, ok := item[writtenAt].(*types.AttributeValueMemberN); ok {
				if ns, err := strconv.ParseInt(w.Value, 10, 64); err == nil {
					r.written[id.Value] = ns
				}
			}
		}
	}
	return nil
}

// has reports whether the item id has been committed.
func (r *commitRecorder) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.committed[id]
	return ok
}

// lags returns commit time − written_at of every item with written_at.
func (r *commitRecorder) lags() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]time.Duration, 0, len(r.written))
	for id, ns := range r.written {
		out = append(out, r.committed[id].Sub(time.Unix(0, ns)))
	}
	return out
}

func (r *commitRecorder) counts() (items, batches, changes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.written), len(r.applies), r.changes
}

// applyTimes returns the durations of the Apply calls from the i-th on.
func (r *commitRecorder) applyTimes(i int) []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.applies[i:]...)
}

func (b *bench) follow(ctx context.Context) (*followResult, error) {
	o := b.opts
	res := &followResult{Rate: o.followRate, Flush: o.followFlush, Probed: o.followProbe,
		Written: o.followRate * int(o.followDuration/time.Second)}
	res.Written = max(res.Written, 1)
	create := fixture.BulkCreate(followTable)
	create.StreamSpecification = &types.StreamSpecification{
		StreamEnabled:  aws.Bool(true),
		StreamViewType: types.StreamViewTypeNewAndOldImages,
	}
	if err := fixture.CreateTable(ctx, b.client, create); err != nil {
		return nil, err
	}

	// The engine, built as `dynamosync sync --follow` builds it.
	dest := filepath.Join(o.work, "follow.duckdb")
	removeDuckDB(dest)
	defer removeDuckDB(dest)
	cfgPath, err := b.writeConfig("follow", followTable, dest)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	awsCfg, err := awssession.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(o.work, "follow.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	log := slog.New(slog.NewTextHandler(logFile, nil))
	dst, err := duckdb.Open(ctx, cfg.Destination, cfg.Schema, log)
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	rec := &commitRecorder{Destination: dst, committed: map[string]time.Time{}, written: map[string]int64{}}
	eng := &engine.Engine{
		Client:         awssession.DynamoDB(awsCfg, cfg),
		Streams:        awssession.Streams(awsCfg, cfg),
		Destination:    rec,
		Log:            log,
		Selects:        cfg.Selects,
		TotalSegments:  cfg.TotalSegments,
		ConsistentRead: cfg.ConsistentRead,
		MaxRequests:    cfg.MaxParallelRequests,
		MaxTables:      cfg.MaxParallelTables,
		BatchItems:     20000,
		Follow:         true,
		FlushInterval:  o.followFlush,
	}
	engCtx, stopEngine := context.WithCancel(ctx)
	type outcome struct {
		summary *engine.Summary
		err     error
	}
	done := make(chan outcome, 1)
	go func() {
		s, err := eng.Sync(engCtx)
		done <- outcome{s, err}
	}()
	var ended *outcome
	// wait stops the engine and waits until Sync has returned.
	wait := func() outcome {
		stopEngine()
		if ended == nil {
			out := <-done
			ended = &out
		}
		return *ended
	}
	defer wait() // before the destination closes
	engineErr := func() error {
		select {
		case out := <-done:
			ended = &out
			return fmt.Errorf("the engine stopped early: %v", out.err)
		default:
			return nil
		}
	}

	// Once a first item has gone through, the engine is following.
	warm := fixture.BulkItem(0, o.itemBytes)
	if _, err := b.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(followTable), Item: warm}); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, 2*time.Minute, func() bool { return rec.has(fixture.BulkID(0)) }, engineErr); err != nil {
		return nil, fmt.Errorf("first item: %w", err)
	}
	_, batchesBefore, changesBefore := rec.counts()
	b.log.Info("following", "table", followTable)

	var probe *poller
	probeCtx, stopProbe := context.WithCancel(ctx)
	defer stopProbe()
	probeDone := make(chan error, 1)
	if o.followProbe {
		probe = &poller{streams: b.streams, seen: map[string]time.Time{}, written: map[string]int64{}}
		arn, err := b.streamARN(ctx, followTable)
		if err != nil {
			return nil, err
		}
		go func() { probeDone <- probe.run(probeCtx, arn) }()
	}

	if res.Writing, err = b.steadyWrites(ctx, res.Written); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, settleTimeout, func() bool { n, _, _ := rec.counts(); return n >= res.Written }, engineErr); err != nil {
		n, _, _ := rec.counts()
		return nil, fmt.Errorf("%d of %d items committed: %w", n, res.Written, err)
	}
	_, batchesAfter, changesAfter := rec.counts()
	res.Batches = batchesAfter - batchesBefore
	res.BatchChanges = changesAfter - changesBefore
	res.Apply = summarise(rec.applyTimes(batchesBefore))
	if probe != nil {
		// The poller polls every 50 ms: it has seen everything by now, or
		// it never will.
		time.Sleep(5 * probeEvery)
		stopProbe()
		if err := <-probeDone; err != nil && !errors.Is(err, context.Canceled) {
			return nil, fmt.Errorf("bare poller: %w", err)
		}
		res.Probe = summarise(probe.lags())
	}
	if out := wait(); out.err != nil {
		return nil, fmt.Errorf("the engine: %w", out.err)
	}
	res.Lag = summarise(rec.lags())
	return res, b.deleteTable(ctx, followTable)
}

// steadyWrites puts n items at the configured rate, item i (from 1) due at
// (i−1)/rate after the start, each with written_at set just before its
// PutItem, and returns the time from the first PutItem to the last.
func (b *bench) steadyWrites(ctx context.Context, n int) (time.Duration, error) {
	interval := time.Second / time.Duration(b.opts.followRate)
	g, gctx := errgroup.WithContext(ctx)
	jobs := make(chan int)
	start := time.Now()
	g.Go(func() error {
		defer close(jobs)
		for i := 1; i <= n; i++ {
			if d := time.Until(start.Add(time.Duration(i-1) * interval)); d > 0 {
				select {
				case <-time.After(d):
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			select {
			case jobs <- i:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	var mu sync.Mutex
	var last time.Time
	for range followWriters {
		g.Go(func() error {
			for i := range jobs {
				item := fixture.BulkItem(i, b.opts.itemBytes)
				item[writtenAt] = &types.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().UnixNano(), 10)}
				if _, err := b.client.PutItem(gctx, &dynamodb.PutItemInput{TableName: aws.String(followTable), Item: item}); err != nil {
					return err
				}
				mu.Lock()
				last = time.Now()
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return last.Sub(start), nil
}

func (b *bench) streamARN(ctx context.Context, table string) (string, error) {
	d, err := b.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return "", err
	}
	if arn := aws.ToString(d.Table.LatestStreamArn); arn != "" {
		return arn, nil
	}
	return "", fmt.Errorf("table %s has no stream", table)
}

// waitFor polls cond every 20 ms until it holds, failing after timeout or
// when stopped reports an error.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool, stopped func() error) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if err := stopped(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %s", timeout)
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// poller reads every open shard of a stream with a GetRecords call every
// probeEvery, and notes when each item with written_at first shows up: the
// delivery delay of the stream source itself.
type poller struct {
	streams *dynamodbstreams.Client

	mu      sync.Mutex
	seen    map[string]time.Time
	written map[string]int64
}

func (p *poller) run(ctx context.Context, arn string) error {
	info, err := source.DescribeShards(ctx, p.streams, arn)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, sh := range info.Shards {
		if !sh.Open() {
			continue
		}
		g.Go(func() error { return p.shard(gctx, arn, sh.ID) })
	}
	return g.Wait()
}

func (p *poller) shard(ctx context.Context, arn, shard string) error {
	it, err := p.streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn:         aws.String(arn),
		ShardId:           aws.String(shard),
		ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		return err
	}
	iter := it.ShardIterator
	for iter != nil {
		out, err := p.streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			return err
		}
		now := time.Now()
		p.mu.Lock()
		for _, rec := range out.Records {
			if rec.Dynamodb == nil {
				continue
			}
			id, ok1 := rec.Dynamodb.NewImage["id"].(*streamtypes.AttributeValueMemberS)
			w, ok2 := rec.Dynamodb.NewImage[writtenAt].(*streamtypes.AttributeValueMemberN)
			if !ok1 || !ok2 {
				continue
			}
			if _, dup := p.seen[id.Value]; dup {
				continue
			}
			if ns, err := strconv.ParseInt(w.Value, 10, 64); err == nil {
				p.seen[id.Value], p.written[id.Value] = now, ns
			}
		}
		p.mu.Unlock()
		iter = out.NextShardIterator
		select {
		case <-time.After(probeEvery):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (p *poller) lags() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]time.Duration, 0, len(p.seen))
	for id, at := range p.seen {
		out = append(out, at.Sub(time.Unix(0, p.written[id])))
	}
	return out
}
