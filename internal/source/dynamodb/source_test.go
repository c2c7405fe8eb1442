package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/semaphore"

	"github.com/dynamosync/dynamosync/internal/change"
	"github.com/dynamosync/dynamosync/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.DynamoDB)
}

func createTable(t *testing.T, ctx context.Context, client *dynamodb.Client, name string, keys ...change.KeyAttribute) {
	t.Helper()
	in := &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: types.BillingModePayPerRequest}
	for i, k := range keys {
		kt := types.KeyTypeHash
		if i == 1 {
			kt = types.KeyTypeRange
		}
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: aws.String(k.Name), KeyType: kt})
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(k.Name), AttributeType: types.ScalarAttributeType(k.Type)})
	}
	if _, err := client.CreateTable(ctx, in); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
}

func TestDiscoverKeySchemas(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	client := testenv.DynamoDBClient(t)
	prefix := testenv.UniqueName(t, "disc")
	tests := []struct {
		suffix string
		key    []change.KeyAttribute
	}{
		{"hash-s", []change.KeyAttribute{{Name: "id", Type: change.KeyString}}},
		{"hash-n.range-s", []change.KeyAttribute{{Name: "n", Type: change.KeyNumber}, {Name: "sort key", Type: change.KeyString}}},
		{"hash-b.range-b", []change.KeyAttribute{{Name: "b", Type: change.KeyBinary}, {Name: "r", Type: change.KeyBinary}}},
	}
	for _, tt := range tests {
		createTable(t, ctx, client, prefix+tt.suffix, tt.key...)
	}
	infos, failed, err := Discover(ctx, client, func(name string) bool { return len(name) > len(prefix) && name[:len(prefix)] == prefix }, 4)
	if err != nil || len(failed) > 0 {
		t.Fatalf("discover: %v %v", err, failed)
	}
	if len(infos) != len(tests) {
		t.Fatalf("discovered %d tables, want %d", len(infos), len(tests))
	}
	byName := map[string]TableInfo{}
	for _, info := range infos {
		byName[info.Name] = info
	}
	for _, tt := range tests {
		t.Run(tt.suffix, func(t *testing.T) {
			info := byName[prefix+tt.suffix]
			if fmt.Sprint(info.Key) != fmt.Sprint(tt.key) {
				t.Fatalf("key %v, want %v", info.Key, tt.key)
			}
		})
	}
}

func TestListTablesPaginates(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	client := testenv.DynamoDBClient(t)
	prefix := testenv.UniqueName(t, "page")
	const n = 105
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			createTable(t, ctx, client, fmt.Sprintf("%s%03d", prefix, i), change.KeyAttribute{Name: "id", Type: change.KeyString})
		}()
	}
	wg.Wait()
	names, err := ListTables(ctx, client, func(name string) bool { return len(name) > len(prefix) && name[:len(prefix)] == prefix })
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != n || !sort.StringsAreSorted(names) {
		t.Fatalf("listed %d tables (sorted %v), want %d", len(names), sort.StringsAreSorted(names), n)
	}
}

func TestSegmentsReadEveryItemOnce(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	client := testenv.DynamoDBClient(t)
	table := testenv.UniqueName(t, "seg")
	createTable(t, ctx, client, table, change.KeyAttribute{Name: "id", Type: change.KeyString})
	const n = 500
	for i := 0; i < n; i += 25 {
		var reqs []types.WriteRequest
		for j := i; j < i+25; j++ {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				"id":  &types.AttributeValueMemberS{Value: fmt.Sprintf("item-%04d", j)},
				"pad": &types.AttributeValueMemberS{Value: fmt.Sprintf("%0900d", j)},
			}}})
		}
		if _, err := client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, total := range []int{1, 3, 8} {
		t.Run(fmt.Sprintf("segments=%d", total), func(t *testing.T) {
			s := &Scanner{Client: client, Requests: semaphore.NewWeighted(2)}
			var mu sync.Mutex
			seen := map[string]int{}
			pages := 0
			var capacity float64
			for seg := range total {
				err := s.Segment(ctx, table, seg, total, nil, func(_ context.Context, p Page) error {
					mu.Lock()
					defer mu.Unlock()
					pages++
					capacity += p.Capacity
					for _, item := range p.Items {
						seen[item["id"].(*types.AttributeValueMemberS).Value]++
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if len(seen) != n {
				t.Fatalf("read %d distinct items, want %d", len(seen), n)
			}
			for id, c := range seen {
				if c != 1 {
					t.Fatalf("item %s read %d times", id, c)
				}
			}
			if capacity <= 0 {
				t.Fatalf("no consumed capacity reported")
			}
			t.Logf("%d pages, %.1f read units", pages, capacity)
		})
	}
}

func TestScanResumesFromLastKey(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	client := testenv.DynamoDBClient(t)
	table := testenv.UniqueName(t, "resume")
	createTable(t, ctx, client, table, change.KeyAttribute{Name: "id", Type: change.KeyNumber})
	for i := range 300 {
		_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
			"id":  &types.AttributeValueMemberN{Value: fmt.Sprint(i)},
			"pad": &types.AttributeValueMemberS{Value: fmt.Sprintf("%010000d", i)},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	s := &Scanner{Client: client, Requests: semaphore.NewWeighted(1)}
	stop := errors.New("stop")
	var first []string
	var last map[string]types.AttributeValue
	err := s.Segment(ctx, table, 0, 1, nil, func(_ context.Context, p Page) error {
		for _, item := range p.Items {
			first = append(first, item["id"].(*types.AttributeValueMemberN).Value)
		}
		last = p.LastKey
		return stop
	})
	if !errors.Is(err, stop) || last == nil {
		t.Fatalf("first page: %v, last key %v", err, last)
	}
	var rest []string
	if err := s.Segment(ctx, table, 0, 1, last, func(_ context.Context, p Page) error {
		for _, item := range p.Items {
			rest = append(rest, item["id"].(*types.AttributeValueMemberN).Value)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	all := map[string]bool{}
	for _, id := range append(first, rest...) {
		if all[id] {
			t.Fatalf("item %s read twice", id)
		}
		all[id] = true
	}
	if len(all) != 300 || len(first) == 0 || len(first) == 300 {
		t.Fatalf("first page %d items, then %d, total distinct %d", len(first), len(rest), len(all))
	}
}

func TestClassify(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	proxy := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	client := testenv.DynamoDBClientAt(proxy.URL)
	table := testenv.UniqueName(t, "deny")
	createTable(t, ctx, client, table, change.KeyAttribute{Name: "id", Type: change.KeyString})
	proxy.Deny("Scan", table)
	s := &Scanner{Client: client, Requests: semaphore.NewWeighted(1)}
	err := s.Segment(ctx, table, 0, 1, nil, func(context.Context, Page) error { return nil })
	var pe *PermissionError
	if !errors.As(err, &pe) || pe.Error() != fmt.Sprintf("dynamodb:Scan on table %s denied (AccessDeniedException)", table) {
		t.Fatalf("denied scan: %v", err)
	}
	_, err = Describe(ctx, client, table+"-missing")
	var nf *NotFoundError
	if !errors.As(err, &nf) || nf.Error() != fmt.Sprintf("table %s-missing no longer exists (ResourceNotFoundException)", table) {
		t.Fatalf("missing table: %v", err)
	}
}

func TestSegmentsForSize(t *testing.T) {
	tests := []struct {
		size int64
		want int
	}{
		{0, 1}, {1, 1}, {8 << 20, 1}, {8<<20 + 1, 2}, {100 << 20, 13}, {1 << 30, 128}, {8 << 30, 1000}, {1 << 40, 1000},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.size), func(t *testing.T) {
			if got := Segments(tt.size); got != tt.want {
				t.Fatalf("Segments(%d) = %d, want %d", tt.size, got, tt.want)
			}
		})
	}
}
