// Package testenv runs the real services that a package's tests talk to:
// DynamoDB Local (AWS's own DynamoDB implementation), moto's STS server and a
// PostgreSQL server.
//
// A package that needs them calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m, testenv.DynamoDB, testenv.STS) }
//
// Each test binary starts its own processes on free ports, so packages whose
// tests run in parallel do not share state. PostgreSQL is the exception: it
// is not started but used where it runs (EnvPostgresURL), and each test gets
// a schema of its own from PostgresSchema. When a service cannot be started
// the tests that need it are skipped with the reason, unless the environment
// sets DYNAMOSYNC_REQUIRE_SERVICES=1: then the test binary fails at once.
package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
)

// Service is a real service that tests can ask Main to start.
type Service int

// Services Main can start.
const (
	// DynamoDB is DynamoDB Local, serving the DynamoDB and DynamoDB Streams APIs.
	DynamoDB Service = iota + 1
	// STS is moto's server, used for its STS API (AssumeRole).
	STS
	// Postgres is the PostgreSQL server at EnvPostgresURL. It is not
	// started: Main connects to it and runs SELECT 1, and the tests that
	// need it are skipped (or fail) when that does not succeed.
	Postgres
)

func (s Service) String() string {
	switch s {
	case DynamoDB:
		return "DynamoDB Local"
	case STS:
		return "moto STS"
	case Postgres:
		return "PostgreSQL"
	default:
		return fmt.Sprintf("Service(%d)", int(s))
	}
}

// Environment variables read by this package.
const (
	// EnvRequireServices, when "1", turns a service that cannot start into a
	// failure instead of a skip.
	EnvRequireServices = "DYNAMOSYNC_REQUIRE_SERVICES"
	// EnvDynamoDBLocalDir names the directory holding DynamoDBLocal.jar and
	// DynamoDBLocal_lib. Default: <repository root>/.cache/dynamodb-local.
	EnvDynamoDBLocalDir = "DYNAMODB_LOCAL_DIR"
)

// Static credentials and region that test clients use. Neither DynamoDB Local
// nor moto checks signatures, but both require a signed request.
const (
	AccessKeyID     = "test"
	SecretAccessKey = "test"
	Region          = "us-east-1"
)

// serviceState is what Main learned about one service.
type serviceState struct {
	requested bool
	endpoint  string // set when running
	reason    string // set when it could not start
}

var (
	stateMu  sync.Mutex
	services = map[Service]*serviceState{}
)

// RequireServices reports whether a service that cannot start must fail the
// tests rather than skip them.
func RequireServices() bool {
	return os.Getenv(EnvRequireServices) == "1"
}

// Main starts the services the package's tests need, waits until each
// answers, runs the tests, stops the services and exits with the tests'
// exit code. Call it from TestMain.
func Main(m *testing.M, needs ...Service) {
	os.Exit(Run(m, needs...))
}

// Run is Main without the exit: it starts the services, runs the tests,
// stops the services and returns the exit code for os.Exit, so TestMain can
// clean up its own things first. When a required service cannot start it
// returns 1 without running the tests.
func Run(m *testing.M, needs ...Service) int {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()

	var procs []*process
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()

	seen := map[Service]bool{}
	for _, s := range needs {
		if seen[s] {
			continue
		}
		seen[s] = true
		st := &serviceState{requested: true}
		var err error
		if s == Postgres {
			st.endpoint, err = checkPostgres(ctx)
			if err != nil {
				st.reason = fmt.Sprintf("%v is not available: %v", s, err)
			}
		} else {
			var p *process
			if p, err = start(ctx, s); err != nil {
				st.reason = fmt.Sprintf("%v could not start: %v", s, err)
			} else {
				procs = append(procs, p)
				st.endpoint = p.endpoint
			}
		}
		if err != nil && RequireServices() {
			fmt.Fprintf(os.Stderr, "testenv: %s (%s=1)\n", st.reason, EnvRequireServices)
			return 1
		}
		stateMu.Lock()
		services[s] = st
		stateMu.Unlock()
	}
	return m.Run()
}

// endpoint returns the endpoint of a running service or ends the test.
func endpoint(t testing.TB, s Service) string {
	t.Helper()
	stateMu.Lock()
	st := services[s]
	stateMu.Unlock()
	switch {
	case st == nil || !st.requested:
		t.Fatalf("testenv: %v was not requested: add it to testenv.Main in this package's TestMain", s)
	case st.endpoint != "":
		return st.endpoint
	case RequireServices():
		t.Fatalf("testenv: %s", st.reason)
	default:
		t.Skipf("testenv: %s (set %s=1 to fail instead)", st.reason, EnvRequireServices)
	}
	return ""
}

// DynamoDBEndpoint returns the URL of this package's DynamoDB Local, e.g.
// "http://127.0.0.1:41234". It skips (or fails, see RequireServices) the test
// when DynamoDB Local is not running.
func DynamoDBEndpoint(t testing.TB) string {
	t.Helper()
	return endpoint(t, DynamoDB)
}

// OwnDynamoDBEndpoint starts a DynamoDB Local for the calling test alone,
// stopped when the test ends, and returns its URL. It is for tests that
// would slow the package's shared DynamoDB Local down for the tests after
// them (its writes grow several times slower once a stream has been
// disabled and enabled again) or that many tables before them would slow
// down. It skips (or fails) the test as DynamoDBEndpoint does.
func OwnDynamoDBEndpoint(t testing.TB) string {
	t.Helper()
	endpoint(t, DynamoDB) // requested, and able to start
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	p, err := start(ctx, DynamoDB)
	if err != nil {
		t.Fatalf("testenv: a DynamoDB Local of the test's own could not start: %v", err)
	}
	t.Cleanup(p.stop)
	return p.endpoint
}

// STSEndpoint returns the URL of this package's moto server. It skips (or
// fails, see RequireServices) the test when moto is not running.
func STSEndpoint(t testing.TB) string {
	t.Helper()
	return endpoint(t, STS)
}

// Config returns an AWS configuration with the static test credentials and
// region. Clients built from it need an endpoint (BaseEndpoint).
func Config() aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
	}
}

// DynamoDBClient returns a client for this package's DynamoDB Local.
func DynamoDBClient(t testing.TB) *dynamodb.Client {
	t.Helper()
	return DynamoDBClientAt(DynamoDBEndpoint(t))
}

// DynamoDBClientAt returns a DynamoDB client with the test credentials that
// sends its requests to endpoint (DynamoDB Local or a Proxy in front of it).
func DynamoDBClientAt(endpoint string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	opts := append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	}}, optFns...)
	return dynamodb.NewFromConfig(Config(), opts...)
}

// StreamsClient returns a DynamoDB Streams client for this package's
// DynamoDB Local.
func StreamsClient(t testing.TB) *dynamodbstreams.Client {
	t.Helper()
	return StreamsClientAt(DynamoDBEndpoint(t))
}

// StreamsClientAt returns a DynamoDB Streams client with the test credentials
// that sends its requests to endpoint.
func StreamsClientAt(endpoint string, optFns ...func(*dynamodbstreams.Options)) *dynamodbstreams.Client {
	opts := append([]func(*dynamodbstreams.Options){func(o *dynamodbstreams.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	}}, optFns...)
	return dynamodbstreams.NewFromConfig(Config(), opts...)
}

var (
	nameSeq     atomic.Int64
	nameInvalid = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)
)

// UniqueName returns a valid DynamoDB table name that starts with prefix and
// no other call in this test binary returns: prefix, a short form of the
// test's name and a sequence number, e.g. "orders.TestScan-7".
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	n := nameSeq.Add(1)
	test := nameInvalid.ReplaceAllString(t.Name(), "_")
	if len(test) > 64 {
		test = test[len(test)-64:]
	}
	suffix := fmt.Sprintf("-%d", n)
	name := prefix
	if name != "" && !strings.HasSuffix(name, ".") && !strings.HasSuffix(name, "-") && !strings.HasSuffix(name, "_") {
		name += "."
	}
	name += test
	if max := 255 - len(suffix); len(name) > max {
		name = name[:max]
	}
	return name + suffix
}

// RepoRoot returns the directory holding the module's go.mod, found by
// walking up from the working directory (a test's package directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Context returns a context that ends with the test (or after timeout,
// whichever is first).
func Context(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	return ctx
}
