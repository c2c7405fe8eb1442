package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/state"
	"github.com/dynamosync/dynamosync/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.DynamoDB)
}

// memory is a destination that keeps rows and state in memory and can be
// told to fail after some batches.
type memory struct {
	mu        sync.Mutex
	rows      map[string]map[string]bool // table -> ids
	state     []byte
	batches   int
	failAfter int // fail the batch after this many succeeded; 0 never
}

func (m *memory) LoadState(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state, nil
}

var errInjected = errors.New("injected failure")

func (m *memory) Apply(_ context.Context, b *change.Batch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failAfter > 0 && m.batches >= m.failAfter {
		return errInjected
	}
	m.batches++
	if m.rows == nil {
		m.rows = map[string]map[string]bool{}
	}
	for _, t := range b.Tables {
		if m.rows[t.Table.Name] == nil {
			m.rows[t.Table.Name] = map[string]bool{}
		}
		for _, item := range t.Upserts {
			m.rows[t.Table.Name][item["id"].(*types.AttributeValueMemberS).Value] = true
		}
	}
	m.state = b.State
	return nil
}

func load(t *testing.T, ctx context.Context, client *dynamodb.Client, table string, n int) {
	t.Helper()
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 25 {
		var reqs []types.WriteRequest
		for j := i; j < min(i+25, n); j++ {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				"id":  &types.AttributeValueMemberS{Value: fmt.Sprintf("%06d", j)},
				"pad": &types.AttributeValueMemberS{Value: fmt.Sprintf("%04000d", j)},
			}}})
		}
		if _, err := client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}}); err != nil {
			t.Fatal(err)
		}
	}
}

func newEngine(client *dynamodb.Client, dst Destination, table string) *Engine {
	return &Engine{
		Client:        client,
		Destination:   dst,
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		Selects:       func(name string) bool { return name == table },
		TotalSegments: 3,
		MaxRequests:   2,
		MaxTables:     2,
		BatchItems:    100,
	}
}

// TestFailedCommitResumes: a destination failure stops the sync with the
// state at the last commit; the next sync reads only what was not committed
// and ends with every item.
func TestFailedCommitResumes(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	client := testenv.DynamoDBClient(t)
	table := testenv.UniqueName(t, "eng")
	const n = 2000 // ~8 MB: several pages per segment
	load(t, ctx, client, table, n)

	dst := &memory{failAfter: 3}
	_, err := newEngine(client, dst, table).Sync(ctx)
	if !errors.Is(err, errInjected) {
		t.Fatalf("first sync: %v, want the injected failure", err)
	}
	st, err := state.Decode(dst.state)
	if err != nil {
		t.Fatal(err)
	}
	snap := st.Tables[table].Snapshot
	if snap.Done() || snap.Items() != int64(len(dst.rows[table])) {
		t.Fatalf("after failure: state says %d items (done %v), destination has %d", snap.Items(), snap.Done(), len(dst.rows[table]))
	}
	committed := snap.Items()

	dst.failAfter = 0
	summary, err := newEngine(client, dst, table).Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dst.rows[table]) != n {
		t.Fatalf("destination has %d items, want %d", len(dst.rows[table]), n)
	}
	res := summary.Tables[0]
	if !res.Resumed || res.Items+committed < n || res.Items >= n {
		t.Fatalf("second run: %+v after %d committed", res, committed)
	}
	t.Logf("first run committed %d items; second resumed and read %d", committed, res.Items)
	st, _ = state.Decode(dst.state)
	if s := st.Tables[table].Snapshot; !s.Done() || s.CompletedAt == nil {
		t.Fatalf("snapshot not completed in state: %+v", s)
	}

	// A completed snapshot is taken again by the next sync.
	summary, err = newEngine(client, dst, table).Sync(ctx)
	if err != nil || summary.Tables[0].Resumed || summary.Tables[0].Items != n {
		t.Fatalf("third sync: %v %+v", err, summary.Tables[0])
	}
}

// TestEmptyTableCompletes: a table without items still completes and is
// created in the destination.
func TestEmptyTableCompletes(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	client := testenv.DynamoDBClient(t)
	table := testenv.UniqueName(t, "empty")
	load(t, ctx, client, table, 0)
	dst := &memory{}
	summary, err := newEngine(client, dst, table).Sync(ctx)
	if err != nil || len(summary.Tables) != 1 || summary.Tables[0].Err != nil {
		t.Fatalf("%v %+v", err, summary)
	}
	if _, ok := dst.rows[table]; !ok {
		t.Fatal("empty table never reached the destination")
	}
}
