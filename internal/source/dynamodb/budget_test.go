package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/dynamosync/dynamosync/internal/fixture"
	"github.com/dynamosync/dynamosync/internal/testenv"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) now() time.Time { return c.t }

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestBudgetRate(t *testing.T) {
	tests := []struct {
		name         string
		readCapacity int64
		percent      int
		max          float64
		want         float64
	}{
		{"on-demand without a cap: no limit", 0, 50, 0, 0},
		{"on-demand with a cap", 0, 50, 100, 100},
		{"provisioned at the default percent", 200, 50, 0, 100},
		{"provisioned at 25 percent", 200, 25, 0, 50},
		{"provisioned at 100 percent", 1000, 100, 0, 1000},
		{"provisioned at 1 percent", 300, 1, 0, 3},
		{"fraction of a unit", 5, 50, 0, 2.5},
		{"cap below the percent", 200, 50, 30, 30},
		{"cap above the percent", 200, 50, 500, 100},
		{"cap equal to the percent", 200, 50, 100, 100},
		{"fractional cap", 0, 50, 0.5, 0.5},
		{"no percent (engine zero value)", 200, 0, 0, 0},
		{"no percent with a cap", 200, 0, 10, 10},
		{"percent above 100 is 100", 200, 150, 0, 200},
		{"negative cap is no cap", 200, 50, -1, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := BudgetRate(tt.readCapacity, tt.percent, tt.max); !near(got, tt.want) {
				t.Fatalf("BudgetRate(%d, %d, %g) = %g, want %g", tt.readCapacity, tt.percent, tt.max, got, tt.want)
			}
		})
	}
}

func TestNewBudget(t *testing.T) {
	tests := []struct {
		name       string
		rate       float64
		consistent bool
		nilBudget  bool
		burst      float64
		firstPage  float64
	}{
		{"zero is no limit", 0, false, true, 0, 0},
		{"negative is no limit", -5, false, true, 0, 0},
		{"NaN is no limit", math.NaN(), false, true, 0, 0},
		{"infinity is no limit", math.Inf(1), false, true, 0, 0},
		{"small rate: burst of a full page", 10, false, false, PageUnitsEventual, PageUnitsEventual},
		{"small rate, strongly consistent", 10, true, false, PageUnitsStrong, PageUnitsStrong},
		{"rate above a page: burst of one second", 1000, false, false, 1000, PageUnitsEventual},
		{"rate between the two page sizes", 200, true, false, PageUnitsStrong, PageUnitsStrong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBudget(tt.rate, tt.consistent)
			if tt.nilBudget {
				if b != nil {
					t.Fatalf("NewBudget(%g) = %+v, want nil", tt.rate, b)
				}
				return
			}
			if b == nil {
				t.Fatalf("NewBudget(%g) = nil", tt.rate)
			}
			if b.Configured() != tt.rate || b.Rate() != tt.rate {
				t.Errorf("configured %g, rate %g, want %g", b.Configured(), b.Rate(), tt.rate)
			}
			if b.Burst() != tt.burst || b.FirstPage() != tt.firstPage {
				t.Errorf("burst %g, first page %g, want %g and %g", b.Burst(), b.FirstPage(), tt.burst, tt.firstPage)
			}
		})
	}
}

// TestBudgetThrottleAndRecovery follows the rate of a budget of 100 units
// per second through throttling and recovery on a fake clock.
func TestBudgetThrottleAndRecovery(t *testing.T) {
	type step struct {
		at       time.Duration // since the budget was made
		throttle bool
		want     float64 // rate after the step
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"no throttling: the configured rate", []step{{0, false, 100}, {time.Hour, false, 100}}},
		{"one throttle halves the rate", []step{{time.Second, true, 50}, {1500 * time.Millisecond, false, 50}}},
		{"throttles within a second are one event", []step{
			{0, true, 50}, {100 * time.Millisecond, true, 50}, {999 * time.Millisecond, true, 50}, {time.Second, true, 25},
		}},
		{"not below a tenth of the configured rate", []step{
			{0, true, 50}, {1 * time.Second, true, 25}, {2 * time.Second, true, 12.5}, {3 * time.Second, true, 10}, {4 * time.Second, true, 10},
		}},
		{"recovers a tenth of the configured rate every 5 s", []step{
			{0, true, 50}, {4999 * time.Millisecond, false, 50}, {5 * time.Second, false, 60},
			{10 * time.Second, false, 70}, {19 * time.Second, false, 80}, {25 * time.Second, false, 100},
		}},
		{"never above the configured rate", []step{
			{0, true, 50}, {24 * time.Second, false, 90}, {26 * time.Second, false, 100}, {time.Hour, false, 100},
		}},
		{"recovery from the floor in steps", []step{
			{0, true, 50}, {time.Second, true, 25}, {2 * time.Second, true, 12.5}, {3 * time.Second, true, 10},
			{8 * time.Second, false, 20}, {12 * time.Second, false, 20}, {13 * time.Second, false, 30},
			{48 * time.Second, false, 100},
		}},
		{"a throttle during recovery starts the wait again", []step{
			{0, true, 50}, {5 * time.Second, false, 60}, {7 * time.Second, true, 30},
			{11900 * time.Millisecond, false, 30}, {12 * time.Second, false, 40},
		}},
		{"a throttle after full recovery halves the configured rate", []step{
			{0, true, 50}, {time.Minute, false, 100}, {time.Minute + time.Second, true, 50},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			start := clock.t
			b := newBudget(100, false, clock.now)
			throttles := 0
			for _, s := range tt.steps {
				clock.t = start.Add(s.at)
				if s.throttle {
					b.Throttled()
					throttles++
				}
				if got := b.Rate(); !near(got, s.want) {
					t.Fatalf("at %v: rate %g, want %g", s.at, got, s.want)
				}
				if b.Rate() > b.Configured() {
					t.Fatalf("at %v: rate %g above the configured %g", s.at, b.Rate(), b.Configured())
				}
			}
			if b.Throttles() != throttles {
				t.Errorf("%d throttles counted, want %d", b.Throttles(), throttles)
			}
		})
	}
}

// TestBudgetReservations checks the waits a budget of 100 units per second
// (burst 128, a full eventually consistent page) asks for on a fake clock.
func TestBudgetReservations(t *testing.T) {
	type op struct {
		at       time.Duration
		kind     string // "wait", "settle", "throttle"
		units    float64
		actual   float64       // for settle: expected = units
		wantWait time.Duration // for wait
	}
	ms := time.Millisecond
	tests := []struct {
		name string
		ops  []op
	}{
		{"the full bucket grants the burst at once, then the rate", []op{
			{0, "wait", 128, 0, 0},
			{0, "wait", 100, 0, time.Second},
			{0, "wait", 50, 0, 1500 * ms},
			{3 * time.Second, "wait", 50, 0, 0}, // the bucket refilled (to the burst)
		}},
		{"a page larger than expected delays the next request", []op{
			{0, "wait", 28, 0, 0},
			{0, "settle", 28, 128, 0}, // the bucket is empty
			{0, "wait", 50, 0, 500 * ms},
		}},
		{"a page smaller than expected credits the next request", []op{
			{0, "wait", 128, 0, 0},
			{0, "wait", 100, 0, time.Second},
			{0, "settle", 100, 40, 0}, // 60 units back
			{0, "wait", 60, 0, 0},
			{0, "wait", 10, 0, 1100 * ms},
		}},
		{"credit never adds to a full bucket", []op{
			{0, "wait", 10, 0, 0},
			{0, "settle", 10, 0, 0},          // 10 back: the bucket holds 128 again
			{time.Second, "wait", 128, 0, 0}, // the credit expired as the bucket refilled
			{time.Second, "wait", 1, 0, 10 * ms},
		}},
		{"a failed request is not charged", []op{
			{0, "wait", 128, 0, 0},
			{0, "settle", 128, 0, 0},
			{0, "wait", 128, 0, 0},
			{0, "wait", 1, 0, 10 * ms},
		}},
		{"throttling slows the requests after it", []op{
			{0, "wait", 128, 0, 0},
			{0, "throttle", 0, 0, 0},
			{0, "wait", 50, 0, time.Second},
		}},
		{"a wait is at most the burst", []op{
			{0, "wait", 128, 0, 0},
			{0, "wait", 1000, 0, 1280 * ms},
		}},
		{"nothing to wait for", []op{
			{0, "wait", 128, 0, 0},
			{0, "wait", 0, 0, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			start := clock.t
			b := newBudget(100, false, clock.now)
			for i, o := range tt.ops {
				clock.t = start.Add(o.at)
				switch o.kind {
				case "wait":
					if got := b.reserve(o.units); got != o.wantWait {
						t.Fatalf("op %d: wait for %g units at %v: %v, want %v", i, o.units, o.at, got, o.wantWait)
					}
				case "settle":
					b.Settle(o.units, o.actual)
				case "throttle":
					b.Throttled()
				}
			}
		})
	}
}

func TestBudgetBurstGrowsToTheLargestPage(t *testing.T) {
	clock := newFakeClock()
	b := newBudget(10, false, clock.now)
	b.reserve(128)
	b.Settle(128, 175) // a page of 1 MB plus a large last item
	if b.Burst() != 175 {
		t.Fatalf("burst %g, want 175", b.Burst())
	}
	// 47 units of debt at 10 per second.
	if got := b.reserve(175); got != 22200*time.Millisecond {
		t.Fatalf("wait %v", got)
	}
}

func TestBudgetWaitEndsWithContext(t *testing.T) {
	b := NewBudget(1, false)
	if err := b.Wait(context.Background(), 128); err != nil { // the full bucket
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := b.Wait(ctx, 100); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("wait took %v after the context ended", d)
	}
}

// fakeScan answers Scan requests from a list of results, in order.
type fakeScan struct {
	mu      sync.Mutex
	results []func() (*dynamodb.ScanOutput, error)
	calls   int
}

func (f *fakeScan) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := min(f.calls, len(f.results)-1)
	f.calls++
	return f.results[i]()
}

var errThrottled = &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException", Message: "slow down"}

func throttledAnswer() (*dynamodb.ScanOutput, error) { return nil, errThrottled }

func pageAnswer() (*dynamodb.ScanOutput, error) {
	return &dynamodb.ScanOutput{
		Items:            []map[string]types.AttributeValue{{"id": &types.AttributeValueMemberS{Value: "a"}}},
		ConsumedCapacity: &types.ConsumedCapacity{CapacityUnits: aws.Float64(0.5)},
	}, nil
}

func TestSegmentWithBudgetRetriesThrottledRequests(t *testing.T) {
	tests := []struct {
		name      string
		budget    bool
		results   []func() (*dynamodb.ScanOutput, error)
		wantErr   bool
		wantCalls int
	}{
		{"no budget: a throttled request fails the segment as before", false,
			[]func() (*dynamodb.ScanOutput, error){throttledAnswer, pageAnswer}, true, 1},
		{"budget: sent again at the lowered rate", true,
			[]func() (*dynamodb.ScanOutput, error){throttledAnswer, throttledAnswer, pageAnswer}, false, 3},
		{"budget: gives up when throttling persists", true,
			[]func() (*dynamodb.ScanOutput, error){throttledAnswer}, true, maxThrottledRetries + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := &fakeScan{results: tt.results}
			s := &Scanner{Client: client, Requests: semaphore.NewWeighted(1)}
			var b *Budget
			if tt.budget {
				b = NewBudget(1000, false)
				s = s.WithBudget(b)
			}
			items := 0
			err := s.Segment(t.Context(), "t", 0, 1, nil, func(_ context.Context, p Page) error {
				items += len(p.Items)
				return nil
			})
			if (err != nil) != tt.wantErr || client.calls != tt.wantCalls {
				t.Fatalf("error %v after %d calls, want error %v after %d", err, client.calls, tt.wantErr, tt.wantCalls)
			}
			if err != nil && !IsThrottling(err) {
				t.Errorf("error %v is not a throttling error", err)
			}
			if !tt.wantErr && items != 1 {
				t.Errorf("%d items emitted", items)
			}
			if b != nil {
				if b.Throttles() == 0 || b.Rate() >= b.Configured() {
					t.Errorf("throttles %d, rate %g of %g", b.Throttles(), b.Rate(), b.Configured())
				}
			}
		})
	}
}

// loadTable fills a table of n bulk items of about itemBytes each:
// on-demand when readCapacity is 0, provisioned with readCapacity read
// (and write) units otherwise.
func loadTable(t *testing.T, ctx context.Context, client *dynamodb.Client, name string, n, itemBytes int, readCapacity int64) {
	t.Helper()
	if readCapacity == 0 {
		if err := fixture.LoadBulk(ctx, client, name, n, itemBytes, 0); err != nil {
			t.Fatal(err)
		}
		return
	}
	in := fixture.BulkCreate(name)
	in.BillingMode = types.BillingModeProvisioned
	in.ProvisionedThroughput = &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(readCapacity), WriteCapacityUnits: aws.Int64(readCapacity)}
	if err := fixture.CreateTable(ctx, client, in); err != nil {
		t.Fatal(err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fixture.DefaultWorkers)
	for i := 0; i < n; i += fixture.BatchSize {
		g.Go(func() error {
			var items []fixture.Item
			for j := i; j < min(i+fixture.BatchSize, n); j++ {
				items = append(items, fixture.BulkItem(j, itemBytes))
			}
			return fixture.WriteBatch(gctx, client, name, items)
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// budgetScan scans every segment of table at once through s and returns
// the distinct items read, the units consumed and the time taken.
func budgetScan(t *testing.T, ctx context.Context, s *Scanner, table string, segments int) (items int, units float64, elapsed time.Duration) {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]bool{}
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for seg := range segments {
		g.Go(func() error {
			return s.Segment(gctx, table, seg, segments, nil, func(_ context.Context, p Page) error {
				mu.Lock()
				defer mu.Unlock()
				units += p.Capacity
				for _, item := range p.Items {
					seen[item["id"].(*types.AttributeValueMemberS).Value] = true
				}
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	return len(seen), units, time.Since(start)
}

// TestBudgetLimitsScanRate scans tables of 3,000 items of about 1 KB
// (about 375 read units eventually consistent) in 4 segments (and 1) on DynamoDB
// Local under a budget from the table's description and checks the rate
// the scan consumed.
//
// The bucket starts full, so a scan may consume the burst at once and then
// no more than the rate: after elapsed seconds it has consumed at most
// burst + rate·elapsed units. The check is therefore
// (units − burst) / elapsed ≤ rate × 1.1; the 10 % leave room for a page
// that consumes more than the segment's previous one (charged after the
// fact). The plain units / elapsed is logged: with only ~375 units it is
// dominated by the burst of 128.
func TestBudgetLimitsScanRate(t *testing.T) {
	const (
		n         = 3000
		itemBytes = 1024
	)
	tests := []struct {
		name         string
		readCapacity int64 // 0: on-demand
		percent      int
		maxUnits     float64
		want         float64 // the budget's rate
		segments     int
	}{
		{"on-demand with MAX_READ_UNITS_PER_SECOND 100", 0, 50, 100, 100, 4},
		{"provisioned 200 RCU at READ_CAPACITY_PERCENT 25", 200, 25, 0, 50, 4},
		// One segment reads the table in several full pages, each expected
		// from the one before.
		{"on-demand with MAX_READ_UNITS_PER_SECOND 100, one segment", 0, 50, 100, 100, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := testenv.Context(t, 2*time.Minute)
			client := testenv.DynamoDBClient(t)
			table := testenv.UniqueName(t, "budget")
			loadTable(t, ctx, client, table, n, itemBytes, tt.readCapacity)
			info, err := Describe(ctx, client, table)
			if err != nil {
				t.Fatal(err)
			}
			if info.ReadCapacity != tt.readCapacity {
				t.Fatalf("described read capacity %d, want %d", info.ReadCapacity, tt.readCapacity)
			}
			r := BudgetRate(info.ReadCapacity, tt.percent, tt.maxUnits)
			if r != tt.want {
				t.Fatalf("budget rate %g, want %g", r, tt.want)
			}
			b := NewBudget(r, false)
			s := (&Scanner{Client: client, Requests: semaphore.NewWeighted(16)}).WithBudget(b)
			items, units, elapsed := budgetScan(t, ctx, s, table, tt.segments)
			secs := elapsed.Seconds()
			t.Logf("budget %g units/s (burst %g), %d segments: %d items, %.1f units in %.2f s: %.1f units/s, %.1f units/s after the burst",
				r, b.Burst(), tt.segments, items, units, secs, units/secs, (units-b.Burst())/secs)
			if items != n {
				t.Fatalf("read %d distinct items, want %d", items, n)
			}
			if units < 300 {
				t.Fatalf("only %.1f units consumed: the table is smaller than meant", units)
			}
			if got := (units - b.Burst()) / secs; got > r*1.1 {
				t.Errorf("consumed %.1f units/s after the burst, above %g × 1.1", got, r)
			}
			// Not needlessly slow either: the segments' first requests
			// expect a full page each, so the scan may take up to
			// (segments·page − burst)/rate longer than units/rate.
			if limit := 2*units/r + 1; secs > limit {
				t.Errorf("took %.2f s, more than %.2f s", secs, limit)
			}
		})
	}
}

// TestBudgetBacksOffWhenThrottled scans through a proxy that throttles
// every other Scan request: the SDK retries them, the budget sees every
// throttled attempt and lowers its rate, and the scan reads every item.
func TestBudgetBacksOffWhenThrottled(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	client := testenv.DynamoDBClient(t)
	table := testenv.UniqueName(t, "throttle")
	const n = 1000
	loadTable(t, ctx, client, table, n, 1024, 0)
	proxy := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	proxied := testenv.DynamoDBClientAt(proxy.URL, func(o *dynamodb.Options) {
		o.Retryer = retry.AddWithMaxBackoffDelay(retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 3
		}), 10*time.Millisecond)
	})
	proxy.Throttle("Scan", 2)
	b := NewBudget(1000, false)
	s := (&Scanner{Client: proxied, Requests: semaphore.NewWeighted(4)}).WithBudget(b)
	items, units, elapsed := budgetScan(t, ctx, s, table, 4)
	t.Logf("%d items, %.1f units in %v; %d throttles seen, rate now %g of %g; %d Scan requests",
		items, units, elapsed.Round(time.Millisecond), b.Throttles(), b.Rate(), b.Configured(), proxy.Count("Scan"))
	if items != n {
		t.Fatalf("read %d distinct items, want %d", items, n)
	}
	if b.Throttles() == 0 || b.Rate() >= b.Configured() || b.Rate() < b.Configured()*MinRateFraction {
		t.Fatalf("throttles %d, rate %g of %g", b.Throttles(), b.Rate(), b.Configured())
	}
}

func ExampleBudgetRate() {
	// A table provisioned with 200 read units, READ_CAPACITY_PERCENT 25
	// and no MAX_READ_UNITS_PER_SECOND.
	fmt.Println(BudgetRate(200, 25, 0))
	// An on-demand table with MAX_READ_UNITS_PER_SECOND 100.
	fmt.Println(BudgetRate(0, 50, 100))
	// An on-demand table without: no limit.
	fmt.Println(BudgetRate(0, 50, 0))
	// Output:
	// 50
	// 100
	// 0
}
