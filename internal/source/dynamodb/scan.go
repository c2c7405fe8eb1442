package dynamodb

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/semaphore"
)

// ScanAPI is what a segment scan needs from a DynamoDB client.
type ScanAPI interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Page is one Scan response of one segment.
type Page struct {
	Segment int
	Items   []map[string]types.AttributeValue
	// LastKey is the page's LastEvaluatedKey; nil on the segment's last page.
	LastKey map[string]types.AttributeValue
	// Capacity is the read capacity the page consumed.
	Capacity float64
}

// Scanner scans table segments. Every Scan request holds one unit of
// Requests from before it is sent until its page has been handed on, which
// bounds both requests in flight and pages held in memory across all tables.
type Scanner struct {
	Client         ScanAPI
	Requests       *semaphore.Weighted
	ConsistentRead bool
	// Budget, when set, limits the read capacity the scans consume: every
	// request first waits for the units its page is expected to consume
	// (before it takes a unit of Requests). A table's segments share one
	// Budget; see WithBudget. nil is no limit.
	Budget *Budget
}

// WithBudget returns a copy of s, sharing its Client and Requests, whose
// scans draw on b (nil: no limit).
func (s *Scanner) WithBudget(b *Budget) *Scanner {
	c := *s
	c.Budget = b
	return &c
}

// maxThrottledRetries is how many times in a row a segment with a Budget
// sends a request again that failed with a throttling error after the SDK's
// own retries, at the budget's lowered rate, before giving up.
const maxThrottledRetries = 5

// Segment scans one segment of table from start (nil: the beginning) to its
// end with full 1 MB pages, calling emit for every page in order. emit may
// block: it is the back-pressure from the destination.
//
// With a Budget, each request waits for the units the segment's previous
// page consumed (a full page for the first), and the difference from what
// it consumed is settled after the answer. Throttled attempts, the SDK's
// retries included, lower the budget's rate; a request that stays throttled
// through the SDK's retries is sent again, at the lowered rate, up to
// maxThrottledRetries times in a row.
func (s *Scanner) Segment(ctx context.Context, table string, segment, total int, start map[string]types.AttributeValue, emit func(context.Context, Page) error) error {
	b := s.Budget
	var opts []func(*dynamodb.Options)
	var expect float64 // units the next page is expected to consume
	if b != nil {
		opts = append(opts, observeThrottles(b))
		expect = b.FirstPage()
	}
	throttled := 0
	in := &dynamodb.ScanInput{
		TableName:              aws.String(table),
		Segment:                aws.Int32(int32(segment)),
		TotalSegments:          aws.Int32(int32(total)),
		ConsistentRead:         aws.Bool(s.ConsistentRead),
		ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
		ExclusiveStartKey:      start,
	}
	for {
		if b != nil {
			if err := b.Wait(ctx, expect); err != nil {
				return err
			}
		}
		if err := s.Requests.Acquire(ctx, 1); err != nil {
			return err
		}
		out, err := s.Client.Scan(ctx, in, opts...)
		if err != nil {
			s.Requests.Release(1)
			if b != nil {
				if IsThrottling(err) && ctx.Err() == nil {
					b.Throttled()
					if throttled < maxThrottledRetries {
						// The units waited for stay charged: the request
						// is sent again once its page's units are
						// granted again at the lowered rate.
						throttled++
						continue
					}
				}
				b.Settle(expect, 0) // a failed request consumed nothing
			}
			return fmt.Errorf("scan %s segment %d: %w", table, segment, Classify(err, "Scan", table))
		}
		throttled = 0
		page := Page{Segment: segment, Items: out.Items, LastKey: out.LastEvaluatedKey}
		if out.ConsumedCapacity != nil {
			page.Capacity = aws.ToFloat64(out.ConsumedCapacity.CapacityUnits)
		}
		if b != nil && out.ConsumedCapacity != nil {
			b.Settle(expect, page.Capacity)
			if page.Capacity > 0 {
				expect = page.Capacity
			}
		}
		if len(page.LastKey) == 0 {
			page.LastKey = nil
		}
		err = emit(ctx, page)
		s.Requests.Release(1)
		if err != nil {
			return err
		}
		if page.LastKey == nil {
			return nil
		}
		in.ExclusiveStartKey = page.LastKey
	}
}

// Segments is the default number of scan segments for a table of the given
// size: one per 8 MiB, at least 1 and at most 1000. A table under 8 MiB is
// scanned in one segment, a 1 GiB table in 128, one of 8 GiB or more in
// 1000. Segments cost nothing but their last, partial page: how many
// requests run at once is bounded separately (MAX_PARALLEL_REQUESTS), and
// smaller segments make finer checkpoints and spread a table's pages over
// more of its partitions (BENCHMARKS.md measures scan throughput by
// segment count).
func Segments(sizeBytes int64) int {
	const per = 8 << 20
	n := (sizeBytes + per - 1) / per
	return int(min(max(n, 1), 1000))
}
