package dynamodb

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"
)

// Read capacity budget settings.
const (
	// PageUnitsEventual and PageUnitsStrong are the read units of a full
	// 1 MB Scan page: 1 MB / 4 KB per unit, halved for eventually
	// consistent reads. A segment's first request expects a full page.
	PageUnitsEventual = 128
	PageUnitsStrong   = 256

	// ThrottleFactor multiplies the rate of a budget whose table throttled
	// a request; the rate never falls below MinRateFraction of the
	// configured rate.
	ThrottleFactor  = 0.5
	MinRateFraction = 0.1
	// RecoverStep of the configured rate is given back every RecoverEvery
	// without throttling, up to the configured rate.
	RecoverStep  = 0.1
	RecoverEvery = 5 * time.Second
	// ThrottleHold is how long after one decrease further throttles are
	// counted without lowering the rate again: the segments of a table
	// running into the same throttling together, and the SDK's retries of
	// one request, count as one event.
	ThrottleHold = time.Second

	// tokensPerUnit is the resolution of the token bucket: a hundredth of
	// a read unit (eventually consistent reads come in halves).
	tokensPerUnit = 100
	// maxTokens bounds the burst of the token bucket (an int).
	maxTokens = 1 << 50
)

// BudgetRate is the read units per second a snapshot of a table may
// consume: percent of its provisioned readCapacity (0 for on-demand tables)
// and at most maxUnitsPerSecond when that is above 0, whichever is
// smaller. It is 0, no limit, for an on-demand table without
// maxUnitsPerSecond, or when percent is 0 and maxUnitsPerSecond too.
func BudgetRate(readCapacity int64, percent int, maxUnitsPerSecond float64) float64 {
	var r float64
	if readCapacity > 0 && percent > 0 {
		r = float64(readCapacity) * float64(min(percent, 100)) / 100
	}
	if maxUnitsPerSecond > 0 && !math.IsInf(maxUnitsPerSecond, 1) && (r == 0 || maxUnitsPerSecond < r) {
		r = maxUnitsPerSecond
	}
	return r
}

// Budget limits the read capacity the segment scans of one table consume:
// a token bucket of read units per second, shared by the table's segments
// (see Scanner.Budget). Before each Scan request a segment waits for the
// units its page is expected to consume; after the answer the difference
// from the units it did consume is settled. Throttling lowers the rate,
// which recovers gradually. A nil *Budget is no limit. A Budget is safe for
// concurrent use.
type Budget struct {
	now func() time.Time

	mu         sync.Mutex
	lim        *rate.Limiter
	configured float64 // units per second asked for
	current    float64 // units per second now, lowered by throttling
	burst      float64 // units the bucket holds at most
	page       float64 // expected units of a segment's first page
	credit     float64 // units paid for but not consumed, for later requests
	changed    time.Time
	throttled  time.Time // last decrease
	throttles  int
}

// NewBudget returns a budget of unitsPerSecond read units per second for
// scans with the given consistency, or nil (no limit) when unitsPerSecond
// is not above 0. Its bucket holds unitsPerSecond or a full page's units,
// whichever is more (and grows to the largest page seen), and starts full.
func NewBudget(unitsPerSecond float64, consistentRead bool) *Budget {
	return newBudget(unitsPerSecond, consistentRead, time.Now)
}

func newBudget(unitsPerSecond float64, consistentRead bool, now func() time.Time) *Budget {
	if !(unitsPerSecond > 0) || math.IsInf(unitsPerSecond, 1) {
		return nil
	}
	page := float64(PageUnitsEventual)
	if consistentRead {
		page = PageUnitsStrong
	}
	burst := max(unitsPerSecond, page)
	t := now()
	b := &Budget{
		now:        now,
		configured: unitsPerSecond,
		current:    unitsPerSecond,
		burst:      burst,
		page:       page,
		changed:    t,
		lim:        rate.NewLimiter(rate.Limit(unitsPerSecond*tokensPerUnit), tokens(burst)),
	}
	b.lim.SetLimitAt(t, rate.Limit(unitsPerSecond*tokensPerUnit)) // start the bucket's clock: full at t
	return b
}

// tokens converts read units to bucket tokens, rounding up.
func tokens(units float64) int {
	return int(min(math.Ceil(units*tokensPerUnit), maxTokens))
}

// Configured is the rate the budget was made with, in read units per second.
func (b *Budget) Configured() float64 { return b.configured }

// Rate is the rate in force now, in read units per second: the configured
// rate, or less after throttling.
func (b *Budget) Rate() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recover(b.now())
	return b.current
}

// Burst is the most read units the budget grants at once.
func (b *Budget) Burst() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.burst
}

// Throttles counts the throttling events reported with Throttled.
func (b *Budget) Throttles() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.throttles
}

// FirstPage is what a segment's first request is expected to consume: a
// full 1 MB page, at most the burst.
func (b *Budget) FirstPage() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return min(b.page, b.burst)
}

// Wait blocks until units read units (at most the burst) may be consumed,
// or ctx ends.
func (b *Budget) Wait(ctx context.Context, units float64) error {
	d := b.reserve(units)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// reserve takes units from the credit and then from the bucket and returns
// how long to wait before consuming them.
func (b *Budget) reserve(units float64) time.Duration {
	if !(units > 0) {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.recover(now)
	b.capCredit(now)
	use := min(b.credit, units)
	b.credit -= use
	units -= use
	if units <= 0 {
		return 0
	}
	r := b.lim.ReserveN(now, tokens(min(units, b.burst)))
	return r.DelayFrom(now)
}

// Settle corrects a request that waited for expected units and consumed
// actual ones. More than expected is charged to the bucket at once, which
// delays the requests after it; less is credited to the next requests.
func (b *Budget) Settle(expected, actual float64) {
	expected, actual = max(expected, 0), max(actual, 0)
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if actual > b.burst {
		b.burst = actual
		b.lim.SetBurstAt(now, tokens(actual))
	}
	switch {
	case actual > expected:
		for extra := actual - expected; extra > 0; {
			n := min(extra, b.burst)
			b.lim.ReserveN(now, tokens(n))
			extra -= n
		}
	case actual < expected:
		b.credit += expected - actual
		b.capCredit(now)
	}
}

// capCredit keeps the credit to what giving the units back to the bucket
// would have left in it: tokens and credit together never exceed the burst.
func (b *Budget) capCredit(now time.Time) {
	room := b.burst - b.lim.TokensAt(now)/tokensPerUnit
	b.credit = max(min(b.credit, room), 0)
}

// Throttled reports that the table throttled a request: the rate drops to
// ThrottleFactor of what it is, not below MinRateFraction of the configured
// rate. Throttles within ThrottleHold of the last decrease are counted but
// lower nothing.
func (b *Budget) Throttled() {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.throttles++
	b.recover(now)
	if !b.throttled.IsZero() && now.Sub(b.throttled) < ThrottleHold {
		return
	}
	b.throttled, b.changed = now, now
	b.setRate(now, max(b.current*ThrottleFactor, b.configured*MinRateFraction))
}

// recover raises a lowered rate by RecoverStep of the configured rate for
// every RecoverEvery since the last change, up to the configured rate.
func (b *Budget) recover(now time.Time) {
	if b.current >= b.configured {
		return
	}
	steps := now.Sub(b.changed) / RecoverEvery
	if steps <= 0 {
		return
	}
	b.changed = b.changed.Add(steps * RecoverEvery)
	b.setRate(now, min(b.configured, b.current+float64(steps)*RecoverStep*b.configured))
}

func (b *Budget) setRate(now time.Time, unitsPerSecond float64) {
	b.current = unitsPerSecond
	b.lim.SetLimitAt(now, rate.Limit(unitsPerSecond*tokensPerUnit))
}

// throttlingCodes are DynamoDB's error codes for throttling.
var throttlingCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"ThrottlingException":                    true,
	"RequestLimitExceeded":                   true,
}

// IsThrottling reports whether err is a throttling error of DynamoDB.
func IsThrottling(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && throttlingCodes[apiErr.ErrorCode()]
}

// throttleObserverID names the middleware that tells a Budget of throttled
// attempts.
const throttleObserverID = "ReadBudgetThrottles"

// observeThrottles is a per-request option that tells b of every attempt
// of the request that was throttled, including those the SDK retries
// itself. It sits in the Finalize step right after the SDK's retry
// middleware, inside its loop, so it sees each attempt once.
func observeThrottles(b *Budget) func(*dynamodb.Options) {
	mw := middleware.FinalizeMiddlewareFunc(throttleObserverID, func(ctx context.Context, in middleware.FinalizeInput,
		next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleFinalize(ctx, in)
		if err != nil && ctx.Err() == nil && IsThrottling(err) {
			b.Throttled()
		}
		return out, md, err
	})
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			if _, ok := stack.Finalize.Get(throttleObserverID); ok {
				return nil
			}
			if _, ok := stack.Finalize.Get("Retry"); ok {
				return stack.Finalize.Insert(mw, "Retry", middleware.After)
			}
			return stack.Finalize.Add(mw, middleware.After)
		})
	}
}
