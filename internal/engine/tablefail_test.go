package engine

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	source "github.com/dynamosync/dynamosync/internal/source/dynamodb"
	"github.com/dynamosync/dynamosync/internal/state"
	"github.com/dynamosync/dynamosync/internal/testenv"
)

// tfProgress records when each table is done, and with what error.
type tfProgress struct {
	mu   sync.Mutex
	done map[string]chan error
}

func (p *tfProgress) ch(name string) chan error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		p.done = map[string]chan error{}
	}
	if p.done[name] == nil {
		p.done[name] = make(chan error, 1)
	}
	return p.done[name]
}

func (p *tfProgress) Table(name string, _ int64) TableProgress {
	return tfTableProgress{done: p.ch(name)}
}

type tfTableProgress struct{ done chan error }

func (tfTableProgress) Add(int)          {}
func (p tfTableProgress) Done(err error) { p.done <- err }

// TestDeniedTableFailsAlone: a table whose Scan is denied fails with a
// PermissionError naming the action; the other table completes and the
// sync's error names the failed table.
func TestDeniedTableFailsAlone(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	client := testenv.DynamoDBClient(t)
	prefix := testenv.UniqueName(t, "tfdeny")
	denied, open := prefix+"-denied", prefix+"-open"
	const n = 300
	load(t, ctx, client, denied, n)
	load(t, ctx, client, open, n)
	proxy := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	proxy.Deny("Scan", denied)

	dst := &memory{}
	e := newEngine(testenv.DynamoDBClientAt(proxy.URL), dst, "")
	e.Selects = func(name string) bool { return strings.HasPrefix(name, prefix+"-") }
	summary, err := e.Sync(ctx)
	if !errors.Is(err, ErrTablesFailed) || !strings.Contains(err.Error(), "1 of 2 tables: "+denied) {
		t.Fatalf("Sync = %v, want ErrTablesFailed naming %s", err, denied)
	}
	for _, res := range summary.Tables {
		switch res.Table {
		case denied:
			var pe *source.PermissionError
			if !errors.As(res.Err, &pe) || pe.Action != "dynamodb:Scan" || !strings.Contains(res.Err.Error(), "AccessDeniedException") {
				t.Fatalf("denied table: error %v, want a PermissionError for dynamodb:Scan", res.Err)
			}
		case open:
			if res.Err != nil || res.Items != n {
				t.Fatalf("open table: %+v", res)
			}
		default:
			t.Fatalf("unexpected table %s", res.Table)
		}
	}
	if len(summary.Tables) != 2 || len(dst.rows[open]) != n || len(dst.rows[denied]) != 0 {
		t.Fatalf("%d tables in summary; destination has %d rows of %s, %d of %s",
			len(summary.Tables), len(dst.rows[open]), open, len(dst.rows[denied]), denied)
	}
	t.Logf("sync error: %v", err)
}

// TestFollowStreamDisabled: in follow mode, a table whose stream is disabled
// is snapshotted again, marking rows its new snapshot does not see as
// deleted, with a warning, and then is done like a table without a stream,
// while the sync goes on following.
func TestFollowStreamDisabled(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	client := testenv.DynamoDBClient(t)
	table := testenv.UniqueName(t, "tfoff")
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		t.Fatal(err)
	}
	put := func(id string) {
		t.Helper()
		_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table),
			Item: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"a", "b", "c"} {
		put(id)
	}

	dst := &memory{}
	logs := &testenv.SyncBuffer{}
	progress := &tfProgress{}
	e := newEngine(client, dst, table)
	e.Streams = testenv.StreamsClient(t)
	e.Follow = true
	e.Progress = progress
	e.Log = slog.New(slog.NewJSONHandler(logs, nil))
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	type outcome struct {
		summary *Summary
		err     error
	}
	ended := make(chan outcome, 1)
	go func() {
		s, err := e.Sync(sctx)
		ended <- outcome{s, err}
	}()
	tableState := func() *state.Table {
		raw, _ := dst.LoadState(ctx)
		st, err := state.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		return st.Tables[table]
	}
	for {
		if ts := tableState(); ts != nil && ts.Snapshot != nil && ts.Snapshot.Done() && ts.Stream != nil {
			break
		}
		select {
		case o := <-ended:
			t.Fatalf("Sync ended while following: %v", o.err)
		case <-ctx.Done():
			t.Fatal("the first snapshot did not complete")
		case <-time.After(20 * time.Millisecond):
		}
	}
	put("d") // read from the stream before it ends
	if _, err := client.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(table),
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(false)}}); err != nil {
		t.Fatal(err)
	}
	disabledAt := time.Now()
	select {
	case err := <-progress.ch(table):
		if err != nil {
			t.Fatalf("table finished with %v", err)
		}
	case o := <-ended:
		t.Fatalf("Sync ended: %v", o.err)
	case <-ctx.Done():
		t.Fatal("the table with the disabled stream never finished")
	}
	t.Logf("table finished %s after its stream was disabled", time.Since(disabledAt).Round(time.Millisecond))
	select {
	case o := <-ended:
		t.Fatalf("Sync stopped following after the table finished: %v", o.err)
	case <-time.After(200 * time.Millisecond):
	}
	stop()
	o := <-ended
	if o.err != nil || len(o.summary.Tables) != 1 || o.summary.Tables[0].Err != nil || !o.summary.Tables[0].Snapshot {
		t.Fatalf("Sync = %v, %+v", o.err, o.summary)
	}
	ts := tableState()
	if ts.Stream != nil || !ts.Snapshot.Done() || !ts.Snapshot.DeleteUnseen {
		t.Fatalf("state after the stream was disabled: stream %+v snapshot %+v", ts.Stream, ts.Snapshot)
	}
	dst.mu.Lock()
	rows := len(dst.rows[table])
	dst.mu.Unlock()
	if rows != 4 {
		t.Fatalf("destination has %d rows, want 4", rows)
	}
	if !strings.Contains(logs.String(), `"msg":"stream disabled: taking a new snapshot`) ||
		!strings.Contains(logs.String(), "stream status DISABLED") {
		t.Fatalf("no warning about the disabled stream:\n%s", logs)
	}
}
