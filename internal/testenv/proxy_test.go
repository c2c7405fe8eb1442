package testenv_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamodbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/dynamosync/dynamosync/internal/testenv"
)

// fastRetries makes the SDK retry quickly, at most attempts times in all.
func fastRetries(attempts int) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = attempts
			so.MaxBackoff = 5 * time.Millisecond
		})
	}
}

func proxyClient(p *testenv.Proxy, akid string, attempts int) *dynamodb.Client {
	return testenv.DynamoDBClientAt(p.URL, fastRetries(attempts), func(o *dynamodb.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(akid, "secret", "")
	})
}

func putItem(ctx context.Context, c *dynamodb.Client, table, id string) error {
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item:      map[string]dynamodbtypes.AttributeValue{"id": &dynamodbtypes.AttributeValueMemberS{Value: id}},
	})
	return err
}

func getItem(ctx context.Context, c *dynamodb.Client, table, id string) error {
	out, err := c.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key:       map[string]dynamodbtypes.AttributeValue{"id": &dynamodbtypes.AttributeValueMemberS{Value: id}},
	})
	if err == nil && out.Item == nil {
		return fmt.Errorf("item %q not found in %q", id, table)
	}
	return err
}

func scan(ctx context.Context, c *dynamodb.Client, table string) error {
	_, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	return err
}

// errorCode returns the service error code and HTTP status of err.
func errorCode(err error) (string, int) {
	var apiErr smithy.APIError
	var respErr *awshttp.ResponseError
	code, status := "", 0
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	return code, status
}

// call is what one request recorded by the proxy should look like.
type call struct {
	op       string
	status   int
	injected bool
}

func TestProxyRules(t *testing.T) {
	client := testenv.DynamoDBClient(t)
	tableA := testenv.UniqueName(t, "a")
	tableB := testenv.UniqueName(t, "b")
	createTable(t, client, tableA)
	createTable(t, client, tableB)
	for _, tbl := range []string{tableA, tableB} {
		if err := putItem(testenv.Context(t, time.Minute), client, tbl, "k"); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name       string
		attempts   int
		rules      func(p *testenv.Proxy)
		do         func(ctx context.Context, c *dynamodb.Client) error
		wantCode   string // "" for success
		wantStatus int
		wantCalls  []call
	}{
		{
			name:     "no rules forwards",
			attempts: 3,
			rules:    func(p *testenv.Proxy) {},
			do:       func(ctx context.Context, c *dynamodb.Client) error { return getItem(ctx, c, tableA, "k") },
			wantCalls: []call{
				{op: "GetItem", status: 200},
			},
		},
		{
			name:       "deny matching table",
			attempts:   3,
			rules:      func(p *testenv.Proxy) { p.Deny("Scan", tableA) },
			do:         func(ctx context.Context, c *dynamodb.Client) error { return scan(ctx, c, tableA) },
			wantCode:   "AccessDeniedException",
			wantStatus: 400,
			wantCalls:  []call{{op: "Scan", status: 400, injected: true}},
		},
		{
			name:      "deny other table",
			attempts:  3,
			rules:     func(p *testenv.Proxy) { p.Deny("Scan", tableA) },
			do:        func(ctx context.Context, c *dynamodb.Client) error { return scan(ctx, c, tableB) },
			wantCalls: []call{{op: "Scan", status: 200}},
		},
		{
			name:      "deny other operation",
			attempts:  3,
			rules:     func(p *testenv.Proxy) { p.Deny("Scan", tableA) },
			do:        func(ctx context.Context, c *dynamodb.Client) error { return getItem(ctx, c, tableA, "k") },
			wantCalls: []call{{op: "GetItem", status: 200}},
		},
		{
			name:       "deny any operation on table",
			attempts:   3,
			rules:      func(p *testenv.Proxy) { p.Deny("", tableB) },
			do:         func(ctx context.Context, c *dynamodb.Client) error { return getItem(ctx, c, tableB, "k") },
			wantCode:   "AccessDeniedException",
			wantStatus: 400,
			wantCalls:  []call{{op: "GetItem", status: 400, injected: true}},
		},
		{
			name:     "throttle every second is retried",
			attempts: 3,
			rules:    func(p *testenv.Proxy) { p.Throttle("GetItem", 2) },
			do: func(ctx context.Context, c *dynamodb.Client) error {
				if err := getItem(ctx, c, tableA, "k"); err != nil {
					return err
				}
				return getItem(ctx, c, tableA, "k")
			},
			wantCalls: []call{
				{op: "GetItem", status: 200},
				{op: "GetItem", status: 400, injected: true},
				{op: "GetItem", status: 200},
			},
		},
		{
			name:       "throttle every request exhausts retries",
			attempts:   3,
			rules:      func(p *testenv.Proxy) { p.Throttle("Scan", 1) },
			do:         func(ctx context.Context, c *dynamodb.Client) error { return scan(ctx, c, tableA) },
			wantCode:   "ProvisionedThroughputExceededException",
			wantStatus: 400,
			wantCalls: []call{
				{op: "Scan", status: 400, injected: true},
				{op: "Scan", status: 400, injected: true},
				{op: "Scan", status: 400, injected: true},
			},
		},
		{
			name:       "status 500",
			attempts:   2,
			rules:      func(p *testenv.Proxy) { p.FailStatus("PutItem", 1, 500) },
			do:         func(ctx context.Context, c *dynamodb.Client) error { return putItem(ctx, c, tableA, "x") },
			wantCode:   "InternalServerError",
			wantStatus: 500,
			wantCalls: []call{
				{op: "PutItem", status: 500, injected: true},
				{op: "PutItem", status: 500, injected: true},
			},
		},
		{
			name:     "clear removes rules",
			attempts: 1,
			rules:    func(p *testenv.Proxy) { p.FailStatus("PutItem", 1, 503); p.Deny("", ""); p.Clear() },
			do:       func(ctx context.Context, c *dynamodb.Client) error { return putItem(ctx, c, tableA, "y") },
			wantCalls: []call{
				{op: "PutItem", status: 200},
			},
		},
		{
			name:     "status 503 then success",
			attempts: 3,
			rules:    func(p *testenv.Proxy) { p.FailStatus("DescribeTable", 2, 503) },
			do: func(ctx context.Context, c *dynamodb.Client) error {
				for range 2 {
					if _, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tableA)}); err != nil {
						return err
					}
				}
				return nil
			},
			wantCalls: []call{
				{op: "DescribeTable", status: 200},
				{op: "DescribeTable", status: 503, injected: true},
				{op: "DescribeTable", status: 200},
			},
		},
		{
			name:     "connection reset is retried",
			attempts: 3,
			rules:    func(p *testenv.Proxy) { p.Reset("GetItem", 1); p.Throttle("Scan", 1) },
			do: func(ctx context.Context, c *dynamodb.Client) error {
				err := getItem(ctx, c, tableA, "k")
				if code, _ := errorCode(err); err == nil || code != "" {
					return fmt.Errorf("GetItem through resets: got %v, want a connection error", err)
				}
				return nil
			},
			wantCalls: []call{
				{op: "GetItem", status: 0, injected: true},
				{op: "GetItem", status: 0, injected: true},
				{op: "GetItem", status: 0, injected: true},
			},
		},
		{
			name:     "rules apply in order",
			attempts: 1,
			rules: func(p *testenv.Proxy) {
				p.Throttle("Scan", 2)
				p.Deny("Scan", "")
			},
			do: func(ctx context.Context, c *dynamodb.Client) error {
				err := scan(ctx, c, tableA)
				if code, _ := errorCode(err); code != "AccessDeniedException" {
					return fmt.Errorf("first scan: got %v, want AccessDeniedException", err)
				}
				return scan(ctx, c, tableA)
			},
			wantCode:   "ProvisionedThroughputExceededException",
			wantStatus: 400,
			wantCalls: []call{
				{op: "Scan", status: 400, injected: true},
				{op: "Scan", status: 400, injected: true},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testenv.Context(t, time.Minute)
			p := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
			tc.rules(p)
			err := tc.do(ctx, proxyClient(p, "AKIDRULES", tc.attempts))
			code, status := errorCode(err)
			switch {
			case tc.wantCode == "" && err != nil:
				t.Fatalf("got error %v, want success", err)
			case tc.wantCode != "" && (code != tc.wantCode || status != tc.wantStatus):
				t.Fatalf("got error %v (code %q, status %d), want code %q status %d", err, code, status, tc.wantCode, tc.wantStatus)
			}
			got := p.Requests()
			if len(got) != len(tc.wantCalls) {
				t.Fatalf("proxy recorded %d requests %+v, want %d", len(got), got, len(tc.wantCalls))
			}
			for i, w := range tc.wantCalls {
				r := got[i]
				if r.Operation != w.op || r.Status != w.status || r.Injected != w.injected || r.AccessKeyID != "AKIDRULES" {
					t.Errorf("request %d = %+v, want op %s status %d injected %v key AKIDRULES", i, r, w.op, w.status, w.injected)
				}
			}
		})
	}
}

func TestProxyRecordsTables(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	client := testenv.DynamoDBClient(t)
	tableA := testenv.UniqueName(t, "a")
	tableB := testenv.UniqueName(t, "b")
	createTable(t, client, tableA)
	createTable(t, client, tableB)
	streamTable := testenv.UniqueName(t, "s")
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(streamTable),
		AttributeDefinitions: []dynamodbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: dynamodbtypes.ScalarAttributeTypeS}},
		KeySchema:            []dynamodbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: dynamodbtypes.KeyTypeHash}},
		BillingMode:          dynamodbtypes.BillingModePayPerRequest,
		StreamSpecification: &dynamodbtypes.StreamSpecification{
			StreamEnabled: aws.Bool(true), StreamViewType: dynamodbtypes.StreamViewTypeNewAndOldImages,
		},
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(streamTable)})
	if err != nil {
		t.Fatalf("DescribeTable: %v", err)
	}
	streamArn := desc.Table.LatestStreamArn

	p := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	c := proxyClient(p, "AKIDTABLES", 3)
	streams := testenv.StreamsClientAt(p.URL, func(o *dynamodbstreams.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider("AKIDTABLES", "secret", "")
	})
	put := func(id string) dynamodbtypes.WriteRequest {
		return dynamodbtypes.WriteRequest{PutRequest: &dynamodbtypes.PutRequest{
			Item: map[string]dynamodbtypes.AttributeValue{"id": &dynamodbtypes.AttributeValueMemberS{Value: id}},
		}}
	}

	tests := []struct {
		name      string
		do        func() error
		wantOp    string
		wantTable string
	}{
		{"list tables", func() error { _, err := c.ListTables(ctx, &dynamodb.ListTablesInput{}); return err }, "ListTables", ""},
		{"describe table", func() error {
			_, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tableA)})
			return err
		}, "DescribeTable", tableA},
		{"batch write", func() error {
			_, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]dynamodbtypes.WriteRequest{
				tableB: {put("1")}, tableA: {put("1")},
			}})
			return err
		}, "BatchWriteItem", tableA + "," + tableB},
		{"describe stream", func() error {
			_, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: streamArn})
			return err
		}, "DescribeStream", streamTable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p.ResetRequests()
			if err := tc.do(); err != nil {
				t.Fatal(err)
			}
			got := p.Requests()
			if len(got) != 1 {
				t.Fatalf("recorded %+v, want one request", got)
			}
			want := testenv.Request{Operation: tc.wantOp, AccessKeyID: "AKIDTABLES", TableName: tc.wantTable, Status: 200}
			if got[0] != want {
				t.Errorf("recorded %+v, want %+v", got[0], want)
			}
		})
	}

	t.Run("deny one table of a batch", func(t *testing.T) {
		p.Deny("BatchWriteItem", tableB)
		defer p.Clear()
		_, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]dynamodbtypes.WriteRequest{
			tableB: {put("2")}, tableA: {put("2")},
		}})
		if code, _ := errorCode(err); code != "AccessDeniedException" {
			t.Fatalf("got %v, want AccessDeniedException", err)
		}
		var denied *dynamodbtypes.ResourceNotFoundException
		if errors.As(err, &denied) {
			t.Fatalf("got %T, want an access-denied error", err)
		}
	})
}

func TestProxySTS(t *testing.T) {
	tests := []struct {
		name     string
		rules    func(p *testenv.Proxy)
		calls    int // AssumeRole calls made
		wantCode string
		wantSent int // requests the proxy saw
	}{
		{name: "forwards", rules: func(p *testenv.Proxy) {}, calls: 1, wantSent: 1},
		{name: "deny", rules: func(p *testenv.Proxy) { p.Deny("AssumeRole", "") }, calls: 1, wantCode: "AccessDenied", wantSent: 1},
		{name: "throttle exhausts retries", rules: func(p *testenv.Proxy) { p.Throttle("AssumeRole", 1) }, calls: 1, wantCode: "Throttling", wantSent: 3},
		{name: "throttle every second is retried", rules: func(p *testenv.Proxy) { p.Throttle("AssumeRole", 2) }, calls: 2, wantSent: 3},
		{name: "status 503 is retried", rules: func(p *testenv.Proxy) { p.FailStatus("AssumeRole", 2, 503) }, calls: 2, wantSent: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testenv.Context(t, time.Minute)
			p := testenv.NewProxy(t, testenv.STSEndpoint(t))
			tc.rules(p)
			client := sts.NewFromConfig(testenv.Config(), func(o *sts.Options) {
				o.BaseEndpoint = aws.String(p.URL)
				o.Credentials = credentials.NewStaticCredentialsProvider("AKIDSTS", "secret", "")
				o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
					so.MaxAttempts = 3
					so.MaxBackoff = 5 * time.Millisecond
				})
			})
			var err error
			for i := 0; i < tc.calls && err == nil; i++ {
				var out *sts.AssumeRoleOutput
				out, err = client.AssumeRole(ctx, &sts.AssumeRoleInput{
					RoleArn:         aws.String("arn:aws:iam::123456789012:role/reader"),
					RoleSessionName: aws.String("proxy"),
				})
				if err == nil && (out.Credentials == nil || aws.ToString(out.Credentials.AccessKeyId) == "") {
					t.Fatalf("AssumeRole returned no credentials")
				}
			}
			code, _ := errorCode(err)
			if code != tc.wantCode || (tc.wantCode == "" && err != nil) {
				t.Fatalf("AssumeRole: got %v (code %q), want code %q", err, code, tc.wantCode)
			}
			reqs := p.Requests()
			if len(reqs) != tc.wantSent {
				t.Fatalf("recorded %+v, want %d requests", reqs, tc.wantSent)
			}
			for _, r := range reqs {
				if r.Operation != "AssumeRole" || r.AccessKeyID != "AKIDSTS" {
					t.Errorf("recorded %+v, want operation AssumeRole key AKIDSTS", r)
				}
			}
		})
	}
}

// TestProxyConcurrentRules changes rules while requests flow (run with -race).
func TestProxyConcurrentRules(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	client := testenv.DynamoDBClient(t)
	table := testenv.UniqueName(t, "c")
	createTable(t, client, table)
	if err := putItem(ctx, client, table, "k"); err != nil {
		t.Fatal(err)
	}
	p := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	c := proxyClient(p, "AKIDC", 10)

	const workers, perWorker = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range perWorker {
				if err := getItem(ctx, c, table, "k"); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := range 20 {
		p.Throttle("GetItem", 3)
		if i%2 == 0 {
			p.Clear()
		}
		_ = p.Requests()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("GetItem: %v", err)
	}
	ok := 0
	for _, r := range p.Requests() {
		if r.Operation == "GetItem" && r.Status == 200 {
			ok++
		}
	}
	if ok != workers*perWorker {
		t.Errorf("%d GetItem calls succeeded through the proxy, want %d", ok, workers*perWorker)
	}
}

func TestProxyThrottlingException(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	client := testenv.DynamoDBClient(t)
	table := testenv.UniqueName(t, "thr")
	createTable(t, client, table)
	p := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	p.Throttling("Scan", 1)
	err := scan(ctx, proxyClient(p, "AKIDTHR", 2), table)
	if code, status := errorCode(err); code != "ThrottlingException" || status != 400 {
		t.Fatalf("got %v (code %q, status %d), want ThrottlingException, 400", err, code, status)
	}
	got := p.Requests()
	if len(got) != 2 {
		t.Fatalf("recorded %+v, want 2 requests (the SDK retries a throttled request)", got)
	}
	for _, r := range got {
		if r.Operation != "Scan" || r.Status != 400 || !r.Injected || r.Fault != testenv.FaultThrottling {
			t.Errorf("recorded %+v, want Scan 400 injected with fault %s", r, testenv.FaultThrottling)
		}
	}
	if f := p.Faults(); f[testenv.FaultThrottling] != 2 || len(f) != 1 {
		t.Errorf("Faults() = %v, want %s: 2", f, testenv.FaultThrottling)
	}
}

func TestProxySlow(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	client := testenv.DynamoDBClient(t)
	table := testenv.UniqueName(t, "slow")
	createTable(t, client, table)
	if err := putItem(ctx, client, table, "k"); err != nil {
		t.Fatal(err)
	}
	const delay = 500 * time.Millisecond
	p := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	p.Slow("GetItem", 2, delay)
	c := proxyClient(p, "AKIDSLOW", 1)
	var took []time.Duration
	for range 2 {
		start := time.Now()
		if err := getItem(ctx, c, table, "k"); err != nil {
			t.Fatalf("GetItem through a slow answer: %v", err)
		}
		took = append(took, time.Since(start))
	}
	if took[0] >= delay || took[1] < delay {
		t.Errorf("GetItem took %v then %v; want the second, only, to take %v or more", took[0], took[1], delay)
	}
	got := p.Requests()
	want := []testenv.Request{
		{Operation: "GetItem", AccessKeyID: "AKIDSLOW", TableName: table, Status: 200},
		{Operation: "GetItem", AccessKeyID: "AKIDSLOW", TableName: table, Status: 200, Injected: true, Fault: testenv.FaultSlow},
	}
	if !slices.Equal(got, want) {
		t.Errorf("recorded %+v, want %+v", got, want)
	}
}

func TestProxyTruncated(t *testing.T) {
	ctx := testenv.Context(t, time.Minute)
	client := testenv.DynamoDBClient(t)
	table := testenv.UniqueName(t, "trunc")
	createTable(t, client, table)
	if err := putItem(ctx, client, table, "k"); err != nil {
		t.Fatal(err)
	}

	t.Run("sdk", func(t *testing.T) {
		p := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
		p.Truncate("GetItem", 1)
		err := getItem(ctx, proxyClient(p, "AKIDTRUNC", 1), table, "k")
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("GetItem with a truncated answer: got %v, want an unexpected EOF", err)
		}
		want := []testenv.Request{{Operation: "GetItem", AccessKeyID: "AKIDTRUNC", TableName: table, Status: 200, Injected: true, Fault: testenv.FaultTruncated}}
		if got := p.Requests(); !slices.Equal(got, want) {
			t.Errorf("recorded %+v, want %+v", got, want)
		}
	})

	t.Run("http", func(t *testing.T) {
		// Every second answer is truncated: the same Content-Length as a
		// whole answer, half the body, then the connection closed.
		p := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
		p.Truncate("ListTables", 2)
		hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		for i := range 2 {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
			req.Header.Set("Content-Type", "application/x-amz-json-1.0")
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.ContentLength <= 0 {
				t.Fatalf("request %d: Content-Length %d, want the length of a body", i, resp.ContentLength)
			}
			switch i {
			case 0:
				if err != nil || int64(len(body)) != resp.ContentLength {
					t.Errorf("whole answer: read %d of %d bytes, error %v", len(body), resp.ContentLength, err)
				}
			case 1:
				if !errors.Is(err, io.ErrUnexpectedEOF) || int64(len(body)) != resp.ContentLength/2 {
					t.Errorf("truncated answer: read %d of %d bytes, error %v; want half, then an unexpected EOF", len(body), resp.ContentLength, err)
				}
			}
		}
		got := p.Requests()
		if len(got) != 2 || got[0].Fault != "" || got[0].Injected || got[1].Fault != testenv.FaultTruncated || !got[1].Injected || got[1].Status != got[0].Status {
			t.Errorf("recorded %+v, want a whole answer then a truncated one of the same status", got)
		}
	})
}

// randomRun sends n GetItem requests, one at a time and each attempted
// once, through a new proxy with random faults f, and returns the faults
// they got, in order.
func randomRun(t *testing.T, ctx context.Context, table string, f testenv.RandomFaults, n int) []testenv.FaultKind {
	t.Helper()
	p := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
	seed := p.Random(f)
	if f.Seed != 0 && seed != f.Seed {
		t.Fatalf("Random returned seed %d, want %d", seed, f.Seed)
	}
	c := proxyClient(p, "AKIDRANDOM", 1)
	for range n {
		// A faulted request fails: it is attempted once.
		_ = getItem(ctx, c, table, "k")
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
	}
	var faults []testenv.FaultKind
	for _, r := range p.Requests() {
		wantStatus := map[testenv.FaultKind]int{
			"": 200, testenv.FaultSlow: 200, testenv.FaultTruncated: 200, testenv.FaultReset: 0,
			testenv.FaultThroughputExceeded: 400, testenv.FaultThrottling: 400,
			testenv.FaultStatus500: 500, testenv.FaultStatus503: 503,
		}
		if st, ok := wantStatus[r.Fault]; !ok || r.Status != st || r.Injected != (r.Fault != "") {
			t.Errorf("recorded %+v: want status %d, injected %v", r, st, r.Fault != "")
		}
		faults = append(faults, r.Fault)
	}
	if len(faults) != n {
		t.Fatalf("proxy recorded %d requests, want %d", len(faults), n)
	}
	return faults
}

func TestProxyRandomFaults(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	client := testenv.DynamoDBClient(t)
	table := testenv.UniqueName(t, "rnd")
	createTable(t, client, table)
	if err := putItem(ctx, client, table, "k"); err != nil {
		t.Fatal(err)
	}

	t.Run("rate kinds and seed", func(t *testing.T) {
		const n = 300
		f := testenv.RandomFaults{Rate: 0.3, Seed: 20240611, SlowMin: time.Millisecond, SlowMax: 3 * time.Millisecond}
		first := randomRun(t, ctx, table, f, n)
		second := randomRun(t, ctx, table, f, n)
		if !slices.Equal(first, second) {
			t.Errorf("the same seed gave other faults:\n%v\n%v", first, second)
		}
		kinds := map[testenv.FaultKind]int{}
		for _, k := range first {
			if k != "" {
				kinds[k]++
			}
		}
		faulted := 0
		for _, k := range testenv.RandomFaultKinds {
			if kinds[k] == 0 {
				t.Errorf("no %s fault in %d requests: %v", k, n, kinds)
			}
			faulted += kinds[k]
		}
		if faulted < n*15/100 || faulted > n*45/100 {
			t.Errorf("%d of %d requests faulted, want about 30%%", faulted, n)
		}
		t.Logf("%d of %d requests faulted: %v", faulted, n, kinds)
		other := f
		other.Seed = 7
		if third := randomRun(t, ctx, table, other, n); slices.Equal(first, third) {
			t.Errorf("seeds %d and %d gave the same faults", f.Seed, other.Seed)
		}
	})

	t.Run("seed from the environment", func(t *testing.T) {
		t.Setenv(testenv.EnvFaultSeed, "4242")
		p := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
		if seed := p.Random(testenv.RandomFaults{Rate: 0.1}); seed != 4242 {
			t.Errorf("Random used seed %d, want 4242 from %s", seed, testenv.EnvFaultSeed)
		}
	})

	t.Run("operations and clear", func(t *testing.T) {
		p := testenv.NewProxy(t, testenv.DynamoDBEndpoint(t))
		p.Random(testenv.RandomFaults{Rate: 1, Seed: 1, Ops: []string{"Scan"}, Kinds: []testenv.FaultKind{testenv.FaultStatus503}})
		c := proxyClient(p, "AKIDOPS", 1)
		if err := getItem(ctx, c, table, "k"); err != nil {
			t.Fatalf("GetItem is not among the faulted operations: %v", err)
		}
		if code, status := errorCode(scan(ctx, c, table)); code != "ServiceUnavailableException" || status != 503 {
			t.Fatalf("Scan: got code %q status %d, want ServiceUnavailableException 503", code, status)
		}
		p.Clear()
		if err := scan(ctx, c, table); err != nil {
			t.Fatalf("Scan after Clear: %v", err)
		}
		got := p.Faults()
		if len(got) != 1 || got[testenv.FaultStatus503] != 1 {
			t.Errorf("Faults() = %v, want one %s", got, testenv.FaultStatus503)
		}
	})
}
