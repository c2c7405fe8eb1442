// Package awssession builds the AWS configuration and clients every part of a
// sync shares: credentials (static keys, the standard AWS chain, or an
// assumed role that is refreshed before it expires), the region, a retry
// policy for long-running throttled work, an HTTP client sized for the
// configured parallelism and, optionally, an Observer told of every failed
// request attempt.
package awssession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/dynamosync/dynamosync/internal/config"
)

// Retry bounds shared by every client (see newRetryer).
const (
	// MaxAttempts is the number of attempts made for one request, the first
	// one included.
	MaxAttempts = 10
	// MaxBackoff is the longest wait between two attempts.
	MaxBackoff = 20 * time.Second
)

// Credential refresh settings.
const (
	// maxExpiryWindow is how long before expiry assumed-role credentials are
	// refreshed at most; shorter sessions refresh a quarter of their
	// duration early (see expiryWindow).
	maxExpiryWindow = 5 * time.Minute
	// expiryJitter spreads the refresh over the last part of the window: a
	// window of 5 minutes refreshes between 5 and 2.5 minutes before expiry.
	expiryJitter = 0.5
	// baseExpiryWindow is the refresh window of expiring credentials from
	// the standard chain (web identity, container and instance roles).
	baseExpiryWindow = time.Minute
)

// connectionHeadroom is the number of connections per host kept beyond
// MAX_PARALLEL_REQUESTS, for stream readers and credential refreshes.
const connectionHeadroom = 16

// Error reports that the AWS configuration or credentials could not be set
// up. It never contains a secret.
type Error struct {
	// Op is what failed: "load configuration", "retrieve credentials" or
	// "assume role".
	Op string
	// RoleARN is the role being assumed, set when Op is "assume role".
	RoleARN string
	// Err is the cause.
	Err error

	msg string // the cause's text, secrets removed
}

func newError(op, roleARN string, err error, secrets ...config.Secret) *Error {
	msg := err.Error()
	for _, s := range secrets {
		if len(s) >= 4 { // shorter values would redact innocent text
			msg = strings.ReplaceAll(msg, s.Reveal(), s.String())
		}
	}
	return &Error{Op: op, RoleARN: roleARN, Err: err, msg: msg}
}

// Error returns "aws: OP [ROLE]: cause".
func (e *Error) Error() string {
	if e.RoleARN != "" {
		return fmt.Sprintf("aws: %s %s: %s", e.Op, e.RoleARN, e.msg)
	}
	return fmt.Sprintf("aws: %s: %s", e.Op, e.msg)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// New builds the AWS configuration every client of a sync shares.
//
// Credentials are the static keys of the configuration when given, otherwise
// the standard AWS chain (environment, shared config and profiles, web
// identity, container and instance roles). With ROLE_ARN those base
// credentials assume the role through STS (at STS_ENDPOINT_URL when set),
// and the role's credentials are cached and refreshed shortly before they
// expire, so a sync may run longer than one role session.
//
// New retrieves the credentials once, so that missing credentials or a
// role that cannot be assumed are reported before any work starts; the
// error is an *Error naming the role.
func New(ctx context.Context, c *config.Config) (aws.Config, error) {
	return NewWithObserver(ctx, c, nil)
}

// NewWithObserver is New with an Observer told of every failed request
// attempt, throttled or not, of every client built from the configuration,
// and of the STS client that assumes ROLE_ARN. A nil Observer makes it New.
func NewWithObserver(ctx context.Context, c *config.Config, o Observer) (aws.Config, error) {
	if err := c.Validate(); err != nil {
		return aws.Config{}, err
	}
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(c.Region),
		awsconfig.WithRetryer(newRetryer),
		awsconfig.WithHTTPClient(newHTTPClient(c.MaxParallelRequests)),
		awsconfig.WithCredentialsCacheOptions(func(o *aws.CredentialsCacheOptions) {
			o.ExpiryWindow = baseExpiryWindow
			o.ExpiryWindowJitterFrac = expiryJitter
		}),
	}
	if c.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
			c.AccessKeyID, c.SecretAccessKey.Reveal(), c.SessionToken.Reveal())))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, newError("load configuration", "", err, secrets(c)...)
	}
	// The retry bound is fixed: AWS_MAX_ATTEMPTS and AWS_RETRY_MODE in the
	// environment do not override it.
	cfg.RetryMaxAttempts = 0
	cfg.RetryMode = ""
	if cfg.Credentials == nil {
		return aws.Config{}, &Error{Op: "retrieve credentials", Err: errNoCredentials, msg: errNoCredentials.Error()}
	}
	if o != nil {
		cfg.APIOptions = append(cfg.APIOptions, observeAttempts(o))
	}

	if c.RoleARN != "" {
		cfg.Credentials = roleCredentials(newSTS(cfg, c), c, cacheOptions(c.SessionDuration()))
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return aws.Config{}, e
		}
		if c.RoleARN != "" {
			return aws.Config{}, newError("assume role", c.RoleARN, err, secrets(c)...)
		}
		return aws.Config{}, newError("retrieve credentials", "", err, secrets(c)...)
	}
	return cfg, nil
}

var errNoCredentials = errors.New("no credentials found")

// secrets lists the configuration's secrets, to keep them out of messages.
func secrets(c *config.Config) []config.Secret {
	return []config.Secret{c.SecretAccessKey, c.SessionToken, c.ExternalID}
}

// DynamoDB returns a DynamoDB client; requests go to ENDPOINT_URL when set.
func DynamoDB(cfg aws.Config, c *config.Config) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if c.EndpointURL != "" {
			o.BaseEndpoint = aws.String(c.EndpointURL)
		}
	})
}

// Streams returns a DynamoDB Streams client; requests go to ENDPOINT_URL
// when set.
func Streams(cfg aws.Config, c *config.Config) *dynamodbstreams.Client {
	return dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) {
		if c.EndpointURL != "" {
			o.BaseEndpoint = aws.String(c.EndpointURL)
		}
	})
}

// newSTS returns the STS client that assumes the role with the base
// credentials of cfg.
func newSTS(cfg aws.Config, c *config.Config) *sts.Client {
	return sts.NewFromConfig(cfg, func(o *sts.Options) {
		if c.STSEndpointURL != "" {
			o.BaseEndpoint = aws.String(c.STSEndpointURL)
		}
	})
}

// roleCredentials returns cached credentials of the configured role, assumed
// through client.
func roleCredentials(client stscreds.AssumeRoleAPIClient, c *config.Config,
	cache func(*aws.CredentialsCacheOptions)) *aws.CredentialsCache {
	p := stscreds.NewAssumeRoleProvider(client, c.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = c.RoleSessionName
		o.Duration = c.SessionDuration()
		if c.ExternalID != "" {
			o.ExternalID = aws.String(c.ExternalID.Reveal())
		}
	})
	return aws.NewCredentialsCache(&roleProvider{inner: p, roleARN: c.RoleARN, secrets: secrets(c)}, cache)
}

// expiryWindow is how long before expiry credentials of a role session of
// duration d are refreshed: a quarter of the session, at most 5 minutes.
func expiryWindow(d time.Duration) time.Duration {
	return min(maxExpiryWindow, d/4)
}

func cacheOptions(d time.Duration) func(*aws.CredentialsCacheOptions) {
	return func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = expiryWindow(d)
		o.ExpiryWindowJitterFrac = expiryJitter
	}
}

// roleProvider makes AssumeRole failures, including those of later
// refreshes, name the role.
type roleProvider struct {
	inner   *stscreds.AssumeRoleProvider
	roleARN string
	secrets []config.Secret
}

// Retrieve assumes the role.
func (p *roleProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	creds, err := p.inner.Retrieve(ctx)
	if err != nil {
		return creds, newError("assume role", p.roleARN, err, p.secrets...)
	}
	return creds, nil
}

// ProviderSources reports the credential sources, as the SDK's providers do.
func (p *roleProvider) ProviderSources() []aws.CredentialSource {
	return p.inner.ProviderSources()
}

// throttlingCodes are the DynamoDB and STS error codes for throttling.
var throttlingCodes = map[string]struct{}{
	"ProvisionedThroughputExceededException": {},
	"ThrottlingException":                    {},
	"RequestLimitExceeded":                   {},
	"Throttling":                             {},
}

// newRetryer returns the retry policy of every client.
//
// A request is attempted at most MaxAttempts (10) times. Before each retry it
// waits a random time (full jitter) of up to min(base·2^i, MaxBackoff) for
// the i-th retry, where base is 1 s after a throttling error and 50 ms after
// other transient errors, and MaxBackoff is 20 s. A request that stays
// throttled therefore gives up after at most 9 waits totalling 111 s
// (1+2+4+8+16+20+20+20+20), plus the time of the attempts themselves; one
// that keeps failing otherwise waits at most about 26 s in total.
//
// Throttling errors (ProvisionedThroughputExceededException,
// ThrottlingException, RequestLimitExceeded) are retried along with the
// SDK's other transient errors (5xx, connection errors, timeouts) and
// answers cut short (see retryTruncated). There is no client-side retry
// quota, so a long stretch of throttling slows a sync down instead of
// failing it with "retry quota exceeded".
func newRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = MaxAttempts
		o.MaxBackoff = MaxBackoff
		o.RateLimiter = ratelimit.None
		o.Retryables = append(o.Retryables, retry.RetryableErrorCode{Codes: throttlingCodes}, retryTruncated)
		o.Throttles = append(o.Throttles, retry.ThrottleErrorCode{Codes: throttlingCodes})
	})
}

// retryTruncated retries an attempt whose answer ended before its
// Content-Length said: the connection closed while the body was read. The
// SDK reports that as a DeserializationError wrapping io.ErrUnexpectedEOF
// and does not retry it by itself. Every request of a sync is a read, so
// sending it again is safe.
var retryTruncated = retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return aws.TrueTernary
	}
	return aws.UnknownTernary
})

// newHTTPClient returns the HTTP client of every AWS client: it keeps a
// connection per permitted parallel request, plus headroom, open to each
// host, so parallel requests neither wait for nor keep re-opening
// connections.
func newHTTPClient(maxParallelRequests int) *awshttp.BuildableClient {
	perHost := maxParallelRequests + connectionHeadroom
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConnsPerHost = perHost
		tr.MaxConnsPerHost = 2 * perHost
		tr.MaxIdleConns = max(tr.MaxIdleConns, 3*perHost) // DynamoDB, Streams and STS hosts
	})
}
