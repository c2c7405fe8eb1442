package dynamodb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"golang.org/x/time/rate"

	"github.com/dynamosync/dynamosync/internal/testenv"
)

// ---- pure conversion ----

func TestConvertItem(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]streamtypes.AttributeValue
		want map[string]types.AttributeValue
	}{
		{"nil", nil, nil},
		{"empty", map[string]streamtypes.AttributeValue{}, map[string]types.AttributeValue{}},
		{"scalars", map[string]streamtypes.AttributeValue{
			"s":     &streamtypes.AttributeValueMemberS{Value: "héllo"},
			"n":     &streamtypes.AttributeValueMemberN{Value: "-12.500e3"},
			"b":     &streamtypes.AttributeValueMemberB{Value: []byte{0, 1, 255}},
			"true":  &streamtypes.AttributeValueMemberBOOL{Value: true},
			"false": &streamtypes.AttributeValueMemberBOOL{Value: false},
			"null":  &streamtypes.AttributeValueMemberNULL{Value: true},
			"empty": &streamtypes.AttributeValueMemberS{Value: ""},
		}, map[string]types.AttributeValue{
			"s":     &types.AttributeValueMemberS{Value: "héllo"},
			"n":     &types.AttributeValueMemberN{Value: "-12.500e3"},
			"b":     &types.AttributeValueMemberB{Value: []byte{0, 1, 255}},
			"true":  &types.AttributeValueMemberBOOL{Value: true},
			"false": &types.AttributeValueMemberBOOL{Value: false},
			"null":  &types.AttributeValueMemberNULL{Value: true},
			"empty": &types.AttributeValueMemberS{Value: ""},
		}},
		{"sets", map[string]streamtypes.AttributeValue{
			"ss": &streamtypes.AttributeValueMemberSS{Value: []string{"a", "b"}},
			"ns": &streamtypes.AttributeValueMemberNS{Value: []string{"1", "99999999999999999999999999999999999999"}},
			"bs": &streamtypes.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}},
		}, map[string]types.AttributeValue{
			"ss": &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
			"ns": &types.AttributeValueMemberNS{Value: []string{"1", "99999999999999999999999999999999999999"}},
			"bs": &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}},
		}},
		{"nested", map[string]streamtypes.AttributeValue{
			"l": &streamtypes.AttributeValueMemberL{Value: []streamtypes.AttributeValue{
				&streamtypes.AttributeValueMemberN{Value: "1"},
				&streamtypes.AttributeValueMemberM{Value: map[string]streamtypes.AttributeValue{
					"deep": &streamtypes.AttributeValueMemberL{Value: []streamtypes.AttributeValue{&streamtypes.AttributeValueMemberNULL{Value: true}}},
					"ss":   &streamtypes.AttributeValueMemberSS{Value: []string{"x"}},
				}},
				&streamtypes.AttributeValueMemberL{Value: []streamtypes.AttributeValue{}},
			}},
			"m": &streamtypes.AttributeValueMemberM{Value: map[string]streamtypes.AttributeValue{
				"empty map": &streamtypes.AttributeValueMemberM{Value: map[string]streamtypes.AttributeValue{}},
				"b":         &streamtypes.AttributeValueMemberB{Value: []byte("bin")},
			}},
		}, map[string]types.AttributeValue{
			"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{
				&types.AttributeValueMemberN{Value: "1"},
				&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
					"deep": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberNULL{Value: true}}},
					"ss":   &types.AttributeValueMemberSS{Value: []string{"x"}},
				}},
				&types.AttributeValueMemberL{Value: []types.AttributeValue{}},
			}},
			"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"empty map": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
				"b":         &types.AttributeValueMemberB{Value: []byte("bin")},
			}},
		}},
		{"unknown member kept with its tag", map[string]streamtypes.AttributeValue{
			"future": &streamtypes.UnknownUnionMember{Tag: "XYZ", Value: []byte(`{"a":1}`)},
		}, map[string]types.AttributeValue{
			"future": &types.UnknownUnionMember{Tag: "XYZ", Value: []byte(`{"a":1}`)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ConvertItem(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ConvertItem:\n got %s\nwant %s", render(got), render(tt.want))
			}
			if (got == nil) != (tt.in == nil) {
				t.Fatalf("nil-ness changed: got nil %v", got == nil)
			}
		})
	}
}

func TestConvertRecord(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	keys := map[string]streamtypes.AttributeValue{"id": &streamtypes.AttributeValueMemberS{Value: "k"}}
	image := map[string]streamtypes.AttributeValue{"id": &streamtypes.AttributeValueMemberS{Value: "k"}, "v": &streamtypes.AttributeValueMemberN{Value: "1"}}
	rec := func(event streamtypes.OperationType, id *streamtypes.Identity, newImage, oldImage map[string]streamtypes.AttributeValue) streamtypes.Record {
		return streamtypes.Record{
			EventID: aws.String("e1"), EventName: event, UserIdentity: id,
			Dynamodb: &streamtypes.StreamRecord{
				Keys: keys, NewImage: newImage, OldImage: oldImage,
				SequenceNumber: aws.String("4000000000000000000123"), ApproximateCreationDateTime: &at,
			},
		}
	}
	ttl := &streamtypes.Identity{Type: aws.String("Service"), PrincipalId: aws.String("dynamodb.amazonaws.com")}
	tests := []struct {
		name    string
		rec     streamtypes.Record
		kind    ChangeKind
		newImg  bool
		oldImg  bool
		ttl     bool
		wantErr string
	}{
		{name: "insert", rec: rec(streamtypes.OperationTypeInsert, nil, image, nil), kind: Upsert, newImg: true},
		{name: "modify", rec: rec(streamtypes.OperationTypeModify, nil, image, image), kind: Upsert, newImg: true, oldImg: true},
		{name: "modify keys only", rec: rec(streamtypes.OperationTypeModify, nil, nil, nil), kind: Upsert},
		{name: "remove by a user", rec: rec(streamtypes.OperationTypeRemove, nil, nil, image), kind: Delete, oldImg: true},
		{name: "remove by time to live", rec: rec(streamtypes.OperationTypeRemove, ttl, nil, image), kind: Delete, oldImg: true, ttl: true},
		{name: "remove by time to live, keys only", rec: rec(streamtypes.OperationTypeRemove, ttl, nil, nil), kind: Delete, ttl: true},
		{name: "remove by another service", rec: rec(streamtypes.OperationTypeRemove,
			&streamtypes.Identity{Type: aws.String("Service"), PrincipalId: aws.String("other.amazonaws.com")}, nil, nil), kind: Delete},
		{name: "remove by a user identity", rec: rec(streamtypes.OperationTypeRemove,
			&streamtypes.Identity{Type: aws.String("User"), PrincipalId: aws.String("dynamodb.amazonaws.com")}, nil, nil), kind: Delete},
		{name: "time-to-live identity on a modify is no expiry", rec: rec(streamtypes.OperationTypeModify, ttl, image, nil), kind: Upsert, newImg: true},
		{name: "unknown event", rec: rec("TRUNCATE", nil, nil, nil), wantErr: "unknown event"},
		{name: "no sequence number", rec: streamtypes.Record{EventName: streamtypes.OperationTypeInsert, Dynamodb: &streamtypes.StreamRecord{Keys: keys}}, wantErr: "no sequence number"},
		{name: "no body", rec: streamtypes.Record{EventName: streamtypes.OperationTypeInsert}, wantErr: "no sequence number"},
		{name: "no keys", rec: streamtypes.Record{EventName: streamtypes.OperationTypeInsert, Dynamodb: &streamtypes.StreamRecord{SequenceNumber: aws.String("1")}}, wantErr: "no keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ConvertRecord(tt.rec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Kind != tt.kind || (c.NewImage != nil) != tt.newImg || (c.OldImage != nil) != tt.oldImg || c.TTLExpired != tt.ttl {
				t.Fatalf("got %v new %v old %v ttl %v; want %v %v %v %v", c.Kind, c.NewImage != nil, c.OldImage != nil, c.TTLExpired, tt.kind, tt.newImg, tt.oldImg, tt.ttl)
			}
			if c.Seq != "4000000000000000000123" || !c.At.Equal(at) || !reflect.DeepEqual(c.Keys, ConvertItem(keys)) {
				t.Fatalf("seq %s at %v keys %s", c.Seq, c.At, render(c.Keys))
			}
		})
	}
}

func TestNextIdle(t *testing.T) {
	tests := []struct {
		cur, max, want time.Duration
	}{
		{0, 2 * time.Second, IdleMin},
		{IdleMin, 2 * time.Second, 2 * IdleMin},
		{800 * time.Millisecond, 2 * time.Second, 1600 * time.Millisecond},
		{1600 * time.Millisecond, 2 * time.Second, 2 * time.Second},
		{2 * time.Second, 2 * time.Second, 2 * time.Second},
		{0, 50 * time.Millisecond, 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.cur, "/", tt.max), func(t *testing.T) {
			if got := nextIdle(tt.cur, tt.max); got != tt.want {
				t.Fatalf("nextIdle = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStreamTable(t *testing.T) {
	tests := map[string]string{
		"arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000": "orders",
		"arn:aws:dynamodb:ddblocal:000000000000:table/a.b-c_d/stream/x":                       "a.b-c_d",
		"arn:aws:dynamodb:us-east-1:123456789012:table/orders":                                "orders",
		"not-an-arn": "not-an-arn",
	}
	for arn, want := range tests {
		t.Run(want, func(t *testing.T) {
			if got := streamTable(arn); got != want {
				t.Fatalf("streamTable = %q, want %q", got, want)
			}
		})
	}
}

// ---- DescribeShards against a scripted client ----

type describePages struct {
	pages []*dynamodbstreams.DescribeStreamOutput
	err   error
	calls []string // ExclusiveStartShardId of each call
}

func (d *describePages) DescribeStream(_ context.Context, in *dynamodbstreams.DescribeStreamInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	d.calls = append(d.calls, aws.ToString(in.ExclusiveStartShardId))
	if d.err != nil {
		return nil, d.err
	}
	return d.pages[min(len(d.calls), len(d.pages))-1], nil
}

func describePage(last string, shards ...streamtypes.Shard) *dynamodbstreams.DescribeStreamOutput {
	var lastID *string
	if last != "" {
		lastID = aws.String(last)
	}
	return &dynamodbstreams.DescribeStreamOutput{StreamDescription: &streamtypes.StreamDescription{
		StreamStatus: streamtypes.StreamStatusEnabled, StreamViewType: streamtypes.StreamViewTypeNewImage,
		Shards: shards, LastEvaluatedShardId: lastID,
	}}
}

func sdkShard(id, parent, start, end string) streamtypes.Shard {
	s := streamtypes.Shard{ShardId: aws.String(id), SequenceNumberRange: &streamtypes.SequenceNumberRange{StartingSequenceNumber: aws.String(start)}}
	if parent != "" {
		s.ParentShardId = aws.String(parent)
	}
	if end != "" {
		s.SequenceNumberRange.EndingSequenceNumber = aws.String(end)
	}
	return s
}

func TestDescribeShardsScripted(t *testing.T) {
	const arn = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/label"
	tests := []struct {
		name      string
		client    *describePages
		wantIDs   string
		wantCalls string
		wantErr   func(error) bool
	}{
		{
			name: "one page",
			client: &describePages{pages: []*dynamodbstreams.DescribeStreamOutput{
				describePage("", sdkShard("a", "", "1", "9"), sdkShard("b", "a", "10", "")),
			}},
			wantIDs: "a,b", wantCalls: "",
		},
		{
			name: "three pages",
			client: &describePages{pages: []*dynamodbstreams.DescribeStreamOutput{
				describePage("b", sdkShard("a", "", "1", "9"), sdkShard("b", "a", "10", "19")),
				describePage("d", sdkShard("c", "b", "20", "29"), sdkShard("d", "c", "30", "39")),
				describePage("", sdkShard("e", "d", "40", "")),
			}},
			wantIDs: "a,b,c,d,e", wantCalls: ",b,d",
		},
		{
			name: "pagination that does not advance",
			client: &describePages{pages: []*dynamodbstreams.DescribeStreamOutput{
				describePage("a", sdkShard("a", "", "1", "")),
			}},
			wantErr: func(err error) bool { return err != nil && strings.Contains(err.Error(), "does not advance") },
		},
		{
			name:    "stream gone",
			client:  &describePages{err: &streamtypes.ResourceNotFoundException{Message: aws.String("Stream not found")}},
			wantErr: func(err error) bool { var g *GoneError; return errors.As(err, &g) && g.Shard == "" && StreamLost(err) },
		},
		{
			name:   "other failure is wrapped with the table",
			client: &describePages{err: &streamtypes.InternalServerError{Message: aws.String("boom")}},
			wantErr: func(err error) bool {
				return err != nil && !StreamLost(err) && strings.Contains(err.Error(), "table orders") && strings.Contains(err.Error(), "boom")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := DescribeShards(t.Context(), tt.client, arn)
			if tt.wantErr != nil {
				if !tt.wantErr(err) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := shardIDs(info.Shards); got != tt.wantIDs {
				t.Fatalf("shards %q, want %q", got, tt.wantIDs)
			}
			if got := strings.Join(tt.client.calls, ","); got != tt.wantCalls {
				t.Fatalf("calls with ExclusiveStartShardId %q, want %q", got, tt.wantCalls)
			}
			if info.ARN != arn || info.Status != "ENABLED" || info.ViewType != "NEW_IMAGE" || !info.Enabled() {
				t.Fatalf("info %+v", info)
			}
			if last := info.Shards[len(info.Shards)-1]; !last.Open() || info.Shards[0].Open() {
				t.Fatalf("open/closed wrong: %+v", info.Shards)
			}
		})
	}
}

// ---- ShardReader against a scripted shard ----

// fakeShard is an in-memory shard: iterators are "i:POS", POS the index of
// the next record. Hooks inject faults by call number (from 1).
type fakeShard struct {
	mu      sync.Mutex
	records []streamtypes.Record
	closed  bool

	recordsFault func(call int) error         // before GetRecords
	iterFault    func(call int) error         // before GetShardIterator
	emptyAt      map[int]bool                 // GetRecords calls that answer an empty page without moving
	afterCall    func(f *fakeShard, call int) // after GetRecords, with f.mu held
	iterInputs   []dynamodbstreams.GetShardIteratorInput
	recordCalls  int
	recordTimes  []time.Time
}

// fakeEpoch is the time of fake record 0: record seq was made seq seconds
// later.
var fakeEpoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func fakeRecord(seq int, event streamtypes.OperationType) streamtypes.Record {
	id := strconv.Itoa(seq)
	return streamtypes.Record{EventName: event, Dynamodb: &streamtypes.StreamRecord{
		SequenceNumber:              aws.String(fmt.Sprintf("%021d", seq)),
		ApproximateCreationDateTime: aws.Time(fakeEpoch.Add(time.Duration(seq) * time.Second)),
		Keys:                        map[string]streamtypes.AttributeValue{"id": &streamtypes.AttributeValueMemberS{Value: id}},
	}}
}

func newFakeShard(n int, closed bool) *fakeShard {
	f := &fakeShard{closed: closed, emptyAt: map[int]bool{}}
	for i := 1; i <= n; i++ {
		f.records = append(f.records, fakeRecord(i, streamtypes.OperationTypeInsert))
	}
	return f
}

func (f *fakeShard) shard() Shard {
	s := Shard{ID: "shard-1", StartSeq: fmt.Sprintf("%021d", 1)}
	if f.closed {
		s.EndSeq = fmt.Sprintf("%021d", len(f.records))
	}
	return s
}

func (f *fakeShard) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.iterInputs = append(f.iterInputs, *in)
	if f.iterFault != nil {
		if err := f.iterFault(len(f.iterInputs)); err != nil {
			return nil, err
		}
	}
	pos := 0
	if in.ShardIteratorType == streamtypes.ShardIteratorTypeAfterSequenceNumber {
		for pos < len(f.records) && CompareSeq(aws.ToString(f.records[pos].Dynamodb.SequenceNumber), aws.ToString(in.SequenceNumber)) <= 0 {
			pos++
		}
	}
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(fmt.Sprint("i:", pos))}, nil
}

func (f *fakeShard) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recordCalls++
	f.recordTimes = append(f.recordTimes, time.Now())
	call := f.recordCalls
	if f.afterCall != nil {
		defer f.afterCall(f, call)
	}
	if f.recordsFault != nil {
		if err := f.recordsFault(call); err != nil {
			return nil, err
		}
	}
	pos, err := strconv.Atoi(strings.TrimPrefix(aws.ToString(in.ShardIterator), "i:"))
	if err != nil {
		return nil, &streamtypes.ResourceNotFoundException{Message: aws.String("bad iterator")}
	}
	limit := 1000
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	end := pos
	if !f.emptyAt[call] {
		end = min(pos+limit, len(f.records))
	}
	out := &dynamodbstreams.GetRecordsOutput{Records: f.records[pos:end]}
	if !f.closed || end < len(f.records) {
		out.NextShardIterator = aws.String(fmt.Sprint("i:", end))
	}
	return out, nil
}

// collector gathers emitted pages.
type collector struct {
	mu    sync.Mutex
	pages [][]Change
	lasts []string
	fail  error
	got   chan struct{} // receives after every page, when not nil
}

func (c *collector) emit(_ context.Context, page []Change, last string) error {
	c.mu.Lock()
	if c.fail != nil {
		c.mu.Unlock()
		return c.fail
	}
	c.pages = append(c.pages, page)
	c.lasts = append(c.lasts, last)
	c.mu.Unlock()
	if c.got != nil {
		c.got <- struct{}{}
	}
	return nil
}

func (c *collector) changes() []Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	var all []Change
	for _, p := range c.pages {
		all = append(all, p...)
	}
	return all
}

// check verifies pages are non-empty, in order, with last = the page's last
// sequence number, and returns the sequence numbers as plain integers.
func (c *collector) check(t *testing.T) []int {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var seqs []int
	prev := ""
	for i, p := range c.pages {
		if len(p) == 0 {
			t.Fatalf("page %d is empty", i)
		}
		if c.lasts[i] != p[len(p)-1].Seq {
			t.Fatalf("page %d: last %s, but its last change has %s", i, c.lasts[i], p[len(p)-1].Seq)
		}
		for _, ch := range p {
			if prev != "" && CompareSeq(ch.Seq, prev) <= 0 {
				t.Fatalf("sequence %s after %s", ch.Seq, prev)
			}
			prev = ch.Seq
			n, _ := strconv.Atoi(strings.TrimLeft(ch.Seq, "0"))
			seqs = append(seqs, n)
		}
	}
	return seqs
}

func upTo(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func fastLimiter() *rate.Limiter { return rate.NewLimiter(rate.Inf, 1) }

func TestShardReaderScripted(t *testing.T) {
	expired := &streamtypes.ExpiredIteratorException{Message: aws.String("Iterator expired")}
	trimmed := &streamtypes.TrimmedDataAccessException{Message: aws.String("trimmed")}
	tests := []struct {
		name      string
		fake      func() *fakeShard
		after     string
		follow    bool
		until     int // seconds after fakeEpoch; 0 is none
		wantSeqs  []int
		finished  bool
		wantErr   func(error) bool
		wantIters []string // "TRIM_HORIZON" or "AFTER:N" per GetShardIterator call
	}{
		{
			name:     "closed shard read to its end",
			fake:     func() *fakeShard { return newFakeShard(7, true) },
			wantSeqs: upTo(1, 7), finished: true, wantIters: []string{"TRIM_HORIZON"},
		},
		{
			name: "closed shard: empty pages in between do not stop it",
			fake: func() *fakeShard {
				f := newFakeShard(7, true)
				f.emptyAt = map[int]bool{1: true, 3: true, 4: true}
				return f
			},
			wantSeqs: upTo(1, 7), finished: true,
		},
		{
			name:     "open shard without follow stops at the first empty page",
			fake:     func() *fakeShard { return newFakeShard(5, false) },
			wantSeqs: upTo(1, 5), finished: false,
		},
		{
			name: "open shard without follow, never empty: stops after the first page past Until",
			fake: func() *fakeShard {
				f := newFakeShard(4, false)
				f.afterCall = func(f *fakeShard, call int) {
					f.records = append(f.records, fakeRecord(len(f.records)+1, streamtypes.OperationTypeModify))
				}
				return f
			},
			until: 3, wantSeqs: upTo(1, 4), finished: false,
		},
		{
			name: "open shard with follow: Until does not stop it",
			fake: func() *fakeShard {
				f := newFakeShard(4, false)
				f.afterCall = func(f *fakeShard, call int) {
					if call == 3 {
						f.records = append(f.records, fakeRecord(5, streamtypes.OperationTypeModify))
						f.closed = true
					}
				}
				return f
			},
			follow: true, until: 1, wantSeqs: upTo(1, 5), finished: true,
		},
		{
			name:     "closed shard: records past Until are read to the end of the page",
			fake:     func() *fakeShard { return newFakeShard(7, true) },
			until:    4,
			wantSeqs: upTo(1, 6), finished: false,
		},
		{
			name:     "resumes after a sequence number",
			fake:     func() *fakeShard { return newFakeShard(7, true) },
			after:    fmt.Sprintf("%021d", 4),
			wantSeqs: upTo(5, 7), finished: true, wantIters: []string{"AFTER:4"},
		},
		{
			name:     "after the closed shard's last record: nothing, done",
			fake:     func() *fakeShard { return newFakeShard(7, true) },
			after:    fmt.Sprintf("%021d", 7),
			wantSeqs: nil, finished: true,
		},
		{
			name: "expired iterator is re-created after the last emitted record",
			fake: func() *fakeShard {
				f := newFakeShard(7, true)
				f.recordsFault = func(call int) error {
					if call == 3 {
						return expired
					}
					return nil
				}
				return f
			},
			wantSeqs: upTo(1, 7), finished: true, wantIters: []string{"TRIM_HORIZON", "AFTER:4"},
		},
		{
			name: "expired before anything was emitted starts over from the original position",
			fake: func() *fakeShard {
				f := newFakeShard(3, true)
				f.recordsFault = func(call int) error {
					if call == 1 {
						return expired
					}
					return nil
				}
				return f
			},
			after:    fmt.Sprintf("%021d", 1),
			wantSeqs: upTo(2, 3), finished: true, wantIters: []string{"AFTER:1", "AFTER:1"},
		},
		{
			name: "expired twice in a row",
			fake: func() *fakeShard {
				f := newFakeShard(7, true)
				f.recordsFault = func(call int) error {
					if call >= 2 {
						return expired
					}
					return nil
				}
				return f
			},
			wantSeqs: upTo(1, 2),
			wantErr: func(err error) bool {
				var te *TrimmedError
				return errors.As(err, &te) && te.After == fmt.Sprintf("%021d", 2) && errors.Is(err, expired)
			},
		},
		{
			name: "expired, and the new iterator's position was trimmed",
			fake: func() *fakeShard {
				f := newFakeShard(7, true)
				f.recordsFault = func(call int) error {
					if call == 2 {
						return expired
					}
					return nil
				}
				f.iterFault = func(call int) error {
					if call == 2 {
						return trimmed
					}
					return nil
				}
				return f
			},
			wantSeqs: upTo(1, 2),
			wantErr:  func(err error) bool { var te *TrimmedError; return errors.As(err, &te) && errors.Is(err, trimmed) },
		},
		{
			name: "records trimmed under the iterator",
			fake: func() *fakeShard {
				f := newFakeShard(7, true)
				f.recordsFault = func(call int) error {
					if call == 2 {
						return trimmed
					}
					return nil
				}
				return f
			},
			wantSeqs: upTo(1, 2),
			wantErr:  func(err error) bool { var te *TrimmedError; return errors.As(err, &te) && StreamLost(err) },
		},
		{
			name: "iterator for the saved position refused",
			fake: func() *fakeShard {
				f := newFakeShard(7, true)
				f.iterFault = func(int) error { return trimmed }
				return f
			},
			after: fmt.Sprintf("%021d", 3),
			wantErr: func(err error) bool {
				var te *TrimmedError
				return errors.As(err, &te) && te.After == fmt.Sprintf("%021d", 3)
			},
		},
		{
			name: "saved position past the closed shard's end: no call made",
			fake: func() *fakeShard {
				f := newFakeShard(7, true)
				f.iterFault = func(int) error { panic("GetShardIterator called") }
				return f
			},
			after:   fmt.Sprintf("%021d", 8),
			wantErr: func(err error) bool { var te *TrimmedError; return errors.As(err, &te) && te.Err == nil },
		},
		{
			name:    "saved position that is no number",
			fake:    func() *fakeShard { return newFakeShard(7, true) },
			after:   "seq-12",
			wantErr: func(err error) bool { var te *TrimmedError; return errors.As(err, &te) },
		},
		{
			name: "shard gone",
			fake: func() *fakeShard {
				f := newFakeShard(7, true)
				f.iterFault = func(int) error {
					return &streamtypes.ResourceNotFoundException{Message: aws.String("Shard does not exist")}
				}
				return f
			},
			wantErr: func(err error) bool { var g *GoneError; return errors.As(err, &g) && g.Shard == "shard-1" },
		},
		{
			name: "other errors are wrapped with table and shard",
			fake: func() *fakeShard {
				f := newFakeShard(7, true)
				f.recordsFault = func(int) error { return &streamtypes.InternalServerError{Message: aws.String("boom")} }
				return f
			},
			wantErr: func(err error) bool {
				return err != nil && !StreamLost(err) && strings.Contains(err.Error(), "table orders: shard shard-1") && strings.Contains(err.Error(), "boom")
			},
		},
		{
			name: "follow: polls an idle open shard until records come and the shard closes",
			fake: func() *fakeShard {
				f := newFakeShard(2, false)
				f.afterCall = func(f *fakeShard, call int) {
					switch call {
					case 4:
						f.records = append(f.records, fakeRecord(3, streamtypes.OperationTypeModify))
					case 6:
						f.records = append(f.records, fakeRecord(4, streamtypes.OperationTypeRemove))
						f.closed = true
					}
				}
				return f
			},
			follow: true, wantSeqs: upTo(1, 4), finished: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.fake()
			r := &ShardReader{
				Client: f, StreamARN: "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/label",
				Shard: f.shard(), After: tt.after, Limiter: fastLimiter(), PageLimit: 2,
				Follow: tt.follow, IdleMax: 20 * time.Millisecond,
			}
			if tt.until > 0 {
				r.Until = fakeEpoch.Add(time.Duration(tt.until) * time.Second)
			}
			var c collector
			err := r.Read(testenv.Context(t, 30*time.Second), c.emit)
			if tt.wantErr != nil {
				if !tt.wantErr(err) {
					t.Fatalf("unexpected error %v", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got := c.check(t); !reflect.DeepEqual(got, tt.wantSeqs) {
				t.Fatalf("read %v, want %v", got, tt.wantSeqs)
			}
			if tt.wantErr == nil && r.Finished() != tt.finished {
				t.Fatalf("Finished %v, want %v", r.Finished(), tt.finished)
			}
			if tt.wantIters != nil {
				var got []string
				for _, in := range f.iterInputs {
					if in.ShardIteratorType == streamtypes.ShardIteratorTypeTrimHorizon {
						got = append(got, "TRIM_HORIZON")
					} else {
						n, _ := strconv.Atoi(strings.TrimLeft(aws.ToString(in.SequenceNumber), "0"))
						got = append(got, fmt.Sprint("AFTER:", n))
					}
				}
				if !reflect.DeepEqual(got, tt.wantIters) {
					t.Fatalf("iterators %v, want %v", got, tt.wantIters)
				}
			}
		})
	}
}

func TestShardReaderEmitError(t *testing.T) {
	f := newFakeShard(5, true)
	stop := errors.New("destination full")
	c := collector{fail: stop}
	r := &ShardReader{Client: f, StreamARN: "arn:x:table/t/stream/s", Shard: f.shard(), Limiter: fastLimiter()}
	if err := r.Read(t.Context(), c.emit); !errors.Is(err, stop) {
		t.Fatalf("Read = %v, want the emit error", err)
	}
	if f.recordCalls != 1 {
		t.Fatalf("%d GetRecords calls after emit failed, want 1", f.recordCalls)
	}
}

func TestShardReaderPacing(t *testing.T) {
	tests := []struct {
		name    string
		limiter *rate.Limiter
		calls   int
		minGap  time.Duration
	}{
		{"default limiter: 5 a second", nil, 3, 190 * time.Millisecond},
		{"given limiter", rate.NewLimiter(rate.Every(50*time.Millisecond), 1), 4, 45 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeShard(tt.calls, true)
			r := &ShardReader{Client: f, StreamARN: "arn:x:table/t/stream/s", Shard: f.shard(), Limiter: tt.limiter, PageLimit: 1}
			var c collector
			if err := r.Read(t.Context(), c.emit); err != nil {
				t.Fatal(err)
			}
			if len(f.recordTimes) != tt.calls {
				t.Fatalf("%d calls, want %d", len(f.recordTimes), tt.calls)
			}
			for i := 1; i < len(f.recordTimes); i++ {
				if gap := f.recordTimes[i].Sub(f.recordTimes[i-1]); gap < tt.minGap {
					t.Fatalf("call %d came %v after the one before, want at least %v", i+1, gap, tt.minGap)
				}
			}
		})
	}
}

func TestShardReaderFollowStopsWithContext(t *testing.T) {
	f := newFakeShard(1, false)
	ctx, cancel := context.WithCancel(t.Context())
	c := collector{got: make(chan struct{}, 1)}
	r := &ShardReader{Client: f, StreamARN: "arn:x:table/t/stream/s", Shard: f.shard(), Limiter: fastLimiter(), Follow: true, IdleMax: time.Hour}
	done := make(chan error, 1)
	go func() { done <- r.Read(ctx, c.emit) }()
	<-c.got
	// Wait until it is pausing on the idle shard, then cancel.
	for deadline := time.Now().Add(10 * time.Second); ; {
		f.mu.Lock()
		calls := f.recordCalls
		f.mu.Unlock()
		if calls >= 3 || time.Now().After(deadline) {
			break
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case err := <-done:
			t.Fatalf("Read returned early: %v", err)
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Read = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not stop when its context was cancelled")
	}
}

// ---- against DynamoDB Local ----

func createStreamTable(t *testing.T, ctx context.Context, client *dynamodb.Client, name string, view types.StreamViewType) string {
	t.Helper()
	out, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: view},
	})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	arn := aws.ToString(out.TableDescription.LatestStreamArn)
	if arn == "" {
		t.Fatalf("table %s has no stream", name)
	}
	return arn
}

func sv(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func nv(n string) types.AttributeValue { return &types.AttributeValueMemberN{Value: n} }

func put(t *testing.T, ctx context.Context, db *dynamodb.Client, table string, item map[string]types.AttributeValue) {
	t.Helper()
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
}

func update(t *testing.T, ctx context.Context, db *dynamodb.Client, table, id, n string) {
	t.Helper()
	_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(table), Key: map[string]types.AttributeValue{"id": sv(id)},
		UpdateExpression:          aws.String("SET n = :n"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": nv(n)},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func del(t *testing.T, ctx context.Context, db *dynamodb.Client, table, id string) {
	t.Helper()
	if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{"id": sv(id)}}); err != nil {
		t.Fatal(err)
	}
}

// onlyShard describes the stream and returns its one shard.
func onlyShard(t *testing.T, ctx context.Context, sc StreamAPI, arn string) (StreamInfo, Shard) {
	t.Helper()
	info, err := DescribeShards(ctx, sc, arn)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Shards) != 1 {
		t.Fatalf("%d shards, want 1: %+v", len(info.Shards), info.Shards)
	}
	return info, info.Shards[0]
}

// render prints attribute maps with sets sorted, for comparisons.
func render(m map[string]types.AttributeValue) string {
	var b strings.Builder
	renderMap(&b, m)
	return b.String()
}

func renderMap(b *strings.Builder, m map[string]types.AttributeValue) {
	if m == nil {
		b.WriteString("nil")
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteString("{")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(b, "%q:", k)
		renderValue(b, m[k])
	}
	b.WriteString("}")
}

func renderValue(b *strings.Builder, v types.AttributeValue) {
	sorted := func(s []string) []string { s = append([]string(nil), s...); sort.Strings(s); return s }
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		fmt.Fprintf(b, "S%q", v.Value)
	case *types.AttributeValueMemberN:
		fmt.Fprintf(b, "N%s", v.Value)
	case *types.AttributeValueMemberB:
		fmt.Fprintf(b, "B%x", v.Value)
	case *types.AttributeValueMemberBOOL:
		fmt.Fprintf(b, "BOOL%v", v.Value)
	case *types.AttributeValueMemberNULL:
		fmt.Fprintf(b, "NULL%v", v.Value)
	case *types.AttributeValueMemberSS:
		fmt.Fprintf(b, "SS%q", sorted(v.Value))
	case *types.AttributeValueMemberNS:
		fmt.Fprintf(b, "NS%v", sorted(v.Value))
	case *types.AttributeValueMemberBS:
		bs := append([][]byte(nil), v.Value...)
		sort.Slice(bs, func(i, j int) bool { return bytes.Compare(bs[i], bs[j]) < 0 })
		fmt.Fprintf(b, "BS%x", bs)
	case *types.AttributeValueMemberL:
		b.WriteString("L[")
		for i, e := range v.Value {
			if i > 0 {
				b.WriteString(" ")
			}
			renderValue(b, e)
		}
		b.WriteString("]")
	case *types.AttributeValueMemberM:
		b.WriteString("M")
		renderMap(b, v.Value)
	case *types.UnknownUnionMember:
		fmt.Fprintf(b, "?%s%q", v.Tag, v.Value)
	default:
		fmt.Fprintf(b, "%T", v)
	}
}

func TestStreamReadsChanges(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	db := testenv.DynamoDBClient(t)
	sc := testenv.StreamsClient(t)
	table := testenv.UniqueName(t, "stream")
	arn := createStreamTable(t, ctx, db, table, types.StreamViewTypeNewAndOldImages)

	rich := map[string]types.AttributeValue{
		"id":   sv("a"),
		"n":    nv("12345678901234567890123456789012345678"),
		"b":    &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 255}},
		"t":    &types.AttributeValueMemberBOOL{Value: true},
		"null": &types.AttributeValueMemberNULL{Value: true},
		"ss":   &types.AttributeValueMemberSS{Value: []string{"x", "y"}},
		"ns":   &types.AttributeValueMemberNS{Value: []string{"1", "-2.5"}},
		"bs":   &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}},
		"l":    &types.AttributeValueMemberL{Value: []types.AttributeValue{sv("e"), nv("1"), &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberL{}}}}},
		"m":    &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"inner": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"s": sv("deep")}}}},
	}
	start := time.Now()
	put(t, ctx, db, table, rich)                                                         // 1 insert a
	put(t, ctx, db, table, map[string]types.AttributeValue{"id": sv("b"), "n": nv("1")}) // 2 insert b
	update(t, ctx, db, table, "b", "2")                                                  // 3 modify b
	del(t, ctx, db, table, "a")                                                          // 4 remove a
	put(t, ctx, db, table, map[string]types.AttributeValue{"id": sv("c")})               // 5 insert c
	update(t, ctx, db, table, "c", "7")                                                  // 6 modify c
	del(t, ctx, db, table, "b")                                                          // 7 remove b

	info, shard := onlyShard(t, ctx, sc, arn)
	if info.Status != "ENABLED" || info.ViewType != "NEW_AND_OLD_IMAGES" || info.ARN != arn || !info.Enabled() {
		t.Fatalf("stream info %+v", info)
	}
	if !shard.Open() || shard.Parent != "" || !ValidSeq(shard.StartSeq) {
		t.Fatalf("shard %+v", shard)
	}

	r := &ShardReader{Client: sc, StreamARN: arn, Shard: shard, PageLimit: 3}
	var c collector
	if err := r.Read(ctx, c.emit); err != nil {
		t.Fatal(err)
	}
	if r.Finished() {
		t.Fatal("an open shard was reported finished")
	}
	c.check(t)
	if len(c.pages) != 3 {
		t.Errorf("%d pages of at most 3 for 7 changes, want 3", len(c.pages))
	}
	got := c.changes()
	b1 := map[string]types.AttributeValue{"id": sv("b"), "n": nv("1")}
	b2 := map[string]types.AttributeValue{"id": sv("b"), "n": nv("2")}
	c0 := map[string]types.AttributeValue{"id": sv("c")}
	c7 := map[string]types.AttributeValue{"id": sv("c"), "n": nv("7")}
	want := []struct {
		kind     ChangeKind
		id       string
		new, old map[string]types.AttributeValue
	}{
		{Upsert, "a", rich, nil},
		{Upsert, "b", b1, nil},
		{Upsert, "b", b2, b1},
		{Delete, "a", nil, rich},
		{Upsert, "c", c0, nil},
		{Upsert, "c", c7, c0},
		{Delete, "b", nil, b2},
	}
	if len(got) != len(want) {
		t.Fatalf("read %d changes, want %d", len(got), len(want))
	}
	for i, w := range want {
		t.Run(fmt.Sprintf("change %d", i+1), func(t *testing.T) {
			g := got[i]
			if g.Kind != w.kind || render(g.Keys) != render(map[string]types.AttributeValue{"id": sv(w.id)}) {
				t.Fatalf("got %v %s, want %v %s", g.Kind, render(g.Keys), w.kind, w.id)
			}
			if render(g.NewImage) != render(w.new) {
				t.Fatalf("new image\n got %s\nwant %s", render(g.NewImage), render(w.new))
			}
			if render(g.OldImage) != render(w.old) {
				t.Fatalf("old image\n got %s\nwant %s", render(g.OldImage), render(w.old))
			}
			if g.TTLExpired {
				t.Fatal("a user's change reported as a time-to-live expiry")
			}
			// DynamoDB Local rounds ApproximateCreationDateTime down to the minute.
			if g.At.Before(start.Add(-time.Minute)) || g.At.After(time.Now().Add(time.Minute)) {
				t.Fatalf("at %v, started %v", g.At, start)
			}
		})
	}

	// Reading again after the last sequence number finds nothing new.
	last := c.lasts[len(c.lasts)-1]
	again := &ShardReader{Client: sc, StreamARN: arn, Shard: shard, After: last}
	var c2 collector
	if err := again.Read(ctx, c2.emit); err != nil {
		t.Fatal(err)
	}
	if len(c2.pages) != 0 {
		t.Fatalf("read %d more pages after %s", len(c2.pages), last)
	}

	// Resuming in the middle reads exactly the rest.
	mid := &ShardReader{Client: sc, StreamARN: arn, Shard: shard, After: got[2].Seq}
	var c3 collector
	if err := mid.Read(ctx, c3.emit); err != nil {
		t.Fatal(err)
	}
	if rest := c3.changes(); len(rest) != 4 || rest[0].Seq != got[3].Seq {
		t.Fatalf("resumed after change 3: %d changes, first %v", len(rest), rest)
	}
}

func TestStreamViewTypes(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	db := testenv.DynamoDBClient(t)
	sc := testenv.StreamsClient(t)
	tests := []struct {
		view     types.StreamViewType
		new, old bool
	}{
		{types.StreamViewTypeKeysOnly, false, false},
		{types.StreamViewTypeNewImage, true, false},
		{types.StreamViewTypeOldImage, false, true},
		{types.StreamViewTypeNewAndOldImages, true, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.view), func(t *testing.T) {
			table := testenv.UniqueName(t, "view")
			arn := createStreamTable(t, ctx, db, table, tt.view)
			put(t, ctx, db, table, map[string]types.AttributeValue{"id": sv("k"), "n": nv("1")})
			update(t, ctx, db, table, "k", "2")
			del(t, ctx, db, table, "k")
			info, shard := onlyShard(t, ctx, sc, arn)
			if info.ViewType != string(tt.view) {
				t.Fatalf("view type %s", info.ViewType)
			}
			var c collector
			if err := (&ShardReader{Client: sc, StreamARN: arn, Shard: shard}).Read(ctx, c.emit); err != nil {
				t.Fatal(err)
			}
			got := c.changes()
			if len(got) != 3 || got[0].Kind != Upsert || got[1].Kind != Upsert || got[2].Kind != Delete {
				t.Fatalf("changes %+v", got)
			}
			for i, g := range got {
				if render(g.Keys) != `{"id":S"k"}` {
					t.Fatalf("change %d keys %s", i, render(g.Keys))
				}
				wantNew := tt.new && g.Kind == Upsert
				wantOld := tt.old && i > 0 // the insert has no old image
				if (g.NewImage != nil) != wantNew || (g.OldImage != nil) != wantOld {
					t.Fatalf("change %d (%v): new image %s, old image %s", i, g.Kind, render(g.NewImage), render(g.OldImage))
				}
			}
		})
	}
}

func TestStreamFollow(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	db := testenv.DynamoDBClient(t)
	sc := testenv.StreamsClient(t)
	table := testenv.UniqueName(t, "follow")
	arn := createStreamTable(t, ctx, db, table, types.StreamViewTypeNewImage)
	put(t, ctx, db, table, map[string]types.AttributeValue{"id": sv("first")})
	_, shard := onlyShard(t, ctx, sc, arn)

	readCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := collector{got: make(chan struct{}, 16)}
	r := &ShardReader{Client: sc, StreamARN: arn, Shard: shard, Follow: true, IdleMax: 300 * time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- r.Read(readCtx, c.emit) }()

	wait := func(what string) {
		t.Helper()
		select {
		case <-c.got:
		case err := <-done:
			t.Fatalf("Read returned while waiting for %s: %v", what, err)
		case <-time.After(20 * time.Second):
			t.Fatalf("no page with %s", what)
		}
	}
	wait("the first item")
	// Let the reader go idle and back off before the next write.
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	put(t, ctx, db, table, map[string]types.AttributeValue{"id": sv("second")})
	wait("the item written while following")
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Read = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read did not stop when its context was cancelled")
	}
	got := c.changes()
	if len(got) != 2 || render(got[0].Keys) != `{"id":S"first"}` || render(got[1].Keys) != `{"id":S"second"}` {
		t.Fatalf("changes %+v", got)
	}
}

func TestStreamClosedShard(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	db := testenv.DynamoDBClient(t)
	sc := testenv.StreamsClient(t)
	table := testenv.UniqueName(t, "closed")
	arn := createStreamTable(t, ctx, db, table, types.StreamViewTypeKeysOnly)
	for i := range 5 {
		put(t, ctx, db, table, map[string]types.AttributeValue{"id": sv(fmt.Sprint(i))})
	}
	_, open := onlyShard(t, ctx, sc, arn)
	// Disabling the stream closes its shard.
	if _, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(table),
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(false)}}); err != nil {
		t.Fatal(err)
	}
	info, shard := onlyShard(t, ctx, sc, arn)
	if info.Status != "DISABLED" || info.Enabled() || shard.Open() || shard.ID != open.ID {
		t.Fatalf("after disabling: %+v", info)
	}
	for _, follow := range []bool{false, true} {
		t.Run(fmt.Sprint("follow=", follow), func(t *testing.T) {
			r := &ShardReader{Client: sc, StreamARN: arn, Shard: shard, Follow: follow, PageLimit: 2}
			var c collector
			if err := r.Read(ctx, c.emit); err != nil {
				t.Fatal(err)
			}
			if !r.Finished() || len(c.changes()) != 5 {
				t.Fatalf("finished %v, %d changes", r.Finished(), len(c.changes()))
			}
			if c.lasts[len(c.lasts)-1] != shard.EndSeq {
				t.Fatalf("last %s, shard ends at %s", c.lasts[len(c.lasts)-1], shard.EndSeq)
			}
		})
	}
	t.Run("described open, closed since", func(t *testing.T) {
		r := &ShardReader{Client: sc, StreamARN: arn, Shard: open, Follow: true}
		var c collector
		if err := r.Read(ctx, c.emit); err != nil {
			t.Fatal(err)
		}
		if !r.Finished() || len(c.changes()) != 5 {
			t.Fatalf("finished %v, %d changes", r.Finished(), len(c.changes()))
		}
	})
	t.Run("after the end", func(t *testing.T) {
		r := &ShardReader{Client: sc, StreamARN: arn, Shard: shard, After: shard.EndSeq}
		var c collector
		if err := r.Read(ctx, c.emit); err != nil || !r.Finished() || len(c.pages) != 0 {
			t.Fatalf("err %v finished %v pages %d", err, r.Finished(), len(c.pages))
		}
	})
}

func TestStreamLostPositions(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	db := testenv.DynamoDBClient(t)
	sc := testenv.StreamsClient(t)
	table := testenv.UniqueName(t, "lost")
	arn := createStreamTable(t, ctx, db, table, types.StreamViewTypeKeysOnly)
	for i := range 3 {
		put(t, ctx, db, table, map[string]types.AttributeValue{"id": sv(fmt.Sprint(i))})
	}
	_, shard := onlyShard(t, ctx, sc, arn)
	// DynamoDB Local numbers records across all its tables, zero-padded to
	// 21 digits: this shard starts wherever the numbering had got to.
	before := strings.Repeat("0", len(shard.StartSeq)) // below any shard's start
	short := strings.TrimLeft(shard.StartSeq, "0")     // the shard's start, unpadded
	tests := []struct {
		name    string
		shard   Shard
		after   string
		trimmed bool
		gone    bool
	}{
		// Caught before any call: below the shard's first sequence number.
		{name: "before the shard's start", shard: shard, after: before, trimmed: true},
		// DynamoDB Local answers ValidationException "Member must have
		// length greater than or equal to 21" (the API's minimum length).
		{name: "refused by DynamoDB", shard: shard, after: short, trimmed: true},
		// DynamoDB Local answers ValidationException "Invalid
		// SequenceNumber for the shard" when the range check is skipped.
		{name: "refused by DynamoDB for the shard", shard: Shard{ID: shard.ID}, after: before, trimmed: true},
		{name: "not a number", shard: shard, after: "000000000000000000002x", trimmed: true},
		// DynamoDB Local answers ResourceNotFoundException "Shard does not exist".
		{name: "no such shard", shard: Shard{ID: "shardId-00000000000000000000-00000000"}, gone: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &ShardReader{Client: sc, StreamARN: arn, Shard: tt.shard, After: tt.after}
			var c collector
			err := r.Read(ctx, c.emit)
			var te *TrimmedError
			var ge *GoneError
			if errors.As(err, &te) != tt.trimmed || errors.As(err, &ge) != tt.gone || !StreamLost(err) {
				t.Fatalf("Read = %v (trimmed %v, gone %v)", err, tt.trimmed, tt.gone)
			}
			t.Logf("%v", err)
		})
	}
	t.Run("stream gone", func(t *testing.T) {
		_, err := DescribeShards(ctx, sc, arn+"0")
		var ge *GoneError
		if !errors.As(err, &ge) {
			t.Fatalf("DescribeShards = %v, want a GoneError", err)
		}
	})
	t.Run("far past the open shard's end", func(t *testing.T) {
		// DynamoDB Local answers 500 InternalFailure for a sequence number
		// far beyond the last record of an open shard; that is a failure
		// like any other, not a lost position.
		r := &ShardReader{Client: sc, StreamARN: arn, Shard: shard, After: "99999999999999999999999999"}
		var c collector
		err := r.Read(ctx, c.emit)
		if err == nil || len(c.pages) != 0 {
			t.Fatalf("Read = %v with %d pages", err, len(c.pages))
		}
		t.Logf("%v (lost: %v)", err, StreamLost(err))
	})
}

func TestStreamThrottled(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	db := testenv.DynamoDBClient(t)
	proxy := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	sc := testenv.StreamsClientAt(proxy.URL)
	table := testenv.UniqueName(t, "throttle")
	arn := createStreamTable(t, ctx, db, table, types.StreamViewTypeKeysOnly)
	const n = 12
	for i := range n {
		put(t, ctx, db, table, map[string]types.AttributeValue{"id": sv(fmt.Sprint(i))})
	}
	_, shard := onlyShard(t, ctx, sc, arn)
	proxy.Throttle("GetRecords", 2)
	r := &ShardReader{Client: sc, StreamARN: arn, Shard: shard, PageLimit: 3, Limiter: rate.NewLimiter(50, 1)}
	var c collector
	if err := r.Read(ctx, c.emit); err != nil {
		t.Fatal(err)
	}
	if got := c.check(t); len(got) != n {
		t.Fatalf("read %d changes, want %d", len(got), n)
	}
	injected := 0
	for _, req := range proxy.Requests() {
		if req.Operation == "GetRecords" && req.Injected {
			injected++
		}
	}
	if injected == 0 {
		t.Fatal("no GetRecords call was throttled")
	}
	t.Logf("%d GetRecords calls, %d throttled", proxy.Count("GetRecords"), injected)

	t.Run("denied", func(t *testing.T) {
		proxy.Clear()
		proxy.Deny("GetRecords", "")
		var c collector
		err := (&ShardReader{Client: sc, StreamARN: arn, Shard: shard}).Read(ctx, c.emit)
		var pe *PermissionError
		if !errors.As(err, &pe) || pe.Action != "dynamodb:GetRecords" || pe.Table != table {
			t.Fatalf("Read = %v, want a PermissionError for dynamodb:GetRecords on %s", err, table)
		}
	})
}

// expiringClient passes calls to a real client but answers chosen
// GetRecords calls (by number, from 1) with ExpiredIteratorException and
// records the GetShardIterator requests.
type expiringClient struct {
	RecordsAPI
	expireAt map[int]bool
	calls    int
	iters    []dynamodbstreams.GetShardIteratorInput
}

func (e *expiringClient) GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	e.iters = append(e.iters, *in)
	return e.RecordsAPI.GetShardIterator(ctx, in, opts...)
}

func (e *expiringClient) GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	e.calls++
	if e.expireAt[e.calls] {
		return nil, &streamtypes.ExpiredIteratorException{Message: aws.String("Iterator expired")}
	}
	return e.RecordsAPI.GetRecords(ctx, in, opts...)
}

func TestStreamExpiredIterator(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	db := testenv.DynamoDBClient(t)
	sc := testenv.StreamsClient(t)
	table := testenv.UniqueName(t, "expire")
	arn := createStreamTable(t, ctx, db, table, types.StreamViewTypeKeysOnly)
	const n = 7
	for i := range n {
		put(t, ctx, db, table, map[string]types.AttributeValue{"id": sv(fmt.Sprint(i))})
	}
	_, shard := onlyShard(t, ctx, sc, arn)
	client := &expiringClient{RecordsAPI: sc, expireAt: map[int]bool{2: true, 4: true}}
	r := &ShardReader{Client: client, StreamARN: arn, Shard: shard, PageLimit: 3}
	var c collector
	if err := r.Read(ctx, c.emit); err != nil {
		t.Fatal(err)
	}
	if got := c.check(t); len(got) != n {
		t.Fatalf("read %d changes, want %d exactly once", len(got), n)
	}
	// First from the start, then after the last change of each page before
	// an expiry.
	all := c.changes()
	want := []string{"TRIM_HORIZON:", "AFTER_SEQUENCE_NUMBER:" + all[2].Seq, "AFTER_SEQUENCE_NUMBER:" + all[5].Seq}
	var got []string
	for _, in := range client.iters {
		got = append(got, string(in.ShardIteratorType)+":"+aws.ToString(in.SequenceNumber))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("iterators %v, want %v", got, want)
	}
}
