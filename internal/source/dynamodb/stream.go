package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/smithy-go"
	"golang.org/x/time/rate"
)

// DescribeStreamAPI is what listing a stream's shards needs from a DynamoDB
// Streams client.
type DescribeStreamAPI interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
}

// RecordsAPI is what reading a shard needs from a DynamoDB Streams client.
type RecordsAPI interface {
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// StreamAPI is a DynamoDB Streams client: *dynamodbstreams.Client.
type StreamAPI interface {
	DescribeStreamAPI
	RecordsAPI
}

// StreamInfo is what DescribeStream tells about a stream.
type StreamInfo struct {
	ARN string
	// Status is ENABLING, ENABLED, DISABLING or DISABLED. A disabled stream
	// stays readable (its shards are closed) until its records are trimmed.
	Status string
	// ViewType is KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES.
	ViewType string
	// Shards are every shard of the stream, in the order DescribeStream
	// listed them.
	Shards []Shard
}

// Enabled reports whether the stream still receives records.
func (s StreamInfo) Enabled() bool {
	return s.Status == string(streamtypes.StreamStatusEnabled) || s.Status == string(streamtypes.StreamStatusEnabling)
}

// DescribeShards lists every shard of a stream, following the
// LastEvaluatedShardId pagination of DescribeStream, and returns the
// stream's status and view type too. A stream that does not exist is a
// *GoneError.
func DescribeShards(ctx context.Context, client DescribeStreamAPI, streamARN string) (StreamInfo, error) {
	info := StreamInfo{ARN: streamARN}
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(streamARN)}
	seen := map[string]bool{}
	for {
		out, err := client.DescribeStream(ctx, in)
		if err != nil {
			return StreamInfo{}, streamError(err, "DescribeStream", streamARN, "")
		}
		d := out.StreamDescription
		if d == nil {
			return StreamInfo{}, fmt.Errorf("stream of table %s: DescribeStream answered without a description", streamTable(streamARN))
		}
		info.Status = string(d.StreamStatus)
		info.ViewType = string(d.StreamViewType)
		for _, s := range d.Shards {
			sh := Shard{ID: aws.ToString(s.ShardId), Parent: aws.ToString(s.ParentShardId)}
			if r := s.SequenceNumberRange; r != nil {
				sh.StartSeq = aws.ToString(r.StartingSequenceNumber)
				sh.EndSeq = aws.ToString(r.EndingSequenceNumber)
			}
			if sh.ID == "" || seen[sh.ID] {
				continue
			}
			seen[sh.ID] = true
			info.Shards = append(info.Shards, sh)
		}
		next := aws.ToString(d.LastEvaluatedShardId)
		if next == "" {
			return info, nil
		}
		if next == aws.ToString(in.ExclusiveStartShardId) {
			return StreamInfo{}, fmt.Errorf("stream of table %s: DescribeStream pagination does not advance past shard %s", streamTable(streamARN), next)
		}
		in.ExclusiveStartShardId = aws.String(next)
	}
}

// ChangeKind is what a stream record did to an item.
type ChangeKind int

// Change kinds.
const (
	// Upsert is an insert or a modification: the item exists afterwards.
	Upsert ChangeKind = iota + 1
	// Delete is a removal.
	Delete
)

func (k ChangeKind) String() string {
	switch k {
	case Upsert:
		return "upsert"
	case Delete:
		return "delete"
	default:
		return fmt.Sprintf("ChangeKind(%d)", int(k))
	}
}

// Change is one stream record.
type Change struct {
	Kind ChangeKind
	// Keys are the item's key attributes.
	Keys map[string]types.AttributeValue
	// NewImage is the item after the change; nil when the stream's view type
	// has no new images (KEYS_ONLY, OLD_IMAGE) and for deletes.
	NewImage map[string]types.AttributeValue
	// OldImage is the item before the change; nil when the view type has no
	// old images (KEYS_ONLY, NEW_IMAGE) and for inserts.
	OldImage map[string]types.AttributeValue
	// Seq is the record's sequence number.
	Seq string
	// At is the record's ApproximateCreationDateTime; zero when absent.
	At time.Time
	// TTLExpired is set on a delete made by DynamoDB's time-to-live process
	// (user identity of type "Service", principal "dynamodb.amazonaws.com").
	TTLExpired bool
}

// Identity of the time-to-live process on the records of the deletes it
// makes.
const (
	ttlIdentityType      = "Service"
	ttlIdentityPrincipal = "dynamodb.amazonaws.com"
)

// ConvertRecord turns a stream record into a Change.
func ConvertRecord(r streamtypes.Record) (Change, error) {
	d := r.Dynamodb
	if d == nil || aws.ToString(d.SequenceNumber) == "" {
		return Change{}, fmt.Errorf("stream record %s has no sequence number", aws.ToString(r.EventID))
	}
	c := Change{
		Keys:     ConvertItem(d.Keys),
		NewImage: ConvertItem(d.NewImage),
		OldImage: ConvertItem(d.OldImage),
		Seq:      aws.ToString(d.SequenceNumber),
		At:       aws.ToTime(d.ApproximateCreationDateTime),
	}
	switch r.EventName {
	case streamtypes.OperationTypeInsert, streamtypes.OperationTypeModify:
		c.Kind = Upsert
	case streamtypes.OperationTypeRemove:
		c.Kind = Delete
		c.NewImage = nil
		if id := r.UserIdentity; id != nil {
			c.TTLExpired = aws.ToString(id.Type) == ttlIdentityType && aws.ToString(id.PrincipalId) == ttlIdentityPrincipal
		}
	default:
		return Change{}, fmt.Errorf("stream record %s (sequence number %s) has unknown event %q", aws.ToString(r.EventID), c.Seq, r.EventName)
	}
	if len(c.Keys) == 0 {
		return Change{}, fmt.Errorf("stream record %s (sequence number %s) has no keys", aws.ToString(r.EventID), c.Seq)
	}
	return c, nil
}

// ConvertItem turns a map of DynamoDB Streams attribute values into the
// same map of DynamoDB attribute values: every member type, recursively,
// with nothing lost. A nil map stays nil; an empty one stays empty.
func ConvertItem(m map[string]streamtypes.AttributeValue) map[string]types.AttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		out[k] = ConvertValue(v)
	}
	return out
}

// ConvertValue turns one DynamoDB Streams attribute value into the DynamoDB
// one. Byte slices are shared, not copied. A member type this package does
// not know (added to the API later) is kept as an UnknownUnionMember with
// the same tag; nil stays nil.
func ConvertValue(v streamtypes.AttributeValue) types.AttributeValue {
	switch v := v.(type) {
	case nil:
		return nil
	case *streamtypes.AttributeValueMemberS:
		return &types.AttributeValueMemberS{Value: v.Value}
	case *streamtypes.AttributeValueMemberN:
		return &types.AttributeValueMemberN{Value: v.Value}
	case *streamtypes.AttributeValueMemberB:
		return &types.AttributeValueMemberB{Value: v.Value}
	case *streamtypes.AttributeValueMemberBOOL:
		return &types.AttributeValueMemberBOOL{Value: v.Value}
	case *streamtypes.AttributeValueMemberNULL:
		return &types.AttributeValueMemberNULL{Value: v.Value}
	case *streamtypes.AttributeValueMemberSS:
		return &types.AttributeValueMemberSS{Value: v.Value}
	case *streamtypes.AttributeValueMemberNS:
		return &types.AttributeValueMemberNS{Value: v.Value}
	case *streamtypes.AttributeValueMemberBS:
		return &types.AttributeValueMemberBS{Value: v.Value}
	case *streamtypes.AttributeValueMemberL:
		var l []types.AttributeValue
		if v.Value != nil {
			l = make([]types.AttributeValue, len(v.Value))
			for i, e := range v.Value {
				l[i] = ConvertValue(e)
			}
		}
		return &types.AttributeValueMemberL{Value: l}
	case *streamtypes.AttributeValueMemberM:
		return &types.AttributeValueMemberM{Value: ConvertItem(v.Value)}
	case *streamtypes.UnknownUnionMember:
		return &types.UnknownUnionMember{Tag: v.Tag, Value: v.Value}
	default:
		return &types.UnknownUnionMember{Tag: fmt.Sprintf("%T", v)}
	}
}

// Reading pace and idle backoff defaults.
const (
	// ShardRate is the most GetRecords calls a second that DynamoDB Streams
	// serves for one shard; more are throttled.
	ShardRate = 5
	// IdleMin is the first pause of a following reader after an empty page
	// of an open shard; the pause doubles while the shard stays idle.
	IdleMin = 200 * time.Millisecond
	// IdleMaxDefault is the longest such pause when IdleMax is zero.
	IdleMaxDefault = 2 * time.Second
)

// ShardReader reads one shard from a position.
type ShardReader struct {
	Client    RecordsAPI
	StreamARN string
	Shard     Shard
	// After is the last sequence number already applied; "" reads from the
	// shard's oldest record (TRIM_HORIZON).
	After string
	// Limiter paces GetRecords calls for this shard (DynamoDB Streams serves
	// at most 5 a second per shard); nil is a limiter of ShardRate a second,
	// made on the first Read and kept for the reader's later Reads.
	Limiter *rate.Limiter
	// Follow keeps polling an open shard once caught up, pausing while it is
	// idle (from IdleMin, doubling up to IdleMax, back to IdleMin when records
	// arrive), until the shard closes or ctx ends. Without Follow, Read stops
	// at the first empty page of an open shard, or after Until.
	Follow bool
	// Until, when set and without Follow, also stops Read after the first
	// page whose last record was made after it (ApproximateCreationDateTime):
	// changes that keep arriving are left to the next sync, which would
	// otherwise never end while a table is written to without pause.
	Until time.Time
	// IdleMax is the longest pause between polls of an idle open shard; zero
	// is IdleMaxDefault.
	IdleMax time.Duration
	// PageLimit is the most records one GetRecords call asks for; zero is the
	// service's maximum (1000).
	PageLimit int32

	ownLimiter *rate.Limiter // the default limiter when Limiter is nil
	finished   bool
}

// Finished reports whether the last Read returned nil because the shard is
// closed and fully read (the caller marks it done), rather than because it
// caught up with an open shard. It is true even when the Shard passed in
// was still open when it was described.
func (r *ShardReader) Finished() bool { return r.finished }

// Read calls emit for every non-empty page of changes, in sequence order,
// with the sequence number of the page's last change: the caller checkpoints
// it once the page is committed. emit may block (back-pressure); an error
// from emit ends Read with that error.
//
// Read returns nil when the shard is closed and fully read (GetRecords gave
// no next iterator), or, without Follow, when it caught up with an open
// shard or read past Until. Pages that only skip over a part of the shard
// without records do not stop the reading of a closed shard.
//
// A position that cannot be read any more is a *TrimmedError: the records
// were trimmed (TrimmedDataAccessException), After is not a sequence number
// of this shard, or DynamoDB refuses an iterator for it (ValidationException).
// A stream or shard that does not exist is a *GoneError. Either means the
// table must be snapshotted again.
//
// An expired iterator (ExpiredIteratorException: an iterator lives 15
// minutes, and emit may hold one that long) is replaced by a new one after
// the last emitted sequence number; only when that replacement fails with a
// trimmed or refused position, or expires at once, is it a *TrimmedError.
// Other errors are returned wrapped with the table and shard, permission
// errors as *PermissionError. When ctx ends, Read returns ctx.Err().
func (r *ShardReader) Read(ctx context.Context, emit func(ctx context.Context, page []Change, last string) error) error {
	r.finished = false
	limiter := r.Limiter
	if limiter == nil {
		if r.ownLimiter == nil {
			r.ownLimiter = rate.NewLimiter(ShardRate, 1)
		}
		limiter = r.ownLimiter
	}
	idleMax := r.IdleMax
	if idleMax <= 0 {
		idleMax = IdleMaxDefault
	}
	if r.After != "" && !r.Shard.Holds(r.After) {
		return &TrimmedError{StreamARN: r.StreamARN, Shard: r.Shard.ID, After: r.After,
			Reason: fmt.Sprintf("not a sequence number of the shard (range %s to %s)", r.Shard.StartSeq, orOpen(r.Shard.EndSeq))}
	}

	last := r.After
	iter, err := r.iterator(ctx, last)
	if err != nil {
		return err
	}
	if iter == nil { // no iterator: nothing left to read in a closed shard
		r.finished = true
		return nil
	}
	var idle time.Duration
	renewed := false // the current iterator replaced an expired one and has not yet been used
	for {
		if err := limiter.Wait(ctx); err != nil {
			return waitErr(ctx, err)
		}
		in := &dynamodbstreams.GetRecordsInput{ShardIterator: iter}
		if r.PageLimit > 0 {
			in.Limit = aws.Int32(r.PageLimit)
		}
		out, err := r.Client.GetRecords(ctx, in)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errorCode(err) == "ExpiredIteratorException" {
				if renewed {
					return &TrimmedError{StreamARN: r.StreamARN, Shard: r.Shard.ID, After: last, Reason: "a new shard iterator expired at once", Err: err}
				}
				if iter, err = r.iterator(ctx, last); err != nil {
					return err
				}
				if iter == nil {
					r.finished = true
					return nil
				}
				renewed = true
				continue
			}
			return r.recordsError(err, last)
		}
		renewed = false

		page := make([]Change, 0, len(out.Records))
		for _, rec := range out.Records {
			c, err := ConvertRecord(rec)
			if err != nil {
				return fmt.Errorf("stream of table %s: shard %s: %w", streamTable(r.StreamARN), r.Shard.ID, err)
			}
			if last != "" && CompareSeq(c.Seq, last) <= 0 {
				continue // already applied: a re-created iterator may repeat records
			}
			page = append(page, c)
		}
		past := false // the page ends after Until
		if len(page) > 0 {
			end := page[len(page)-1]
			if err := emit(ctx, page, end.Seq); err != nil {
				return err
			}
			last = end.Seq
			idle = 0
			past = !r.Until.IsZero() && end.At.After(r.Until)
		}
		if out.NextShardIterator == nil {
			r.finished = true
			return nil
		}
		if past && !r.Follow {
			return nil
		}
		iter = out.NextShardIterator
		if len(out.Records) > 0 || !r.Shard.Open() {
			continue
		}
		// An empty page of an open shard: caught up, for now.
		if !r.Follow {
			return nil
		}
		idle = nextIdle(idle, idleMax)
		t := time.NewTimer(idle)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// nextIdle is the pause after another empty page of an open shard, when the
// previous pause was cur: IdleMin first, then doubling, at most max.
func nextIdle(cur, max time.Duration) time.Duration {
	next := cur * 2
	if cur <= 0 {
		next = IdleMin
	}
	return min(next, max)
}

// iterator returns a shard iterator positioned after the sequence number
// after, or at the shard's oldest record when after is "". A nil iterator
// means the shard has nothing left to read.
func (r *ShardReader) iterator(ctx context.Context, after string) (*string, error) {
	in := &dynamodbstreams.GetShardIteratorInput{
		StreamArn:         aws.String(r.StreamARN),
		ShardId:           aws.String(r.Shard.ID),
		ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
	}
	if after != "" {
		in.ShardIteratorType = streamtypes.ShardIteratorTypeAfterSequenceNumber
		in.SequenceNumber = aws.String(after)
	}
	out, err := r.Client.GetShardIterator(ctx, in)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		switch errorCode(err) {
		case "TrimmedDataAccessException":
			return nil, &TrimmedError{StreamARN: r.StreamARN, Shard: r.Shard.ID, After: after, Reason: "the records after it were trimmed", Err: err}
		case "ValidationException":
			if after != "" {
				return nil, &TrimmedError{StreamARN: r.StreamARN, Shard: r.Shard.ID, After: after, Reason: "DynamoDB refuses an iterator for it", Err: err}
			}
		}
		return nil, streamError(err, "GetShardIterator", r.StreamARN, r.Shard.ID)
	}
	return out.ShardIterator, nil
}

// recordsError classifies a failed GetRecords call.
func (r *ShardReader) recordsError(err error, last string) error {
	if errorCode(err) == "TrimmedDataAccessException" {
		return &TrimmedError{StreamARN: r.StreamARN, Shard: r.Shard.ID, After: last, Reason: "the records after it were trimmed", Err: err}
	}
	return streamError(err, "GetRecords", r.StreamARN, r.Shard.ID)
}

// streamError turns a failed DynamoDB Streams call op into a *GoneError
// when the stream or shard does not exist, and otherwise wraps it, as a
// *PermissionError where it is one, with the table and shard.
func streamError(err error, op, streamARN, shard string) error {
	table := streamTable(streamARN)
	if errorCode(err) == "ResourceNotFoundException" {
		return &GoneError{StreamARN: streamARN, Shard: shard, Err: err}
	}
	err = Classify(err, op, table)
	if shard == "" {
		return fmt.Errorf("stream of table %s: %w", table, err)
	}
	return fmt.Errorf("stream of table %s: shard %s: %w", table, shard, err)
}

// errorCode is the API error code of err; "" when it is not an API error.
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// waitErr is the error of a limiter wait that failed: the context's own
// error, or, when the wait would outlast the context's deadline, one that
// is context.DeadlineExceeded too.
func waitErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w: %v", context.DeadlineExceeded, err)
}

func orOpen(end string) string {
	if end == "" {
		return "open"
	}
	return end
}
