package awssession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/dynamosync/dynamosync/internal/config"
)

// Values of the test configurations. The secrets must never be printed.
const (
	baseKeyID    = "AKIDBASEEXAMPLE1"
	baseSecret   = "base-secret-4f1c9e2a7b"
	baseToken    = "base-session-token-93ab"
	externalID   = "ext-id-5d2e8f"
	testRoleARN  = "arn:aws:iam::123456789012:role/dynamosync-reader"
	sessionName  = "nightly-sync@test"
	motoAccount  = "123456789012"
	assumedARNfx = "arn:aws:sts::%s:assumed-role/dynamosync-reader/%s"
)

// isolateEnv hides the environment's AWS settings (credentials, profiles,
// instance metadata) from the standard credential chain for one test.
func isolateEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "AWS_") {
			t.Setenv(name, "")
			_ = os.Unsetenv(name)
		}
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// parse builds a validated configuration from JSON members.
func parse(t *testing.T, members ...string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte("{" + strings.Join(append([]string{`"REGION": "us-east-1"`}, members...), ", ") + "}"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func kv(key, value string) string { return fmt.Sprintf("%q: %q", key, value) }

// roleConfig is a configuration with base keys that assumes testRoleARN
// through moto's STS.
func roleConfig(t *testing.T, members ...string) *config.Config {
	t.Helper()
	return parse(t, append([]string{
		kv("AWS_ACCESS_KEY_ID", baseKeyID),
		kv("AWS_SECRET_ACCESS_KEY", baseSecret),
		kv("AWS_SESSION_TOKEN", baseToken),
		kv("ROLE_ARN", testRoleARN),
		kv("STS_ENDPOINT_URL", moto.url),
	}, members...)...)
}

// assertNoSecret fails when s contains a secret of the test configurations,
// without printing it.
func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{baseSecret, baseToken, externalID} {
		if strings.Contains(s, secret) {
			t.Errorf("%s contains a secret value", what)
		}
	}
}

func TestAssumeRole(t *testing.T) {
	requireMoto(t)
	isolateEnv(t)
	recordRequests(t)
	ctx := context.Background()
	c := roleConfig(t,
		kv("EXTERNAL_ID", externalID),
		kv("ROLE_SESSION_NAME", sessionName),
		kv("SESSION_DURATION_SECONDS", "1800"))

	cfg, err := New(ctx, c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	start := time.Now()
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatalf("retrieve credentials: %v", err)
	}
	if creds.AccessKeyID == "" || creds.AccessKeyID == baseKeyID {
		t.Errorf("AccessKeyID = %q, want a key issued by STS", creds.AccessKeyID)
	}
	if creds.SessionToken == "" || creds.SessionToken == baseToken {
		t.Error("no session token issued by STS")
	}
	if creds.SecretAccessKey == "" || creds.SecretAccessKey == baseSecret {
		t.Error("no secret access key issued by STS")
	}
	if !creds.CanExpire {
		t.Error("assumed-role credentials do not expire")
	}
	// STS grants 1800 s; the cache refreshes 2.5 to 5 minutes before that.
	window := expiryWindow(30 * time.Minute)
	earliest := start.Add(30*time.Minute - window - 5*time.Second)
	latest := time.Now().Add(30*time.Minute - time.Duration(float64(window)*(1-expiryJitter)) + 5*time.Second)
	if creds.Expires.Before(earliest) || creds.Expires.After(latest) {
		t.Errorf("cached credentials expire at %v, want between %v and %v", creds.Expires, earliest, latest)
	}

	// The assumed identity carries the session name.
	client := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(moto.url) })
	id, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity with the assumed credentials: %v", err)
	}
	if want := fmt.Sprintf(assumedARNfx, motoAccount, sessionName); aws.ToString(id.Arn) != want {
		t.Errorf("caller ARN = %q, want %q", aws.ToString(id.Arn), want)
	}

	// STS received the role, external ID, session name and duration.
	calls := recordedCalls(t, "AssumeRole")
	if len(calls) != 1 {
		t.Fatalf("STS received %d AssumeRole requests, want 1", len(calls))
	}
	call := calls[0]
	for param, want := range map[string]string{
		"RoleArn":         testRoleARN,
		"RoleSessionName": sessionName,
		"DurationSeconds": "1800",
	} {
		if got := call.Get(param); got != want {
			t.Errorf("AssumeRole %s = %q, want %q", param, got, want)
		}
	}
	if call.Get("ExternalId") != externalID {
		t.Errorf("AssumeRole ExternalId is not the configured EXTERNAL_ID (%d bytes received)", len(call.Get("ExternalId")))
	}
}

func TestAssumeRoleWithoutExternalID(t *testing.T) {
	requireMoto(t)
	isolateEnv(t)
	recordRequests(t)
	if _, err := New(context.Background(), roleConfig(t)); err != nil {
		t.Fatalf("New: %v", err)
	}
	calls := recordedCalls(t, "AssumeRole")
	if len(calls) != 1 {
		t.Fatalf("STS received %d AssumeRole requests, want 1", len(calls))
	}
	if _, ok := calls[0]["ExternalId"]; ok {
		t.Error("AssumeRole sent an ExternalId although none is configured")
	}
	if got := calls[0].Get("RoleSessionName"); got != "dynamosync" {
		t.Errorf("RoleSessionName = %q, want the default dynamosync", got)
	}
	if got := calls[0].Get("DurationSeconds"); got != "3600" {
		t.Errorf("DurationSeconds = %q, want the default 3600", got)
	}
}

// TestRoleCredentialsRefresh proves that credentials are assumed anew once
// the cache's expiry window is reached. The window is set 2 s short of the
// session so that the cached credentials expire 2 s after they are issued.
func TestRoleCredentialsRefresh(t *testing.T) {
	requireMoto(t)
	isolateEnv(t)
	ctx := context.Background()
	c := roleConfig(t, kv("SESSION_DURATION_SECONDS", "900"))
	base := *c
	base.RoleARN = ""
	baseCfg, err := New(ctx, &base)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	recordRequests(t)
	cache := roleCredentials(newSTS(baseCfg, c), c, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = c.SessionDuration() - 2*time.Second
		o.ExpiryWindowJitterFrac = 0
	})

	first, err := cache.Retrieve(ctx)
	if err != nil {
		t.Fatalf("retrieve: %v", err)
	}
	if left := time.Until(first.Expires); left <= 0 || left > 5*time.Second {
		t.Fatalf("cached credentials expire in %v, want about 2s", left)
	}
	again, err := cache.Retrieve(ctx)
	if err != nil {
		t.Fatalf("retrieve: %v", err)
	}
	if again.AccessKeyID != first.AccessKeyID {
		t.Errorf("credentials changed within the window: %q then %q", first.AccessKeyID, again.AccessKeyID)
	}

	time.Sleep(time.Until(first.Expires) + 100*time.Millisecond)
	second, err := cache.Retrieve(ctx)
	if err != nil {
		t.Fatalf("retrieve after expiry: %v", err)
	}
	if second.AccessKeyID == first.AccessKeyID {
		t.Errorf("credentials were not refreshed after the expiry window: still %q", first.AccessKeyID)
	}
	if !second.Expires.After(first.Expires) {
		t.Errorf("refreshed credentials expire at %v, not after %v", second.Expires, first.Expires)
	}
	if n := len(recordedCalls(t, "AssumeRole")); n != 2 {
		t.Errorf("STS received %d AssumeRole requests, want 2", n)
	}
}

func TestAssumeRoleFailure(t *testing.T) {
	requireMoto(t)
	tests := []struct {
		name     string
		endpoint string
		timeout  time.Duration
		cause    string
	}{
		{"endpoint that is not STS", moto.url + "/not-sts", time.Minute, "StatusCode: 404"},
		{"unreachable endpoint", "http://127.0.0.1:1", 2 * time.Second, "context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateEnv(t)
			c := roleConfig(t, kv("EXTERNAL_ID", externalID))
			c.STSEndpointURL = tt.endpoint
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			_, err := New(ctx, c)
			if err == nil {
				t.Fatal("New succeeded")
			}
			msg := err.Error()
			assertNoSecret(t, "the error", msg)
			assertNoSecret(t, "the error's %+v", fmt.Sprintf("%+v %#v", err, err))
			var e *Error
			if !errors.As(err, &e) || e.Op != "assume role" || e.RoleARN != testRoleARN {
				t.Fatalf("error %q is not an assume-role *Error for the role", msg)
			}
			if !strings.HasPrefix(msg, "aws: assume role "+testRoleARN+": ") {
				t.Errorf("error %q does not name the role first", msg)
			}
			if !strings.Contains(msg, tt.cause) {
				t.Errorf("error %q does not give the cause %q", msg, tt.cause)
			}
		})
	}
}

func TestStaticCredentials(t *testing.T) {
	isolateEnv(t)
	ctx := context.Background()
	c := parse(t, kv("AWS_ACCESS_KEY_ID", baseKeyID), kv("AWS_SECRET_ACCESS_KEY", baseSecret), kv("AWS_SESSION_TOKEN", baseToken))
	cfg, err := New(ctx, c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if cfg.Region != "us-east-1" {
		t.Errorf("Region = %q", cfg.Region)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID != baseKeyID || creds.SecretAccessKey != baseSecret || creds.SessionToken != baseToken {
		t.Errorf("credentials are not the configured keys (AccessKeyID %q)", creds.AccessKeyID)
	}
	if _, ok := cfg.Credentials.(*aws.CredentialsCache); !ok {
		t.Errorf("credentials provider is a %T, want a cache", cfg.Credentials)
	}
}

func TestStandardCredentialChain(t *testing.T) {
	ctx := context.Background()
	t.Run("environment", func(t *testing.T) {
		isolateEnv(t)
		t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENVIRONMENT")
		t.Setenv("AWS_SECRET_ACCESS_KEY", baseSecret)
		cfg, err := New(ctx, parse(t))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		creds, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if creds.AccessKeyID != "AKIDFROMENVIRONMENT" {
			t.Errorf("AccessKeyID = %q, want the environment's", creds.AccessKeyID)
		}
	})
	t.Run("shared credentials profile", func(t *testing.T) {
		isolateEnv(t)
		file := filepath.Join(t.TempDir(), "credentials")
		content := "[sync]\naws_access_key_id = AKIDFROMPROFILE\naws_secret_access_key = " + baseSecret + "\n"
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
		t.Setenv("AWS_PROFILE", "sync")
		cfg, err := New(ctx, parse(t))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		creds, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if creds.AccessKeyID != "AKIDFROMPROFILE" {
			t.Errorf("AccessKeyID = %q, want the profile's", creds.AccessKeyID)
		}
	})
	t.Run("environment assumes role", func(t *testing.T) {
		requireMoto(t)
		isolateEnv(t)
		t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENVIRONMENT")
		t.Setenv("AWS_SECRET_ACCESS_KEY", baseSecret)
		cfg, err := New(ctx, parse(t, kv("ROLE_ARN", testRoleARN), kv("STS_ENDPOINT_URL", moto.url)))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		creds, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if creds.AccessKeyID == "AKIDFROMENVIRONMENT" || creds.SessionToken == "" {
			t.Errorf("credentials were not assumed from the role (AccessKeyID %q)", creds.AccessKeyID)
		}
	})
	t.Run("no credentials anywhere", func(t *testing.T) {
		isolateEnv(t)
		_, err := New(ctx, parse(t))
		var e *Error
		if !errors.As(err, &e) || e.Op != "retrieve credentials" {
			t.Fatalf("error %v is not a retrieve-credentials *Error", err)
		}
		if !strings.HasPrefix(err.Error(), "aws: retrieve credentials: ") {
			t.Errorf("error = %q", err)
		}
	})
}

func TestNewRejectsInvalidConfiguration(t *testing.T) {
	c := parse(t)
	c.Region = ""
	_, err := New(context.Background(), c)
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Key != "REGION" {
		t.Fatalf("error %v is not about REGION", err)
	}
}

func TestClientsUseEndpoint(t *testing.T) {
	requireMoto(t)
	isolateEnv(t)
	ctx := context.Background()
	c := parse(t, kv("AWS_ACCESS_KEY_ID", baseKeyID), kv("AWS_SECRET_ACCESS_KEY", baseSecret), kv("ENDPOINT_URL", moto.url))
	cfg, err := New(ctx, c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}

	db := DynamoDB(cfg, c)
	if got := aws.ToString(db.Options().BaseEndpoint); got != moto.url {
		t.Errorf("DynamoDB BaseEndpoint = %q, want %q", got, moto.url)
	}
	if _, err := db.ListTables(ctx, nil); err != nil {
		t.Errorf("ListTables at ENDPOINT_URL: %v", err)
	}
	streams := Streams(cfg, c)
	if got := aws.ToString(streams.Options().BaseEndpoint); got != moto.url {
		t.Errorf("Streams BaseEndpoint = %q, want %q", got, moto.url)
	}
	if _, err := streams.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{}); err != nil {
		t.Errorf("ListStreams at ENDPOINT_URL: %v", err)
	}

	plain := parse(t, kv("AWS_ACCESS_KEY_ID", baseKeyID), kv("AWS_SECRET_ACCESS_KEY", baseSecret))
	if ep := DynamoDB(cfg, plain).Options().BaseEndpoint; ep != nil {
		t.Errorf("DynamoDB BaseEndpoint = %q without ENDPOINT_URL", *ep)
	}
	if ep := Streams(cfg, plain).Options().BaseEndpoint; ep != nil {
		t.Errorf("Streams BaseEndpoint = %q without ENDPOINT_URL", *ep)
	}
}

func TestClientsRetryPolicy(t *testing.T) {
	isolateEnv(t)
	// The environment cannot change the retry bound.
	t.Setenv("AWS_MAX_ATTEMPTS", "2")
	t.Setenv("AWS_RETRY_MODE", "adaptive")
	c := parse(t, kv("AWS_ACCESS_KEY_ID", baseKeyID), kv("AWS_SECRET_ACCESS_KEY", baseSecret), kv("MAX_PARALLEL_REQUESTS", "200"))
	cfg, err := New(context.Background(), c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got := DynamoDB(cfg, c).Options().Retryer.MaxAttempts(); got != MaxAttempts {
		t.Errorf("DynamoDB client makes %d attempts, want %d", got, MaxAttempts)
	}
	if got := Streams(cfg, c).Options().Retryer.MaxAttempts(); got != MaxAttempts {
		t.Errorf("Streams client makes %d attempts, want %d", got, MaxAttempts)
	}
	hc, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		t.Fatalf("HTTP client is a %T", cfg.HTTPClient)
	}
	tr := hc.GetTransport()
	if tr.MaxIdleConnsPerHost < 200 || (tr.MaxConnsPerHost != 0 && tr.MaxConnsPerHost < 200) || tr.MaxIdleConns < 200 {
		t.Errorf("transport keeps too few connections for 200 parallel requests: idle/host %d, conns/host %d, idle %d",
			tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost, tr.MaxIdleConns)
	}
}

func TestRetryer(t *testing.T) {
	r := newRetryer()
	if r.MaxAttempts() != MaxAttempts {
		t.Errorf("MaxAttempts() = %d, want %d", r.MaxAttempts(), MaxAttempts)
	}
	for _, code := range []string{"ProvisionedThroughputExceededException", "ThrottlingException",
		"RequestLimitExceeded", "RequestTimeout", "RequestTimeoutException"} {
		t.Run(code, func(t *testing.T) {
			err := &smithy.GenericAPIError{Code: code}
			if !r.IsErrorRetryable(err) {
				t.Errorf("%s is not retried", code)
			}
			for attempt := 1; attempt <= 50; attempt++ {
				d, derr := r.RetryDelay(attempt, err)
				if derr != nil || d < 0 || d > MaxBackoff {
					t.Fatalf("delay before retry %d = %v, %v; want within [0, %v]", attempt, d, derr, MaxBackoff)
				}
			}
		})
	}
	for _, code := range []string{"ValidationException", "ResourceNotFoundException", "AccessDeniedException"} {
		t.Run(code, func(t *testing.T) {
			if r.IsErrorRetryable(&smithy.GenericAPIError{Code: code}) {
				t.Errorf("%s is retried", code)
			}
		})
	}
	t.Run("truncated answer", func(t *testing.T) {
		err := &smithy.DeserializationError{Err: fmt.Errorf("failed to decode response body, %w", io.ErrUnexpectedEOF)}
		if !r.IsErrorRetryable(&smithy.OperationError{ServiceID: "DynamoDB", OperationName: "Scan", Err: err}) {
			t.Errorf("an answer cut short is not retried")
		}
	})
	t.Run("no retry quota", func(t *testing.T) {
		// The SDK's default quota (500 tokens, 5 per throttled retry) would
		// refuse retries after 100 throttles.
		throttled := &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException"}
		for i := 0; i < 10000; i++ {
			if _, err := r.GetRetryToken(context.Background(), throttled); err != nil {
				t.Fatalf("retry %d refused: %v", i, err)
			}
		}
	})
}

func TestExpiryWindow(t *testing.T) {
	tests := []struct {
		duration, want time.Duration
	}{
		{15 * time.Minute, 225 * time.Second},
		{20 * time.Minute, 5 * time.Minute},
		{time.Hour, 5 * time.Minute},
		{12 * time.Hour, 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.duration.String(), func(t *testing.T) {
			if got := expiryWindow(tt.duration); got != tt.want {
				t.Errorf("expiryWindow(%v) = %v, want %v", tt.duration, got, tt.want)
			}
			var o aws.CredentialsCacheOptions
			cacheOptions(tt.duration)(&o)
			if o.ExpiryWindow != tt.want || o.ExpiryWindowJitterFrac <= 0 || o.ExpiryWindowJitterFrac >= 1 {
				t.Errorf("cache options = %+v", o)
			}
		})
	}
}

func TestErrorRedactsSecrets(t *testing.T) {
	secret := config.Secret(baseSecret)
	cause := errors.New("request signed with " + baseSecret + " failed")
	err := newError("assume role", testRoleARN, cause, secret, "", "abc")
	assertNoSecret(t, "Error()", err.Error())
	if want := "aws: assume role " + testRoleARN + ": request signed with [REDACTED] failed"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	if !errors.Is(err, cause) {
		t.Error("Unwrap does not return the cause")
	}
}
