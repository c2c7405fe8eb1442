package awssession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/dynamosync/dynamosync/internal/testenv"
)

// countingObserver records what an Observer is told, as
// "throttled OPERATION" and "failed OPERATION CODE" counts.
type countingObserver struct {
	mu     sync.Mutex
	counts map[string]int
}

func newCountingObserver() *countingObserver {
	return &countingObserver{counts: map[string]int{}}
}

func (o *countingObserver) Throttled(operation string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.counts["throttled "+operation]++
}

func (o *countingObserver) RequestFailed(operation, code string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.counts["failed "+operation+" "+code]++
}

func (o *countingObserver) snapshot() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.counts)
}

func assertCounts(t *testing.T, got, want map[string]int) {
	t.Helper()
	if len(want) == 0 && len(got) == 0 {
		return
	}
	if !maps.Equal(got, want) {
		t.Errorf("observer counts = %v, want %v", got, want)
	}
}

// TestObserverCountsFailedAttempts sends DynamoDB requests through a proxy
// that injects faults in front of moto, and checks that each failed attempt
// is reported once, throttled ones also as throttles.
func TestObserverCountsFailedAttempts(t *testing.T) {
	requireMoto(t)
	isolateEnv(t)

	tests := []struct {
		name  string
		rules func(p *testenv.Proxy)
		calls int
		// wantErr is the error code of the calls' failure, "" for success.
		wantErr string
		// requests is how many requests the proxy sees.
		requests int
		want     map[string]int
	}{
		{
			name:     "no faults",
			rules:    func(p *testenv.Proxy) {},
			calls:    2,
			requests: 2,
			want:     map[string]int{},
		},
		{
			// Requests 2, 4 and 6 are throttled and retried: 4 calls, 7 requests.
			name:     "every second request throttled",
			rules:    func(p *testenv.Proxy) { p.Throttle("ListTables", 2) },
			calls:    4,
			requests: 7,
			want: map[string]int{
				"throttled ListTables": 3,
				"failed ListTables ProvisionedThroughputExceededException": 3,
			},
		},
		{
			name:     "server errors",
			rules:    func(p *testenv.Proxy) { p.FailStatus("ListTables", 2, http.StatusInternalServerError) },
			calls:    2,
			requests: 3,
			want:     map[string]int{"failed ListTables InternalServerError": 1},
		},
		{
			name:     "service unavailable",
			rules:    func(p *testenv.Proxy) { p.FailStatus("ListTables", 2, http.StatusServiceUnavailable) },
			calls:    2,
			requests: 3,
			want:     map[string]int{"failed ListTables ServiceUnavailableException": 1},
		},
		{
			name:     "connection reset",
			rules:    func(p *testenv.Proxy) { p.Reset("ListTables", 2) },
			calls:    2,
			requests: 3,
			want:     map[string]int{"failed ListTables " + CodeConnection: 1},
		},
		{
			// Not retried: one attempt, one failure, no throttle.
			name:     "access denied",
			rules:    func(p *testenv.Proxy) { p.Deny("ListTables", "") },
			calls:    1,
			wantErr:  "AccessDeniedException",
			requests: 1,
			want:     map[string]int{"failed ListTables AccessDeniedException": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testenv.Context(t, time.Minute)
			p := testenv.NewProxy(t, moto.url)
			tt.rules(p)
			c := parse(t,
				kv("AWS_ACCESS_KEY_ID", baseKeyID),
				kv("AWS_SECRET_ACCESS_KEY", baseSecret),
				kv("ENDPOINT_URL", p.URL))
			obs := newCountingObserver()
			cfg, err := NewWithObserver(ctx, c, obs)
			if err != nil {
				t.Fatalf("NewWithObserver: %v", err)
			}
			client := DynamoDB(cfg, c)
			for i := range tt.calls {
				_, err := client.ListTables(ctx, &dynamodb.ListTablesInput{})
				if got := apiCode(err); got != tt.wantErr {
					t.Fatalf("ListTables #%d: error %v, want code %q", i+1, err, tt.wantErr)
				}
			}
			assertCounts(t, obs.snapshot(), tt.want)
			if got := p.Count("ListTables"); got != tt.requests {
				t.Errorf("proxy saw %d ListTables requests, want %d", got, tt.requests)
			}
		})
	}
}

func apiCode(err error) string {
	if err == nil {
		return ""
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return err.Error()
}

// TestObserverSeesAssumeRole checks that the STS client that assumes
// ROLE_ARN reports its failed attempts too.
func TestObserverSeesAssumeRole(t *testing.T) {
	requireMoto(t)
	isolateEnv(t)
	p := testenv.NewProxy(t, moto.url)
	p.Deny("AssumeRole", "")
	c := parse(t,
		kv("AWS_ACCESS_KEY_ID", baseKeyID),
		kv("AWS_SECRET_ACCESS_KEY", baseSecret),
		kv("ROLE_ARN", testRoleARN),
		kv("STS_ENDPOINT_URL", p.URL))
	obs := newCountingObserver()
	if _, err := NewWithObserver(testenv.Context(t, time.Minute), c, obs); err == nil {
		t.Fatal("NewWithObserver succeeded although AssumeRole is denied")
	}
	assertCounts(t, obs.snapshot(), map[string]int{"failed AssumeRole AccessDenied": 1})
}

// fakeHTTP answers every request with do.
type fakeHTTP func(*http.Request) (*http.Response, error)

func (f fakeHTTP) Do(r *http.Request) (*http.Response, error) { return f(r) }

// TestObserverTransportFailures checks the codes of attempts that got no
// answer from the service, and that attempts abandoned by the caller are
// not reported.
func TestObserverTransportFailures(t *testing.T) {
	isolateEnv(t)
	timeoutErr := &net.OpError{Op: "read", Net: "tcp", Err: timeoutError{}}
	tests := []struct {
		name   string
		do     fakeHTTP
		cancel bool
		want   map[string]int
	}{
		{
			name: "connection refused",
			do: func(*http.Request) (*http.Response, error) {
				return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
			},
			want: map[string]int{"failed ListTables " + CodeConnection: MaxAttempts},
		},
		{
			name: "timeout",
			do:   func(*http.Request) (*http.Response, error) { return nil, timeoutErr },
			want: map[string]int{"failed ListTables " + CodeTimeout: MaxAttempts},
		},
		{
			name: "undecodable answer",
			do: func(r *http.Request) (*http.Response, error) {
				return &http.Response{
					StatusCode: http.StatusOK,
					Header:     http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
					Body:       io.NopCloser(strings.NewReader("{not json")),
					Request:    r,
				}, nil
			},
			want: map[string]int{"failed ListTables " + CodeDeserialization: 1},
		},
		{
			name: "caller gives up",
			do: func(r *http.Request) (*http.Response, error) {
				<-r.Context().Done()
				return nil, r.Context().Err()
			},
			cancel: true,
			want:   map[string]int{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			c := parse(t,
				kv("AWS_ACCESS_KEY_ID", baseKeyID),
				kv("AWS_SECRET_ACCESS_KEY", baseSecret),
				kv("ENDPOINT_URL", "http://127.0.0.1:1"))
			obs := newCountingObserver()
			cfg, err := NewWithObserver(ctx, c, obs)
			if err != nil {
				t.Fatalf("NewWithObserver: %v", err)
			}
			cfg.HTTPClient = tt.do
			client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
				o.BaseEndpoint = &c.EndpointURL
				o.Retryer = noWait{o.Retryer}
			})
			if tt.cancel {
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			if _, err := client.ListTables(ctx, &dynamodb.ListTablesInput{}); err == nil {
				t.Fatal("ListTables succeeded")
			}
			assertCounts(t, obs.snapshot(), tt.want)
		})
	}
}

// noWait is a retry policy that retries at once, to keep tests short.
type noWait struct{ aws.Retryer }

func (noWait) RetryDelay(int, error) (time.Duration, error) { return 0, nil }

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// TestErrorCode covers the codes of errors as the SDK wraps them.
func TestErrorCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"api error", &smithy.GenericAPIError{Code: "ValidationException"}, "ValidationException"},
		{"wrapped api error", fmt.Errorf("op: %w", &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 400}},
			Err:      &smithy.GenericAPIError{Code: "ThrottlingException"},
		}), "ThrottlingException"},
		{"api error without code", &smithy.GenericAPIError{}, CodeOther},
		{"send error", &smithyhttp.RequestSendError{Err: errors.New("connection reset by peer")}, CodeConnection},
		{"send timeout", &smithyhttp.RequestSendError{Err: &net.OpError{Op: "read", Err: timeoutError{}}}, CodeTimeout},
		{"deserialization", &smithy.DeserializationError{Err: io.ErrUnexpectedEOF}, CodeDeserialization},
		{"other", errors.New("boom"), CodeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errorCode(tt.err); got != tt.want {
				t.Errorf("errorCode(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}
