package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dynamosync/dynamosync/internal/fixture"
	source "github.com/dynamosync/dynamosync/internal/source/dynamodb"
)

const largeTable = "bench_large"

// largeResult is part 2: one snapshot of a large table with the segment
// count dynamosync chooses by itself.
type largeResult struct {
	Items int
	// ItemBytes is the items' own size (as in part 1); DescribedBytes is
	// the table's TableSizeBytes from DescribeTable, 0 when the endpoint
	// reports none.
	ItemBytes, DescribedBytes int64
	// Segments is source.Segments of DescribedBytes, or of ItemBytes when
	// DescribedBytes is 0: the count dynamosync chooses with
	// TOTAL_SEGMENTS 0.
	Segments int
	// MinUnits is the least read capacity a scan consumes (of ItemBytes,
	// as in part 1).
	MinUnits   float64
	Load       time.Duration
	Bound      scanResult
	Sync       syncRun // TOTAL_SEGMENTS 0, into DuckDB
	Live, Dead int64
}

// SizeBytes is the size the segment count was computed from.
func (l *largeResult) SizeBytes() int64 {
	if l.DescribedBytes > 0 {
		return l.DescribedBytes
	}
	return l.ItemBytes
}

func (b *bench) large(ctx context.Context) (*largeResult, error) {
	o := b.opts
	res := &largeResult{Items: o.largeItems}
	start := time.Now()
	if err := fixture.LoadBulk(ctx, b.client, largeTable, o.largeItems, o.itemBytes, o.workers); err != nil {
		return nil, err
	}
	res.Load = time.Since(start)
	b.log.Info("table loaded", "table", largeTable, "items", o.largeItems, "seconds", res.Load.Seconds())
	res.ItemBytes = bulkBytes(o.largeItems, o.itemBytes)
	res.MinUnits = leastUnits(res.ItemBytes)
	out, err := b.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(largeTable)})
	if err != nil {
		return nil, fmt.Errorf("describe table %s: %w", largeTable, err)
	}
	res.DescribedBytes = aws.ToInt64(out.Table.TableSizeBytes)
	res.Segments = source.Segments(res.SizeBytes())
	b.log.Info("segments", "table_size_bytes", res.DescribedBytes, "item_bytes", res.ItemBytes, "segments", res.Segments)

	// One scan that is not measured, as in part 1: DynamoDB Local settles
	// after a load.
	if _, err := b.bareScan(ctx, largeTable, res.Segments); err != nil {
		return nil, fmt.Errorf("warm-up scan: %w", err)
	}
	if res.Bound, err = b.bareScan(ctx, largeTable, res.Segments); err != nil {
		return nil, fmt.Errorf("bare scan: %w", err)
	}
	if res.Bound.Items != int64(o.largeItems) {
		return nil, fmt.Errorf("bare scan read %d items, want %d", res.Bound.Items, o.largeItems)
	}
	b.log.Info("bare scan", "segments", res.Segments, "items_per_s", rate(res.Bound.Items, res.Bound.Duration))

	dest := filepath.Join(o.work, "large.duckdb")
	removeDuckDB(dest)
	defer removeDuckDB(dest)
	if res.Sync, res.Live, res.Dead, err = b.syncDuckDB(ctx, "large", largeTable, dest, 0, o.largeItems); err != nil {
		return nil, err
	}
	if res.Sync.Summary.Segments != res.Segments {
		// Reported, not an error: the figures still stand.
		b.log.Warn("the sync chose another segment count", "summary", res.Sync.Summary.Segments, "computed", res.Segments)
	}
	b.log.Info("sync", "segments", res.Sync.Summary.Segments, "items_per_s", rate(res.Sync.Summary.Items, res.Sync.Wall),
		"max_rss_mib", res.Sync.MaxRSS>>20)
	return res, b.deleteTable(ctx, largeTable)
}
